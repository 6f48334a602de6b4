/**
 * The interfaces core needs from the outside world. Adapters implement them; entrypoints wire them.
 *
 * Keep these small and in domain words: a port says what the broker needs, not how a driver works.
 */
import type { RateBucket, RateDecision } from './limits/rate-limit.ts'
import type {
  AuditEvent,
  AuthFacts,
  Gateway,
  GatewayGrant,
  Identity,
  Lease,
  ScimGroup,
  ScimUser,
  SessionClaims,
} from './model.ts'

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
}

export interface Random {
  bytes(length: number): Uint8Array
}

export type LogFields = Record<string, unknown>

/** Structured `noun.verb` events. Never pass tokens, secrets or private keys in fields. */
export interface Logger {
  debug(event: string, fields?: LogFields): void
  info(event: string, fields?: LogFields): void
  warn(event: string, fields?: LogFields): void
  error(event: string, fields?: LogFields): void
}

/**
 * Wakes gateways waiting on their feed. A wake-up only, never the data: a waiter re-reads the store.
 * On Node it is in-process, and across replicas PostgreSQL LISTEN/NOTIFY; on Workers, polling.
 */
export interface ChangeNotifier {
  /** Called after a commit that appended to these gateways' feeds. */
  publish(gateways: readonly string[]): void
  /** Subscribes at once (so a publish right after this call is not missed) and settles on a publish
   *  for the gateway or after the timeout, whichever comes first; `'shutdown'` when the broker is
   *  stopping, so a held poll answers now instead of waiting again. `since` is the feed version the
   *  waiter holds (a notifier that polls compares against it). The caller owns the deadline: a
   *  notifier never settles later than `timeoutMs`, and never shortens it on its own account. */
  waitForChange(
    gateway: string,
    timeoutMs: number,
    since: number,
  ): { changed: Promise<WakeReason>; cancel(): void }
}

export type WakeReason = 'change' | 'timeout' | 'shutdown'

/** Encrypts secrets at rest (preshared keys, TOTP secrets) with KEYGATE_SECRET (a keyring during rotation). */
export interface SecretSealer {
  seal(plaintext: Uint8Array | string): Promise<string>
  /** Opens a value sealed with the current secret or a previous one (during a rotation). */
  open(ciphertext: string): Promise<Uint8Array>
  /** The value sealed again with the current secret when a previous one sealed it; null when current. */
  reseal(ciphertext: string): Promise<string | null>
}

/** The address pool of the overlay network, as the policy's `network` section defines it. */
export interface AddressPool {
  /** e.g. 100.96.0.0/16 */
  ipv4: string
  /** e.g. fd7a:115c:a1e0::/64, or null */
  ipv6: string | null
  /** Caps the number of usable addresses below what the prefix gives (tests, staged roll-outs); never widens. */
  size?: number
}

export interface UpsertIdentityInput {
  idpId: string
  issuer: string
  subject: string
  email: string | null
  emailVerified: boolean
  name: string | null
  groups: string[]
}

export interface IssueLeaseInput {
  identityId: string
  publicKey: string
  name: string | null
  pool: AddressPool
  grants: GatewayGrant[]
  /** The lease's preshared key, already encrypted with KEYGATE_SECRET (base64url). */
  presharedKeyCiphertext: string
  expiresAt: number
  auth: AuthFacts
  policyHash: string
  matchedGrants: string[]
  /** Live leases this identity may hold, this one included (the policy's `leases.maxPerUser`). */
  maxLiveLeases: number
  /** The audit event written in the same transaction. */
  audit: NewAuditEvent
  /** The session that asked for it; an admin revoking the lease ends that session too. */
  sessionId?: string | null
  /** The client's `Idempotency-Key`, stored in the same transaction as the lease. */
  idempotency?: IdempotencyRecord
}

/** An `Idempotency-Key` to store in the same statement as the act it guards (see idempotency.ts). */
export interface IdempotencyRecord {
  /** Whose key it is: an identity's id, or `local-cli` for the server's admin token. */
  owner: string
  key: string
  /** The normalised request; the same key with another request is refused. */
  fingerprint: string
  expiresAt: number
  /** Keys one owner holds at once; the oldest are dropped past it. */
  maxPerOwner: number
}

export interface StoredIdempotencyKey {
  fingerprint: string
  leaseId: string
}

export type NewAuditEvent = Omit<AuditEvent, 'id' | 'at'>

export interface NewSession {
  id: string
  identityId: string
  expiresAt: number
  /** What the session stands for (groups, verdict), kept server-side. */
  claims: SessionClaims
  /** The IdP's `sid`, for back-channel logout. */
  idpSid?: string | null
  /** The IdP's refresh token, sealed; renewal re-checks with the IdP when present. */
  refreshTokenCiphertext?: string | null
}

export interface SessionRecord {
  id: string
  identityId: string
  expiresAt: number
  endedAt: number | null
  idpSid: string | null
  refreshTokenCiphertext: string | null
}

export interface NewScimUser {
  idpId: string
  userName: string
  externalId: string | null
  active: boolean
  resource: Record<string, unknown>
}

export interface NewScimGroup {
  idpId: string
  displayName: string
  externalId: string | null
  members: string[]
}

/** One change a gateway must apply: a peer to upsert, or a public key to remove. */
export type PeerChange =
  | {
      kind: 'upsert'
      leaseId: string
      publicKey: string
      presharedKeyCiphertext: string
      allowedIps: string[]
      /** Destination prefixes the lease is granted through this gateway. */
      routes: string[]
      expiresAt: number
    }
  | { kind: 'remove'; leaseId: string; publicKey: string }

/** One gateway's feed read in a batch (Store.readGatewayFeeds). */
export interface GatewayFeedRequest {
  gateway: string
  since: number
  /** When given, the read answers null unless this gateway (this id) is still enrolled under the name. */
  gatewayId?: string
}

export interface GatewayFeedPage {
  /** The version the gateway holds after applying this page. */
  version: number
  /** True when `changes` is a full snapshot: the gateway drops every peer not in it. */
  reset: boolean
  changes: PeerChange[]
}

/**
 * Persistence. Every method is one transaction; methods that change what a gateway must hold also
 * append to that gateway's change feed in the same transaction, with versions no reader can skip.
 */
export interface Store {
  upsertIdentity(input: UpsertIdentityInput, now: number): Promise<Identity>
  getIdentity(id: string): Promise<Identity | null>

  /** Allocates a unique address and stores the lease, its feed changes and its audit event atomically.
   *  Throws KeygateError ADDRESS_POOL_EXHAUSTED when no address is free, PUBLIC_KEY_IN_USE when a live
   *  lease holds the key, LEASE_LIMIT_REACHED when the identity holds `maxLiveLeases` live leases. All
   *  three hold under any concurrency: the database enforces them, not a read before the write. */
  issueLease(input: IssueLeaseInput, now: number): Promise<Lease>
  getLease(id: string): Promise<Lease | null>
  /** The lease's sealed preshared key (null for an unknown lease), to give its owner the config again. */
  presharedKeyOf(leaseId: string): Promise<string | null>
  /** The unexpired issuance, renewal or revocation an owner made under an `Idempotency-Key`, if any. */
  findIdempotencyKey(owner: string, key: string, now: number): Promise<StoredIdempotencyKey | null>
  /** The live (unrevoked, unexpired) lease that holds this public key, if any. */
  findLiveLeaseByPublicKey(publicKey: string, now: number): Promise<Lease | null>
  listLeases(
    filter: { identityId?: string; gateway?: string; state?: 'active' | 'ended' },
    now: number,
  ): Promise<Lease[]>
  /** Returns null when the lease is unknown or already ended. An `idempotency` key is stored with the
   *  revocation, and only with it; a key the owner already holds is IDEMPOTENCY_KEY_REUSED. */
  revokeLease(
    id: string,
    reason: string,
    audit: NewAuditEvent,
    now: number,
    idempotency?: IdempotencyRecord,
  ): Promise<Lease | null>
  /** Moves expiry and/or grants of a live lease (renewal, policy shortening). `idempotency` as for
   *  revokeLease. */
  updateLease(
    id: string,
    change: {
      expiresAt?: number
      grants?: GatewayGrant[]
      matchedGrants?: string[]
      auth?: AuthFacts
      policyHash?: string
    },
    audit: NewAuditEvent,
    now: number,
    idempotency?: IdempotencyRecord,
  ): Promise<Lease | null>
  /** Records the end of leases that expired (`lease.expired` events, feed removals). Returns how many
   *  ended and the gateways whose feeds it appended to, for the caller to wake. */
  sweepExpired(now: number): Promise<{ ended: number; gateways: string[] }>

  appendAudit(event: NewAuditEvent, now: number): Promise<void>
  listAudit(filter: {
    identityId?: string
    type?: string
    /** Types that start with this (`lease.` for every lease event). */
    typePrefix?: string
    /** Events about the identities with this email, or done by it (case-insensitive). */
    email?: string
    before?: string
    limit: number
  }): Promise<AuditEvent[]>

  /**
   * Single use of a login state. The pending login itself lives in the sealed pre-login cookie, so
   * starting a sign-in writes nothing; a state is recorded only once its callback was verified by the
   * IdP. `markLoginStateUsed` is true exactly once per key (kept until `expiresAt`, then swept).
   */
  isLoginStateUsed(key: string, now: number): Promise<boolean>
  /** Single-use keys of signed-in flows (WebAuthn challenges): true exactly once, before `expiresAt`. */
  saveLoginState(key: string, expiresAt: number): Promise<void>
  consumeLoginState(key: string, now: number): Promise<boolean>
  markLoginStateUsed(key: string, expiresAt: number): Promise<boolean>

  createSession(input: NewSession, now: number): Promise<void>
  isSessionLive(id: string, now: number): Promise<boolean>
  /** A live session with its claims; null when unknown, ended or expired. */
  readSession(id: string, now: number): Promise<(SessionClaims & { id: string; expiresAt: number }) | null>
  /** A step-up raised what this session proved (Keygate's own second factor). */
  updateSessionAuth(id: string, auth: AuthFacts): Promise<void>
  endSession(id: string, now: number): Promise<void>
  getSession(id: string): Promise<SessionRecord | null>
  setSessionRefreshToken(id: string, refreshTokenCiphertext: string): Promise<void>
  /** Ends every live session that matches: all of an identity's, or those of one issuer's user (`sub`)
   *  and/or IdP session (`sid`), as a back-channel logout names them. Returns what it ended. */
  endSessions(
    match:
      | { identityId: string; idpSid?: string }
      | { issuer: string; subject: string | null; idpSid: string | null },
    now: number,
  ): Promise<Array<{ id: string; identityId: string }>>
  /** Identities of one IdP with this subject (a back-channel logout's `sub`). */
  findIdentity(issuer: string, subject: string): Promise<Identity | null>
  setIdentitySuspended(id: string, suspended: boolean, now: number): Promise<Identity | null>

  // SCIM provisioning (one IdP's view of its users and groups).
  setScimToken(idpId: string, tokenHash: string, now: number): Promise<void>
  findScimTokenIdp(tokenHash: string): Promise<string | null>
  createScimUser(input: NewScimUser, now: number): Promise<ScimUser>
  getScimUser(idpId: string, id: string): Promise<ScimUser | null>
  listScimUsers(idpId: string, filter: { userName?: string }): Promise<ScimUser[]>
  replaceScimUser(idpId: string, id: string, input: NewScimUser, now: number): Promise<ScimUser | null>
  deleteScimUser(idpId: string, id: string): Promise<ScimUser | null>
  /** The SCIM user of an identity: already linked, or unlinked with externalId = subject or userName =
   *  the verified email (then linked now). */
  linkScimUser(identity: Identity, verifiedEmail: string | null): Promise<ScimUser | null>
  createScimGroup(input: NewScimGroup, now: number): Promise<ScimGroup>
  getScimGroup(idpId: string, id: string): Promise<ScimGroup | null>
  listScimGroups(idpId: string, filter: { displayName?: string; memberId?: string }): Promise<ScimGroup[]>
  replaceScimGroup(idpId: string, id: string, input: NewScimGroup, now: number): Promise<ScimGroup | null>
  deleteScimGroup(idpId: string, id: string): Promise<ScimGroup | null>
  /** Replaces the identity's group list (a SCIM membership change, or SCIM groups at an overage sign-in). */
  setIdentityGroups(id: string, groups: string[]): Promise<void>

  /** A back-channel logout token's (issuer, jti): true the first time, false for a replay. */
  rememberLogoutToken(key: string, expiresAt: number, now: number): Promise<boolean>

  /** Takes the gateway out: credential and enrollment tokens revoked, overlay address freed, feed
   *  emptied. Returns null when no gateway has that name. */
  removeGateway(name: string, now: number): Promise<Gateway | null>

  /** Deletes audit events older than `before` unless a live export hold exists; returns how many. */
  pruneAudit(before: number, now: number): Promise<{ deleted: number; held: boolean }>
  /** Holds the prune while an export reads (renewed by each page of that export). */
  holdAudit(id: string, until: number): Promise<void>

  // Gateways. A gateway is named in the policy; its feed exists (by name) before it enrols.
  /** Stores a one-time enrollment token's hash. */
  createEnrollment(
    input: { gatewayName: string; tokenHash: string; expiresAt: number },
    now: number,
  ): Promise<void>
  /** Consumes the token (single-use, unexpired), records the gateway's public key and credential hash and
   *  gives it an overlay address from the pool. Throws ENROLLMENT_TOKEN_INVALID. */
  enrollGateway(
    input: { tokenHash: string; publicKey: string; credentialHash: string; pool: AddressPool },
    now: number,
  ): Promise<Gateway>
  /** The gateway behind each credential hash (null for none), in one statement; in the hashes' order. */
  findGatewaysByCredentials(credentialHashes: readonly string[]): Promise<Array<Gateway | null>>
  getGateway(name: string): Promise<Gateway | null>
  listGateways(): Promise<Gateway[]>
  /** Each request's gateway's changes after `since`, oldest first, at most `limit`; a full snapshot with
   *  `reset: true` when `since` is 0 or older than the retained feed. Many gateways in one statement,
   *  answered in the requests' order; a request with a `gatewayId` whose gateway was removed (or
   *  replaced) since gets null. */
  readGatewayFeeds(
    requests: readonly GatewayFeedRequest[],
    limit: number,
    now: number,
  ): Promise<Array<GatewayFeedPage | null>>
  /** The newest committed version of a gateway's feed (0 when it has none). */
  gatewayFeedVersion(gatewayName: string): Promise<number>
  recordGatewayStatus(
    gatewayName: string,
    status: {
      appliedVersion: number
      peerCount: number
      latestHandshakes?: Record<string, number>
      /** 'nftables', or 'off' when the agent runs without its packet filter. */
      enforcement?: string
    },
    now: number,
  ): Promise<void>

  /** After a KEYGATE_SECRET rotation: seals every secret at rest again with `reseal` (the sealer's), and
   *  counts those it re-sealed and those no secret of the keyring opens. */
  resealSecrets(
    reseal: (ciphertext: string) => Promise<string | null>,
  ): Promise<{ resealed: number; unreadable: number }>

  close(): Promise<void>
}

/** What the broker needs from an OIDC identity provider; `adapters/idp` implements it on openid-client. */
export interface IdentityProvider {
  readonly id: string
  readonly displayName: string
  /** Builds the authorization URL and the secrets that must come back with the callback. */
  startLogin(input: {
    redirectUri: string
    maxAgeSeconds: number
    stepUp: boolean
  }): Promise<{ url: string; pending: PendingLogin }>
  /** Exchanges the code and verifies the ID token; maps openid-client's errors to KeygateError. */
  completeLogin(callbackUrl: URL, pending: PendingLogin): Promise<VerifiedLogin>
  /** Verifies a back-channel logout token (OIDC Back-Channel Logout 1.0 §2.6) against this IdP's keys.
   *  Throws KeygateError INVALID_REQUEST naming what failed. */
  verifyLogoutToken(token: string): Promise<LogoutToken>
  /** Asks the IdP whether the sign-in still stands (a refresh token grant). `false` when the IdP refuses
   *  it (user disabled, grant revoked); a new refresh token, when the IdP rotated it. Throws
   *  IDP_UNAVAILABLE when the IdP cannot be reached. */
  refresh(
    refreshToken: string,
  ): Promise<{ ok: false; reason: string } | { ok: true; refreshToken: string | null }>
}

export interface LogoutToken {
  issuer: string
  subject: string | null
  sid: string | null
  jti: string
  /** Seconds since the epoch. */
  expiresAt: number
}

/** Per-login secrets, kept in a signed, encrypted, short-lived cookie and made single-use by the Store. */
export interface PendingLogin {
  idpId: string
  state: string
  nonce: string
  codeVerifier: string
  maxAgeSeconds: number
  stepUp: boolean
  returnTo: string
}

export interface VerifiedLogin {
  issuer: string
  subject: string
  email: string | null
  emailVerified: boolean
  name: string | null
  groups: string[]
  /** False when the IdP said the user has more groups than it sent (Entra's overage): policy cannot be
   *  judged on a partial list, since a deny rule on a missing group would not match. */
  groupsComplete?: boolean
  /** Why the groups are incomplete, when they are: left out by the IdP, or a claim of the wrong shape. */
  groupsIncomplete?: 'overage' | 'malformed'
  auth: AuthFacts
  /** The IdP's session id (`sid`), when the ID token carries one. */
  sid?: string | null
  /** The refresh token, when the IdP issued one. Never logged; sealed before it is stored. */
  refreshToken?: string | null
}

/**
 * Per-client request limits (src/core/limits/rate-limit.ts). In memory on Node (per process); on
 * Workers Cloudflare's rate-limit bindings, shared by the isolates of a location.
 */
export interface RateLimiter {
  /** Counts one request by `key` in `bucket`; refused once the window's limit is passed. */
  hit(bucket: RateBucket, key: string): Promise<RateDecision>
  /** Whether `key` is already over its limit, without counting (checked before a failure is possible). */
  check(bucket: RateBucket, key: string): Promise<RateDecision>
}

export type { Gateway }
