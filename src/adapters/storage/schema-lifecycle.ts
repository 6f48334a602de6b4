/**
 * Tables of the identity lifecycle: what the IdP provisions through SCIM (users, groups, memberships, the
 * per-IdP bearer token), the back-channel logout tokens already seen, and the holds a running audit
 * export puts on the retention prune.
 *
 * A SCIM user is the IdP's record of a person; it exists before that person ever signs in, so it is its
 * own row, linked to an identity (by `external_id` = `sub`, or `user_name` = the verified email) once one
 * exists. Group values are what the policy's `idp:ID:GROUP` members name: a group's displayName and,
 * where the IdP sends one, its externalId (Entra's object id, which is what its `groups` claim carries).
 */
import { sql } from 'drizzle-orm'
import {
  boolean,
  index,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'
import { identities } from './schema.ts'

const time = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

/** One SCIM bearer token per IdP; only its SHA-256 is stored. */
export const scimTokens = pgTable('scim_tokens', {
  idpId: text('idp_id').primaryKey(),
  tokenHash: text('token_hash').notNull().unique(),
  createdAt: time('created_at').notNull(),
})

export const scimUsers = pgTable(
  'scim_users',
  {
    id: uuid('id').primaryKey(),
    idpId: text('idp_id').notNull(),
    userName: text('user_name').notNull(),
    externalId: text('external_id'),
    active: boolean('active').notNull().default(true),
    /** The resource as the IdP last wrote it (names, emails, extensions), echoed back on reads. */
    resource: jsonb('resource').$type<Record<string, unknown>>().notNull(),
    identityId: uuid('identity_id').references(() => identities.id),
    createdAt: time('created_at').notNull(),
    updatedAt: time('updated_at').notNull(),
    /** A deleted user is gone for SCIM (404) but still refuses the linked identity's sign-in, until the
     *  IdP provisions that userName again. */
    deletedAt: time('deleted_at'),
  },
  (t) => [
    // userName is unique per IdP, case-insensitively (RFC 7643 §4.1.1: caseExact false).
    uniqueIndex('scim_users_idp_user_name').on(t.idpId, sql`lower(${t.userName})`),
    index('scim_users_identity').on(t.identityId),
    index('scim_users_external').on(t.idpId, t.externalId),
  ],
)

export const scimGroups = pgTable(
  'scim_groups',
  {
    id: uuid('id').primaryKey(),
    idpId: text('idp_id').notNull(),
    displayName: text('display_name').notNull(),
    externalId: text('external_id'),
    createdAt: time('created_at').notNull(),
    updatedAt: time('updated_at').notNull(),
  },
  (t) => [index('scim_groups_idp_name').on(t.idpId, t.displayName)],
)

export const scimGroupMembers = pgTable(
  'scim_group_members',
  {
    groupId: uuid('group_id')
      .notNull()
      .references(() => scimGroups.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => scimUsers.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] }), index('scim_group_members_user').on(t.userId)],
)

/** Back-channel logout tokens seen (issuer + jti), kept until the token would have expired anyway. */
export const seenLogoutTokens = pgTable(
  'seen_logout_tokens',
  {
    key: text('key').primaryKey(),
    expiresAt: time('expires_at').notNull(),
  },
  (t) => [index('seen_logout_tokens_expires').on(t.expiresAt)],
)

/** While a hold is live, the audit retention prune deletes nothing: an export is reading the log. */
export const auditHolds = pgTable('audit_holds', {
  id: text('id').primaryKey(),
  expiresAt: time('expires_at').notNull(),
})

export type ScimUserRow = typeof scimUsers.$inferSelect
