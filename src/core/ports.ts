/**
 * The interfaces core needs from the outside world. Adapters implement them; entrypoints wire them.
 *
 * Keep these small and in domain words: a port says what the broker needs, not how a driver works.
 */
import type { AuditEvent, AuthFacts, Gateway, GatewayGrant, Identity, Lease } from './model.ts'

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
   *  for the gateway or after the timeout, whichever comes first. */
  waitForChange(gateway: string, timeoutMs: number): { changed: Promise<void>; cancel(): void }
}

/** Encrypts secrets at rest (preshared keys, TOTP secrets) with KEYGATE_SECRET. */
export interface SecretSealer {
  seal(plaintext: Uint8Array | string): Promise<string>
  open(ciphertext: string): Promise<Uint8Array>
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
  /** The audit event written in the same transaction. */
  audit: NewAuditEvent
}

export type NewAuditEvent = Omit<AuditEvent, 'id' | 'at'>

/** One change a gateway must apply: a peer to upsert, or a public key to remove. */
export type PeerChange =
  | {
      kind: 'upsert'
      leaseId: string
      publicKey: string
      presharedKeyCiphertext: string
      allowedIps: string[]
      expiresAt: number
    }
  | { kind: 'remove'; leaseId: string; publicKey: string }

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
   *  lease holds the key. */
  issueLease(input: IssueLeaseInput, now: number): Promise<Lease>
  getLease(id: string): Promise<Lease | null>
  /** The live (unrevoked, unexpired) lease that holds this public key, if any. */
  findLiveLeaseByPublicKey(publicKey: string, now: number): Promise<Lease | null>
  listLeases(
    filter: { identityId?: string; gateway?: string; state?: 'active' | 'ended' },
    now: number,
  ): Promise<Lease[]>
  /** Returns null when the lease is unknown or already ended. */
  revokeLease(id: string, reason: string, audit: NewAuditEvent, now: number): Promise<Lease | null>
  /** Moves expiry and/or grants of a live lease (renewal, policy shortening). */
  updateLease(
    id: string,
    change: { expiresAt?: number; grants?: GatewayGrant[]; auth?: AuthFacts; policyHash?: string },
    audit: NewAuditEvent,
    now: number,
  ): Promise<Lease | null>
  /** Frees the addresses of leases that expired and records `lease.expired` events. Returns how many. */
  sweepExpired(now: number): Promise<number>

  appendAudit(event: NewAuditEvent, now: number): Promise<void>
  listAudit(filter: {
    identityId?: string
    type?: string
    before?: string
    limit: number
  }): Promise<AuditEvent[]>

  /** Single-use login state: true exactly once per key, and only before `expiresAt`. */
  saveLoginState(key: string, expiresAt: number): Promise<void>
  consumeLoginState(key: string, now: number): Promise<boolean>

  createSession(input: { id: string; identityId: string; expiresAt: number }, now: number): Promise<void>
  isSessionLive(id: string, now: number): Promise<boolean>
  endSession(id: string, now: number): Promise<void>

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
  findGatewayByCredential(credentialHash: string): Promise<Gateway | null>
  getGateway(name: string): Promise<Gateway | null>
  listGateways(): Promise<Gateway[]>
  /** Changes after `since` for one gateway, oldest first, at most `limit`; a full snapshot with
   *  `reset: true` when `since` is 0 or older than the retained feed. */
  readGatewayFeed(gatewayName: string, since: number, limit: number, now: number): Promise<GatewayFeedPage>
  /** The newest committed version of a gateway's feed (0 when it has none). */
  gatewayFeedVersion(gatewayName: string): Promise<number>
  recordGatewayStatus(
    gatewayName: string,
    status: { appliedVersion: number; peerCount: number; latestHandshakes?: Record<string, number> },
    now: number,
  ): Promise<void>

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
  auth: AuthFacts
}

export type { Gateway }
