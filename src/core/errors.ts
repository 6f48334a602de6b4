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
  'AUTH_TIME_MISSING',
  'AUTH_TOO_OLD',
  'RATE_LIMITED',
  'FACTOR_INVALID',
  // leases and gateways
  'ADDRESS_POOL_EXHAUSTED',
  'PUBLIC_KEY_IN_USE',
  'LEASE_NOT_ACTIVE',
  'GATEWAY_UNKNOWN',
  'GATEWAY_CREDENTIAL_INVALID',
  'ENROLLMENT_TOKEN_INVALID',
  // configuration and policy
  'CONFIG_INVALID',
  'POLICY_INVALID',
  'POLICY_TESTS_FAILED',
  'DATABASE_LOCKED',
  // upstream and internal
  'IDP_UNAVAILABLE',
  'INTERNAL',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

/** One reason behind a refusal: machine-readable code plus a sentence for people. */
export interface Reason {
  code: string
  message: string
  /** Where the reason comes from: a grant, a rule, an assurance level, a file position. */
  source?: string
}

export interface KeygateErrorOptions {
  reasons?: Reason[]
  cause?: unknown
  /** Extra fields a client may need to act (for example the step-up parameters). */
  details?: Record<string, unknown>
}

export class KeygateError extends Error {
  readonly code: ErrorCode
  readonly reasons: Reason[] | undefined
  readonly details: Record<string, unknown> | undefined

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
