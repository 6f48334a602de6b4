/**
 * Identities, keyed on (issuer, subject): a sign-in upserts the row and refreshes what the IdP says about
 * the person (email, name, groups) and when they last signed in.
 */
import { and, eq, sql } from 'drizzle-orm'
import type { Identity } from '../../core/model.ts'
import type { UpsertIdentityInput } from '../../core/ports.ts'
import type { Db } from './db.ts'
import { isUuid } from './row-values.ts'
import { identities } from './schema.ts'

export function identityFromRow(row: typeof identities.$inferSelect): Identity {
  return {
    id: row.id,
    idpId: row.idpId,
    issuer: row.issuer,
    subject: row.subject,
    email: row.email,
    emailVerified: row.emailVerified,
    name: row.name,
    groups: row.groups,
    createdAt: row.createdAt.getTime(),
    lastLoginAt: row.lastLoginAt.getTime(),
    suspendedAt: row.suspendedAt?.getTime() ?? null,
  }
}

export function createIdentityStore(options: { db: Db; newId: () => string }) {
  const { db, newId } = options

  async function upsertIdentity(input: UpsertIdentityInput, now: number): Promise<Identity> {
    const at = new Date(now)
    const [row] = await db
      .insert(identities)
      .values({ id: newId(), ...input, createdAt: at, lastLoginAt: at })
      .onConflictDoUpdate({
        target: [identities.issuer, identities.subject],
        set: {
          idpId: sql`excluded.idp_id`,
          email: sql`excluded.email`,
          emailVerified: sql`excluded.email_verified`,
          name: sql`excluded.name`,
          groups: sql`excluded.groups`,
          lastLoginAt: sql`excluded.last_login_at`,
        },
      })
      .returning()
    return identityFromRow(row!)
  }

  async function getIdentity(id: string): Promise<Identity | null> {
    if (!isUuid(id)) return null
    const [row] = await db.select().from(identities).where(eq(identities.id, id))
    return row === undefined ? null : identityFromRow(row)
  }

  async function findIdentity(issuer: string, subject: string): Promise<Identity | null> {
    const [row] = await db
      .select()
      .from(identities)
      .where(and(eq(identities.issuer, issuer), eq(identities.subject, subject)))
    return row === undefined ? null : identityFromRow(row)
  }

  async function setIdentitySuspended(id: string, suspended: boolean, now: number): Promise<Identity | null> {
    if (!isUuid(id)) return null
    const [row] = await db
      .update(identities)
      // A repeated suspension keeps the first time: that is when access ended.
      .set({
        suspendedAt: suspended
          ? sql`coalesce(${identities.suspendedAt}, ${new Date(now).toISOString()}::timestamptz)`
          : null,
      })
      .where(eq(identities.id, id))
      .returning()
    return row === undefined ? null : identityFromRow(row)
  }

  async function setIdentityGroups(id: string, groups: string[]): Promise<void> {
    if (!isUuid(id)) return
    await db.update(identities).set({ groups }).where(eq(identities.id, id))
  }

  return { upsertIdentity, getIdentity, findIdentity, setIdentitySuspended, setIdentityGroups }
}
