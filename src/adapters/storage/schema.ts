/**
 * The database schema of Keygate (PostgreSQL dialect; PGlite runs the same migrations).
 *
 * drizzle-kit generates `drizzle/` from this file: change a table here, then `npm run db:generate`.
 * Times are `timestamptz`; the domain's millisecond numbers are converted at the query edge. Lists that are
 * only ever read whole (amr, groups, grants) are jsonb, which both drivers hand back as plain arrays.
 */
import { sql } from 'drizzle-orm'
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'
import type { AuditEventType, GatewayGrant, SessionClaims } from '../../core/model.ts'

const time = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

/** People, keyed on (issuer, subject) and never on email: emails get reassigned, `sub` does not. */
export const identities = pgTable(
  'identities',
  {
    id: uuid('id').primaryKey(),
    idpId: text('idp_id').notNull(),
    issuer: text('issuer').notNull(),
    subject: text('subject').notNull(),
    email: text('email'),
    emailVerified: boolean('email_verified').notNull().default(false),
    name: text('name'),
    groups: jsonb('groups').$type<string[]>().notNull().default([]),
    createdAt: time('created_at').notNull(),
    lastLoginAt: time('last_login_at').notNull(),
    /** Set by an administrator: sign-in is refused and no lease is issued until it is cleared. */
    suspendedAt: time('suspended_at'),
  },
  (t) => [uniqueIndex('identities_issuer_subject').on(t.issuer, t.subject)],
)

export const sessions = pgTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    identityId: uuid('identity_id')
      .notNull()
      .references(() => identities.id),
    createdAt: time('created_at').notNull(),
    expiresAt: time('expires_at').notNull(),
    endedAt: time('ended_at'),
    /** What the session stands for (groups, verdict); null on rows older than this column: sign in again. */
    claims: jsonb('claims').$type<SessionClaims>(),
    /** The IdP's session id (`sid` of the ID token), which a back-channel logout token may name. */
    idpSid: text('idp_sid'),
    /** The IdP's refresh token, sealed with KEYGATE_SECRET; a renewal asks the IdP with it first. */
    refreshTokenCiphertext: text('refresh_token_ciphertext'),
  },
  (t) => [
    index('sessions_identity').on(t.identityId),
    index('sessions_expires').on(t.expiresAt),
    index('sessions_idp_sid').on(t.idpSid),
  ],
)

/** Login states already used (recorded after the IdP verified the callback), until they expire. */
export const loginStates = pgTable(
  'login_states',
  {
    key: text('key').primaryKey(),
    expiresAt: time('expires_at').notNull(),
  },
  (t) => [index('login_states_expires').on(t.expiresAt)],
)

/**
 * One row per pool (keyed on its canonical IPv4 prefix): the high-water mark of offsets ever handed out.
 * Fresh offsets come from here, locked for the length of one issuance; once it reaches `last_offset`, the
 * least recently freed allocation is reused instead.
 */
export const addressPools = pgTable('address_pools', {
  cidr: text('cidr').primaryKey(),
  nextOffset: bigint('next_offset', { mode: 'number' }).notNull(),
  lastOffset: bigint('last_offset', { mode: 'number' }).notNull(),
})

/**
 * Every address ever handed out, by the address itself, so two pools that overlap (a network changed in
 * the policy) still never hand out one address twice. `held_until` is when the holder lets go: the lease's
 * expiry, the revocation time, or infinity for a gateway.
 */
export const addressAllocations = pgTable(
  'address_allocations',
  {
    address: text('address').primaryKey(),
    pool: text('pool').notNull(),
    offset: bigint('offset', { mode: 'number' }).notNull(),
    leaseId: uuid('lease_id'),
    gatewayId: uuid('gateway_id'),
    heldUntil: time('held_until').notNull(),
  },
  (t) => [
    index('address_allocations_free').on(t.pool, t.heldUntil),
    index('address_allocations_lease').on(t.leaseId),
  ],
)

export const leases = pgTable(
  'leases',
  {
    id: uuid('id').primaryKey(),
    identityId: uuid('identity_id')
      .notNull()
      .references(() => identities.id),
    publicKey: text('public_key').notNull(),
    name: text('name'),
    addressV4: text('address_v4').notNull(),
    addressV6: text('address_v6'),
    grants: jsonb('grants').$type<GatewayGrant[]>().notNull(),
    presharedKeyCiphertext: text('preshared_key_ciphertext').notNull(),
    createdAt: time('created_at').notNull(),
    expiresAt: time('expires_at').notNull(),
    revokedAt: time('revoked_at'),
    revokedReason: text('revoked_reason'),
    /** When the broker recorded the end (revocation or the expiry sweep); null while it has not. */
    endedAt: time('ended_at'),
    // The authentication facts behind the lease, kept for audit and for re-evaluation on policy change.
    verdict: text('verdict').notNull(),
    amr: jsonb('amr').$type<string[]>().notNull(),
    acr: text('acr'),
    acrs: jsonb('acrs').$type<string[]>().notNull(),
    /** Seconds since the epoch, as the ID token says. */
    authTime: bigint('auth_time', { mode: 'number' }),
    stepUp: text('step_up'),
    policyHash: text('policy_hash').notNull(),
    matchedGrants: jsonb('matched_grants').$type<string[]>().notNull(),
    /** Which of its owner's `leases.maxPerUser` places this lease takes (0-based); null before 0003. */
    identitySlot: integer('identity_slot'),
    /** The session that minted the lease: revoking the lease as an admin ends it (a stolen cookie). */
    sessionId: text('session_id'),
  },
  (t) => [
    index('leases_identity').on(t.identityId, t.createdAt),
    // The database, not a read before the write, keeps one unended lease per public key and per owner's
    // slot: two concurrent issuances cannot both pass (the second fails and re-runs on the new state).
    uniqueIndex('leases_unended_public_key').on(t.publicKey).where(sql`${t.endedAt} is null`),
    uniqueIndex('leases_unended_identity_slot')
      .on(t.identityId, t.identitySlot)
      .where(sql`${t.endedAt} is null`),
    // Issuance refuses a public key that a live lease already holds: a gateway has one peer per key.
    // Not partial: a query that says `ended_at IS NULL` could be planned on the expiry index instead,
    // which walks every live lease (seen in the issuance bench as throughput falling with table size).
    index('leases_public_key').on(t.publicKey),
    // The expiry sweep looks only at leases whose end is not yet recorded.
    index('leases_unended_expiry').on(t.expiresAt).where(sql`${t.endedAt} is null`),
    // Snapshots and admin lists find a gateway's leases by containment: grants @> '[{"gateway":"eu-1"}]'.
    index('leases_grants').using('gin', t.grants.op('jsonb_path_ops')),
  ],
)

/**
 * `Idempotency-Key`s of lease issuances, renewals and revocations: written in the statement that acts, so
 * a retry after a commit whose answer was lost finds what was done. The answer is rebuilt from the lease
 * (its preshared key is sealed there), so no response body is stored. `fingerprint` is the normalised
 * request (the operation included), to refuse a reused key. `owner` scopes the keys: an identity's id,
 * or `local-cli` for the server's own admin token, which has no identity.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    owner: text('owner').notNull(),
    key: text('key').notNull(),
    fingerprint: text('fingerprint').notNull(),
    leaseId: uuid('lease_id').notNull(),
    createdAt: time('created_at').notNull(),
    expiresAt: time('expires_at').notNull(),
  },
  // Pruned per owner before each keyed request, so the key's prefix (owner) serves every query.
  (t) => [primaryKey({ name: 'idempotency_keys_pkey', columns: [t.owner, t.key] })],
)

/** Gateways named by `gateway add`; enrolled once their one-time token is used. */
export const gateways = pgTable('gateways', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull().unique(),
  publicKey: text('public_key'),
  addressV4: text('address_v4'),
  addressV6: text('address_v6'),
  /** Only a hash of the gateway's credential is stored. */
  credentialHash: text('credential_hash').unique(),
  createdAt: time('created_at').notNull(),
  enrolledAt: time('enrolled_at'),
  lastSeenAt: time('last_seen_at'),
  appliedVersion: bigint('applied_version', { mode: 'number' }),
  peerCount: integer('peer_count'),
  /** Latest handshake per peer public key (ms since the epoch), as the agent last reported it. */
  handshakes: jsonb('handshakes').$type<Record<string, number>>(),
  /** How the agent enforces grants, as it last reported: 'nftables', or 'off' when started without a filter. */
  enforcement: text('enforcement'),
})

export const gatewayEnrollments = pgTable(
  'gateway_enrollments',
  {
    /** Only a hash of the one-time token is stored. */
    tokenHash: text('token_hash').primaryKey(),
    gatewayName: text('gateway_name').notNull(),
    createdAt: time('created_at').notNull(),
    expiresAt: time('expires_at').notNull(),
    usedAt: time('used_at'),
  },
  (t) => [index('gateway_enrollments_gateway').on(t.gatewayName)],
)

/**
 * The change-feed counter of one gateway, by name (a feed exists before its gateway enrols). Every
 * transaction that appends entries bumps `version` here first, so versions are handed out in commit
 * order: a reader never sees N+1 before N has committed. Entries at or below `floor_version` may have been
 * pruned; a cursor below it gets a full snapshot.
 */
export const gatewayFeeds = pgTable('gateway_feeds', {
  gateway: text('gateway').primaryKey(),
  version: bigint('version', { mode: 'number' }).notNull().default(0),
  floorVersion: bigint('floor_version', { mode: 'number' }).notNull().default(0),
})

/** One peer change for one gateway. Self-contained, so reading a delta never touches the leases table. */
export const gatewayFeedEntries = pgTable(
  'gateway_feed_entries',
  {
    gateway: text('gateway').notNull(),
    version: bigint('version', { mode: 'number' }).notNull(),
    kind: text('kind').$type<'upsert' | 'remove'>().notNull(),
    leaseId: uuid('lease_id').notNull(),
    publicKey: text('public_key').notNull(),
    presharedKeyCiphertext: text('preshared_key_ciphertext'),
    allowedIps: jsonb('allowed_ips').$type<string[]>(),
    /** The destination prefixes the lease is granted through this gateway (protocol v2). */
    routes: jsonb('routes').$type<string[]>(),
    expiresAt: time('expires_at'),
    createdAt: time('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.gateway, t.version] }),
    index('gateway_feed_entries_created').on(t.createdAt),
  ],
)

/**
 * The audit log. References are plain text, not foreign keys: the log must accept an event about anything
 * (a failed login has no identity yet) and outlive what it describes. Listed newest first by (at, id).
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: uuid('id').primaryKey(),
    at: time('at').notNull(),
    type: text('type').$type<AuditEventType>().notNull(),
    identityId: text('identity_id'),
    leaseId: text('lease_id'),
    gatewayId: text('gateway_id'),
    actor: text('actor'),
    policyHash: text('policy_hash'),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [
    index('audit_events_at').on(t.at, t.id),
    index('audit_events_identity').on(t.identityId, t.at, t.id),
    index('audit_events_type').on(t.type, t.at, t.id),
  ],
)
