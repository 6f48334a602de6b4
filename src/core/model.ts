/**
 * The domain records Keygate stores and passes between core, adapters and entrypoints.
 *
 * Plain data only: no behaviour, no I/O. A missing value is `null` (as in SQL); `?` marks optional inputs.
 * Times are milliseconds since the epoch (numbers), so core never needs a runtime's Date.
 */

/** What the IdP (or Keygate's own step-up) proved, distilled by an IdP profile. Only `mfa` satisfies MFA. */
export const VERDICTS = ['mfa', 'single', 'unknown'] as const
export type Verdict = (typeof VERDICTS)[number]

export function isVerdict(value: unknown): value is Verdict {
  return typeof value === 'string' && (VERDICTS as readonly string[]).includes(value)
}

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

/**
 * What a browser session stands for, kept server-side with the session row: the cookie carries only the
 * session id, so a long group list cannot outgrow the browser's cookie limit (4 KB).
 */
export interface SessionClaims {
  identityId: string
  idpId: string
  issuer: string
  subject: string
  /** Only an email the IdP verified: policy matches `user:` and `domain:` on it. */
  email: string | null
  groups: string[]
  auth: AuthFacts
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
  /** When an administrator suspended this identity; null while it may sign in. */
  suspendedAt: number | null
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
  /** The session that minted it (null for leases from before sessions were recorded). */
  sessionId: string | null
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
  /** How the agent last said it enforces grants ('nftables', or 'off'); null before its first report. */
  enforcement: string | null
}

/**
 * Every kind of audit event Keygate writes, `noun.verb`: the one registry (core/audit-event.ts builds the
 * events; the two the database writes in SQL name their type from here too). A new event is added here.
 */
export const AUDIT_EVENT_TYPES = [
  'login.succeeded',
  'login.failed',
  'logout',
  'logout.backchannel',
  'session.ended',
  'lease.issued',
  'lease.denied',
  'lease.renewed',
  'lease.revoked',
  'lease.expired',
  'lease.shortened',
  'lease.updated',
  'gateway.enrollment_created',
  'gateway.enrolled',
  'gateway.removed',
  'identity.suspended',
  'identity.unsuspended',
  'identity.signed_out_everywhere',
  'identity.deprovisioned',
  'identity.groups_changed',
  'scim.token_created',
  'audit.pruned',
  'step_up.rate_limited',
  'step_up.failed',
  'step_up.succeeded',
  'step_up.enrolled',
  'step_up.enrol_refused',
  'step_up.enrolment_code_issued',
  'step_up.enrolment_code_used',
  'step_up.cloned_credential',
  'device.authorization_started',
  'device.user_code_rejected',
  'device.approved',
  'device.refused',
  'device.code_reused',
  'device.token_issued',
] as const

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number]

export interface AuditEvent {
  id: string
  at: number
  type: AuditEventType
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

/** What the IdP provisioned about a person through SCIM; the IdP's word on whether they may have access. */
export interface ScimUser {
  id: string
  idpId: string
  userName: string
  externalId: string | null
  active: boolean
  /** The resource as last written by the IdP (names, emails, extension attributes). */
  resource: Record<string, unknown>
  /** The Keygate identity this record belongs to, once one has signed in (or was found at write time). */
  identityId: string | null
  createdAt: number
  updatedAt: number
}

export interface ScimGroup {
  id: string
  idpId: string
  displayName: string
  externalId: string | null
  /** ids of member ScimUsers */
  members: string[]
  createdAt: number
  updatedAt: number
}

/** The values a SCIM group contributes to `idp:ID:GROUP` members: its name, and its external id if any. */
export function scimGroupValues(group: Pick<ScimGroup, 'displayName' | 'externalId'>): string[] {
  return group.externalId === null || group.externalId === group.displayName
    ? [group.displayName]
    : [group.displayName, group.externalId]
}
