/**
 * The one error type of Keygate and its stable codes.
 *
 * Codes are part of the external contract: clients, the acceptance tests and the docs match on them.
 * Add codes; never rename one. Expected outcomes (a policy denial, an unmet assurance) are values
 * (`Decision`), and become a `KeygateError` only at the edge that must refuse the request.
 * The HTTP status of each code lives in one table, in `adapters/http/errors.ts`; core never sees a status.
 */

export const ERROR_CODES = [
  // request shape
  'INVALID_REQUEST',
  'INVALID_PUBLIC_KEY',
  'BODY_TOO_LARGE',
  'LENGTH_REQUIRED',
  'NOT_FOUND',
  'UNKNOWN_IDP',
  // authentication and authorisation
  'UNAUTHENTICATED',
  'CSRF_FAILED',
  'FORBIDDEN',
  'MFA_REQUIRED',
  'STEP_UP_REQUIRED',
  'POLICY_DENIED',
  'LOGIN_STATE_INVALID',
  'LOGIN_FAILED',
  'GROUPS_INCOMPLETE',
  'AUTH_TIME_MISSING',
  'AUTH_TOO_OLD',
  'RATE_LIMITED',
  'FACTOR_INVALID',
  'ENROLMENT_CODE_REQUIRED',
  'IDENTITY_SUSPENDED',
  // leases and gateways
  'ADDRESS_POOL_EXHAUSTED',
  'PUBLIC_KEY_IN_USE',
  'LEASE_LIMIT_REACHED',
  'LEASE_NOT_ACTIVE',
  'IDEMPOTENCY_KEY_REUSED',
  'GATEWAY_UNKNOWN',
  'GATEWAY_CREDENTIAL_INVALID',
  'ENROLLMENT_TOKEN_INVALID',
  'GATEWAY_PROTOCOL_UNSUPPORTED',
  // the policy allows access, but none of the granted gateways has enrolled: no config could reach one
  'NO_GATEWAY_ENROLLED',
  // the gateway agent's own refusals (never an HTTP answer; listed so the CLI names them by code)
  'PACKET_FILTER_UNAVAILABLE',
  'BROKER_URL_INSECURE',
  'CLIENT_CREDENTIAL_INVALID',
  // configuration and policy
  'CONFIG_INVALID',
  'POLICY_INVALID',
  'POLICY_TESTS_FAILED',
  'DATABASE_LOCKED',
  // the database did not answer in time or refused connections; retry after `retryAfterSeconds`
  'DATABASE_UNAVAILABLE',
  // upstream and internal
  'IDP_UNAVAILABLE',
  /** The terminal client could not reach the broker. */
  'BROKER_UNAVAILABLE',
  'INTERNAL',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

/**
 * Every reason code a decision or refusal can carry (`reasons[].code` in answers, audit events and pages):
 * the one registry. A policy denial's code (policy's DenialCode) is one of them.
 */
export const REASON_CODES = [
  // policy decisions
  'GRANT_MATCHED',
  'NO_MATCHING_GRANT',
  'DENIED_BY_RULE',
  'ASSURANCE_UNMET',
  'MFA_NOT_PROVEN',
  'AMR_NOT_MET',
  'ACR_NOT_MET',
  'AUTH_TOO_OLD',
  'AUTH_TIME_MISSING',
  'STEP_UP_REQUIRED',
  'ADMIN_NEEDS_MFA',
  // leases re-evaluated, renewed or ended
  'LEASE_TTL_EXCEEDED',
  'LEASE_SHORTENED',
  'LEASE_ROUTES_CHANGED',
  'IDP_REFRESH_REFUSED',
  // who is asking
  'IDENTITY_UNKNOWN',
  'IDENTITY_SUSPENDED',
  'IDENTITY_DEPROVISIONED',
  'GROUPS_INCOMPLETE',
  // Keygate's own second factor
  'ENROLMENT_CODE_REQUIRED',
] as const

export type ReasonCode = (typeof REASON_CODES)[number]

/** One reason behind a refusal: machine-readable code plus a sentence for people. */
export interface Reason {
  code: ReasonCode
  message: string
  /** Where the reason comes from: a grant, a rule, an assurance level, a file position. */
  source?: string
}

/**
 * A policy file's diagnostic given as a reason of POLICY_INVALID: its code is the diagnostic's own
 * (UNKNOWN_GATEWAY, INVALID_CIDR, …, policy/diagnostics.ts) and `source` says where in the file.
 */
export interface DiagnosticReason {
  code: string
  message: string
  source: string
}

/** What a client must do to meet an assurance level: the parameters of a stronger, fresher sign-in. */
export interface StepUpDemand {
  /** The assurance level's name. */
  assurance: string
  mfa: boolean
  amrAny: string[] | null
  acrAny: string[] | null
  /** Sent as OIDC max_age (and RFC 9470's max_age). */
  maxAgeSeconds: number
}

/**
 * The extra fields a refusal may carry for a client to act on, merged into the error body: one registry,
 * each key with one meaning and one type whatever the code, so readers need no casts.
 */
export interface ErrorDetails {
  /** When to come back (RATE_LIMITED, DATABASE_UNAVAILABLE, step-up attempt limits); also Retry-After. */
  retryAfterSeconds?: number
  /** STEP_UP_REQUIRED: the sign-in that would satisfy the policy (also WWW-Authenticate's parameters). */
  stepUp?: StepUpDemand
  /** POLICY_DENIED: the policy's denial code. */
  decision?: ReasonCode
  /** INVALID_REQUEST: the request field at fault, and the character refused in it (as U+XXXX). */
  field?: string
  character?: string
  /** NO_GATEWAY_ENROLLED: the granted gateways that are not online yet. */
  gateways?: string[]
  /** UNKNOWN_IDP, UNKNOWN_GATEWAY: the names that do exist. */
  known?: string[]
  /** LEASE_LIMIT_REACHED: the live leases, so the client can offer to revoke one. */
  leases?: { id: string; name: string | null; expiresAt: string }[]
  /** PUBLIC_KEY_IN_USE: the caller's own live lease that holds the key (to renew or revoke it). */
  leaseId?: string
  /** LEASE_LIMIT_REACHED: the policy's limit. */
  limit?: number
  /** GATEWAY_PROTOCOL_UNSUPPORTED: the protocol versions this side speaks. */
  supported?: number[]
  /** IdP failures: which identity provider, and what it said (its `error` and description). */
  idp?: string
  idpError?: string
  idpErrorDescription?: string
  /** BROKER_UNAVAILABLE (terminal client): the broker's HTTP status. */
  status?: number
}

/** What a KeygateError's `reasons` hold. */
export type ErrorReason = Reason | DiagnosticReason

export interface KeygateErrorOptions {
  reasons?: ErrorReason[]
  cause?: unknown
  /** Extra fields a client may need to act (for example the step-up parameters). */
  details?: ErrorDetails
}

export class KeygateError extends Error {
  readonly code: ErrorCode
  readonly reasons: ErrorReason[] | undefined
  readonly details: ErrorDetails | undefined

  constructor(code: ErrorCode, message: string, options: KeygateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'KeygateError'
    this.code = code
    this.reasons = options.reasons
    this.details = options.details
  }
}

export function isKeygateError(value: unknown, code?: ErrorCode): value is KeygateError {
  return value instanceof KeygateError && (code === undefined || value.code === code)
}
