/**
 * Browser sessions and the single-use login states of the OIDC flow.
 *
 * A login state is consumed by a conditional delete: the delete that removes the row is the one caller
 * that gets `true`, so a replayed callback loses even when it races the original.
 */
import { and, eq, gt, isNull, lte } from 'drizzle-orm'
import type { Db } from './db.ts'
import { loginStates, sessions } from './schema.ts'

export function createSessionStore(options: { db: Db }) {
  const { db } = options

  async function saveLoginState(key: string, expiresAt: number): Promise<void> {
    await db.insert(loginStates).values({ key, expiresAt: new Date(expiresAt) })
  }

  async function consumeLoginState(key: string, now: number): Promise<boolean> {
    const rows = await db
      .delete(loginStates)
      .where(and(eq(loginStates.key, key), gt(loginStates.expiresAt, new Date(now))))
      .returning({ key: loginStates.key })
    return rows.length === 1
  }

  async function createSession(input: { id: string; identityId: string; expiresAt: number }, now: number) {
    await db.insert(sessions).values({
      id: input.id,
      identityId: input.identityId,
      createdAt: new Date(now),
      expiresAt: new Date(input.expiresAt),
    })
  }

  async function isSessionLive(id: string, now: number): Promise<boolean> {
    const rows = await db
      .select({ id: sessions.id })
      .from(sessions)
      .where(and(eq(sessions.id, id), isNull(sessions.endedAt), gt(sessions.expiresAt, new Date(now))))
    return rows.length === 1
  }

  async function endSession(id: string, now: number): Promise<void> {
    await db
      .update(sessions)
      .set({ endedAt: new Date(now) })
      .where(and(eq(sessions.id, id), isNull(sessions.endedAt)))
  }

  /** Housekeeping for the sweep: expired login states and sessions are dead weight. */
  async function deleteExpired(now: number): Promise<void> {
    const at = new Date(now)
    await db.delete(loginStates).where(lte(loginStates.expiresAt, at))
    await db.delete(sessions).where(lte(sessions.expiresAt, at))
  }

  return { saveLoginState, consumeLoginState, createSession, isSessionLive, endSession, deleteExpired }
}
