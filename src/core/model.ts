/**
 * The domain records Keygate stores and passes between core, adapters and entrypoints.
 *
 * Plain data only: no behaviour, no I/O. A missing value is `null` (as in SQL); `?` marks optional inputs.
 * Times are milliseconds since the epoch (numbers), so core never needs a runtime's Date.
 */

/** What the IdP (or Keygate's own step-up) proved, distilled by an IdP profile. Only `mfa` satisfies MFA. */
export type Verdict = 'mfa' | 'single' | 'unknown'

/** The raw authentication facts of one sign-in, kept with every lease and audit event. */
export interface AuthFacts {
  verdict: Verdict
  amr: string[]
  acr: string | null
  /** `acrs` (Entra auth contexts), when present. */
  acrs: string[]
  /** Seconds since the epoch, as in the ID token; null when the IdP sent none. */
  authTime: number | null
  /** Keygate's own second factor used for this session ('totp' | 'webauthn'), or null. */
  stepUp: string | null
}

/** A person as the IdP knows them: keyed on (issuer, subject), never on email alone. */
export interface Identity {
  id: string
  idpId: string
  issuer: string
  subject: string
  email: string | null
  emailVerified: boolean
  name: string | null
  groups: string[]
  createdAt: number
  lastLoginAt: number
}

/** Who is asking, as policy sees them. Built from an identity and the facts of its sign-in. */
export interface Subject {
  idpId: string
  issuer: string
  subject: string
  email: string | null
  groups: string[]
  auth: AuthFacts
}

export type LeaseState = 'active' | 'revoked' | 'expired'

/** The routes a lease is granted through one gateway. */
export interface GatewayGrant {
  gateway: string
  routes: string[]
}

export interface Lease {
  id: string
  identityId: string
  publicKey: string
  name: string | null
  addressV4: string
  addressV6: string | null
  grants: GatewayGrant[]
  createdAt: number
  expiresAt: number
  revokedAt: number | null
  revokedReason: string | null
  auth: AuthFacts
  policyHash: string
  /** Ids of the grants that allowed this lease, as the policy names them. */
  matchedGrants: string[]
}

export interface Gateway {
  id: string
  name: string
  publicKey: string | null
  addressV4: string | null
  addressV6: string | null
  enrolledAt: number | null
  lastSeenAt: number | null
  appliedVersion: number | null
  peerCount: number | null
}

export interface AuditEvent {
  id: string
  at: number
  /** `noun.verb`: `login.succeeded`, `login.failed`, `lease.issued`, `lease.denied`, `lease.revoked`, … */
  type: string
  identityId: string | null
  leaseId: string | null
  gatewayId: string | null
  actor: string | null
  policyHash: string | null
  data: Record<string, unknown>
}

export function leaseState(lease: Pick<Lease, 'revokedAt' | 'expiresAt'>, now: number): LeaseState {
  if (lease.revokedAt !== null) return 'revoked'
  return lease.expiresAt <= now ? 'expired' : 'active'
}
