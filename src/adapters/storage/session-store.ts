/**
 * Browser sessions with their claims, and the used login states of the OIDC flow.
 *
 * A login state is marked used by an insert that does nothing on conflict: the insert that adds the row
 * is the one caller that gets `true`, so a replayed callback loses even when it races the original.
 * Nothing is written for a sign-in that has not been verified by the IdP.
 */
import { and, eq, gt, isNull, lte, type SQL, sql } from 'drizzle-orm'
import type { AuthFacts } from '../../core/model.ts'
import type { NewSession, SessionRecord } from '../../core/ports.ts'
import type { Db } from './db.ts'
import { isUuid } from './row-values.ts'
import { loginStates, sessions } from './schema.ts'
import { seenLogoutTokens } from './schema-lifecycle.ts'

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

  async function isLoginStateUsed(key: string, now: number): Promise<boolean> {
    const rows = await db
      .select({ key: loginStates.key })
      .from(loginStates)
      .where(and(eq(loginStates.key, key), gt(loginStates.expiresAt, new Date(now))))
    return rows.length === 1
  }

  async function markLoginStateUsed(key: string, expiresAt: number): Promise<boolean> {
    const rows = await db
      .insert(loginStates)
      .values({ key, expiresAt: new Date(expiresAt) })
      .onConflictDoNothing()
      .returning({ key: loginStates.key })
    return rows.length === 1
  }

  async function createSession(input: NewSession, now: number) {
    await db.insert(sessions).values({
      id: input.id,
      identityId: input.identityId,
      createdAt: new Date(now),
      expiresAt: new Date(input.expiresAt),
      claims: input.claims,
      idpSid: input.idpSid ?? null,
      refreshTokenCiphertext: input.refreshTokenCiphertext ?? null,
    })
  }

  async function readSession(id: string, now: number) {
    const rows = await db
      .select({ claims: sessions.claims, expiresAt: sessions.expiresAt })
      .from(sessions)
      .where(and(eq(sessions.id, id), isNull(sessions.endedAt), gt(sessions.expiresAt, new Date(now))))
    const row = rows[0]
    if (row === undefined || row.claims === null) return null
    return { ...row.claims, id, expiresAt: row.expiresAt.getTime() }
  }

  async function updateSessionAuth(id: string, auth: AuthFacts): Promise<void> {
    await db
      .update(sessions)
      .set({ claims: sql`jsonb_set(${sessions.claims}, '{auth}', ${JSON.stringify(auth)}::jsonb)` })
      .where(eq(sessions.id, id))
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
      .set({ endedAt: new Date(now), refreshTokenCiphertext: null })
      .where(and(eq(sessions.id, id), isNull(sessions.endedAt)))
  }

  async function getSession(id: string): Promise<SessionRecord | null> {
    const [row] = await db.select().from(sessions).where(eq(sessions.id, id))
    if (row === undefined) return null
    return {
      id: row.id,
      identityId: row.identityId,
      expiresAt: row.expiresAt.getTime(),
      endedAt: row.endedAt?.getTime() ?? null,
      idpSid: row.idpSid,
      refreshTokenCiphertext: row.refreshTokenCiphertext,
    }
  }

  async function setSessionRefreshToken(id: string, refreshTokenCiphertext: string): Promise<void> {
    await db
      .update(sessions)
      .set({ refreshTokenCiphertext })
      .where(and(eq(sessions.id, id), isNull(sessions.endedAt)))
  }

  async function endSessions(
    match:
      | { identityId: string; idpSid?: string }
      | { issuer: string; subject: string | null; idpSid: string | null },
    now: number,
  ): Promise<Array<{ id: string; identityId: string }>> {
    const live = and(isNull(sessions.endedAt), gt(sessions.expiresAt, new Date(now)))
    let which: SQL | undefined
    if ('identityId' in match) {
      if (!isUuid(match.identityId)) return []
      which = and(
        eq(sessions.identityId, match.identityId),
        match.idpSid === undefined ? undefined : eq(sessions.idpSid, match.idpSid),
      )
    } else {
      if (match.subject === null && match.idpSid === null) return []
      // A sid is the IdP's own: only sessions of that issuer's identities can carry it.
      which = and(
        sql`${sessions.identityId} IN (SELECT id FROM identities WHERE issuer = ${match.issuer}
          ${match.subject === null ? sql`` : sql`AND subject = ${match.subject}`})`,
        match.idpSid === null ? undefined : eq(sessions.idpSid, match.idpSid),
      )
    }
    // The refresh token goes with the session: nothing should ask the IdP on its behalf any more.
    return db
      .update(sessions)
      .set({ endedAt: new Date(now), refreshTokenCiphertext: null })
      .where(and(which, live))
      .returning({ id: sessions.id, identityId: sessions.identityId })
  }

  async function rememberLogoutToken(key: string, expiresAt: number, now: number): Promise<boolean> {
    await db.delete(seenLogoutTokens).where(lte(seenLogoutTokens.expiresAt, new Date(now)))
    const rows = await db
      .insert(seenLogoutTokens)
      .values({ key, expiresAt: new Date(expiresAt) })
      .onConflictDoNothing()
      .returning({ key: seenLogoutTokens.key })
    return rows.length === 1
  }

  /** Housekeeping for the sweep: expired login states and sessions are dead weight. */
  async function deleteExpired(now: number): Promise<void> {
    const at = new Date(now)
    await db.delete(loginStates).where(lte(loginStates.expiresAt, at))
    await db.delete(sessions).where(lte(sessions.expiresAt, at))
  }

  return {
    saveLoginState,
    consumeLoginState,
    isLoginStateUsed,
    markLoginStateUsed,
    createSession,
    isSessionLive,
    readSession,
    updateSessionAuth,
    endSession,
    getSession,
    setSessionRefreshToken,
    endSessions,
    rememberLogoutToken,
    deleteExpired,
  }
}
