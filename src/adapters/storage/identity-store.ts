/**
 * Identities, keyed on (issuer, subject): a sign-in upserts the row and refreshes what the IdP says about
 * the person (email, name, groups) and when they last signed in.
 */
import { eq, sql } from 'drizzle-orm'
import type { Identity } from '../../core/model.ts'
import type { UpsertIdentityInput } from '../../core/ports.ts'
import type { Db } from './db.ts'
import { isUuid } from './row-values.ts'
import { identities } from './schema.ts'

function identityFromRow(row: typeof identities.$inferSelect): Identity {
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

  return { upsertIdentity, getIdentity }
}
