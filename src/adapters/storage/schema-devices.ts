/**
 * Tables of the terminal client's sign-in (RFC 8628 device authorizations) and of the client
 * credentials that renew and read one lease each.
 *
 * A device code and a client credential are bearer secrets: only their SHA-256 is stored. A user code
 * is short by design (a person types it); it is unique only among pending authorizations, which is what
 * a lookup needs, and is worthless once its authorization is decided or expired.
 */
import { sql } from 'drizzle-orm'
import { index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { identities } from './schema.ts'

const time = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

export const deviceAuthorizations = pgTable(
  'device_authorizations',
  {
    id: uuid('id').primaryKey(),
    deviceCodeHash: text('device_code_hash').notNull().unique(),
    userCode: text('user_code').notNull(),
    /** 'issue' (a new lease for this key) or 'renew' (a fresh sign-in for `lease_id`). */
    purpose: text('purpose').$type<'issue' | 'renew'>().notNull(),
    publicKey: text('public_key').notNull(),
    deviceName: text('device_name'),
    clientAddress: text('client_address'),
    /** The lease to renew ('renew'), or the lease the approval issued ('issue', once approved). */
    leaseId: uuid('lease_id'),
    /** pending -> approved | denied; approved -> consumed when the client collects it. */
    status: text('status').$type<'pending' | 'approved' | 'denied' | 'consumed'>().notNull(),
    /** Who approved or refused. */
    identityId: uuid('identity_id').references(() => identities.id, { onDelete: 'cascade' }),
    decidedAt: time('decided_at'),
    denialReason: text('denial_reason'),
    intervalSeconds: integer('interval_seconds').notNull(),
    lastPolledAt: time('last_polled_at'),
    createdAt: time('created_at').notNull(),
    expiresAt: time('expires_at').notNull(),
  },
  (t) => [
    uniqueIndex('device_authorizations_pending_user_code').on(t.userCode).where(sql`${t.status} = 'pending'`),
    index('device_authorizations_expires').on(t.expiresAt),
  ],
)

export const clientCredentials = pgTable(
  'client_credentials',
  {
    tokenHash: text('token_hash').primaryKey(),
    leaseId: uuid('lease_id').notNull(),
    identityId: uuid('identity_id')
      .notNull()
      .references(() => identities.id, { onDelete: 'cascade' }),
    createdAt: time('created_at').notNull(),
    revokedAt: time('revoked_at'),
  },
  (t) => [index('client_credentials_lease').on(t.leaseId)],
)
