/**
 * The one table that maps Keygate's error codes to HTTP, and the error body every route returns:
 * `{ "error": { "code", "message", "reasons"? } }`. Unknown errors become INTERNAL with no detail,
 * so nothing from a driver or a library (a token, a SQL fragment) reaches a client. Pages and
 * protocol-shaped answers (OAuth, SCIM, back-channel logout) take their error statuses from here too,
 * so one outcome has one status whichever client sees it (test/architecture.test.ts checks it).
 */
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { type ErrorCode, KeygateError } from '../../core/errors.ts'

export const STATUS_OF: Record<ErrorCode, ContentfulStatusCode> = {
  INVALID_REQUEST: 400,
  INVALID_PUBLIC_KEY: 400,
  BODY_TOO_LARGE: 413,
  LENGTH_REQUIRED: 411,
  NOT_FOUND: 404,
  UNKNOWN_IDP: 404,
  UNAUTHENTICATED: 401,
  CSRF_FAILED: 403,
  FORBIDDEN: 403,
  MFA_REQUIRED: 403,
  // RFC 9470: a step-up demand is a 401 with WWW-Authenticate, so API clients know to re-authenticate.
  STEP_UP_REQUIRED: 401,
  POLICY_DENIED: 403,
  LOGIN_STATE_INVALID: 400,
  LOGIN_FAILED: 401,
  GROUPS_INCOMPLETE: 401,
  AUTH_TIME_MISSING: 401,
  AUTH_TOO_OLD: 401,
  RATE_LIMITED: 429,
  FACTOR_INVALID: 401,
  ENROLMENT_CODE_REQUIRED: 403,
  IDENTITY_SUSPENDED: 403,
  ADDRESS_POOL_EXHAUSTED: 409,
  PUBLIC_KEY_IN_USE: 409,
  LEASE_LIMIT_REACHED: 409,
  LEASE_NOT_ACTIVE: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  GATEWAY_UNKNOWN: 404,
  GATEWAY_CREDENTIAL_INVALID: 401,
  ENROLLMENT_TOKEN_INVALID: 401,
  // RFC 9110 426: the agent must be upgraded to the broker's gateway protocol.
  GATEWAY_PROTOCOL_UNSUPPORTED: 426,
  // The request is fine; the deployment is not ready for it yet (no granted gateway has enrolled).
  NO_GATEWAY_ENROLLED: 409,
  PACKET_FILTER_UNAVAILABLE: 500,
  BROKER_URL_INSECURE: 500,
  CLIENT_CREDENTIAL_INVALID: 401,
  CONFIG_INVALID: 500,
  POLICY_INVALID: 500,
  POLICY_TESTS_FAILED: 500,
  DATABASE_LOCKED: 503,
  DATABASE_UNAVAILABLE: 503,
  IDP_UNAVAILABLE: 502,
  BROKER_UNAVAILABLE: 502,
  INTERNAL: 500,
}

/**
 * Not ready (`/readyz`, the admin readiness view): what probes and load balancers read as "send no
 * traffic here". Not an error code: nothing about the request itself failed.
 */
export const NOT_READY_STATUS: ContentfulStatusCode = 503

/** A fault on our side (the operator reads why in the log), not something the caller can fix. */
export function isServerFault(code: ErrorCode): boolean {
  return STATUS_OF[code] >= 500
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; reasons?: KeygateError['reasons']; [key: string]: unknown }
}

export function toKeygateError(error: unknown): KeygateError {
  if (error instanceof KeygateError) return error
  return new KeygateError('INTERNAL', 'Internal error', { cause: error })
}

export function errorBody(error: KeygateError): ErrorBody {
  // An internal error's message is for the operator's log (it may name a secret's state, a driver, a
  // file): the client learns only that it happened.
  if (error.code === 'INTERNAL') return { error: { code: 'INTERNAL', message: 'Internal error' } }
  const body: ErrorBody = { error: { code: error.code, message: error.message } }
  if (error.reasons !== undefined) body.error.reasons = error.reasons
  if (error.details !== undefined) Object.assign(body.error, error.details)
  return body
}

export function respondWithError(c: Context, error: KeygateError): Response {
  const status = STATUS_OF[error.code]
  // Any refusal that says when to come back (a database outage, a rate limit) says it in HTTP's words too.
  const retryAfter = error.details?.retryAfterSeconds
  if (typeof retryAfter === 'number') c.header('Retry-After', String(Math.max(1, Math.ceil(retryAfter))))
  // A sign-in too old is RFC 9470's case too (max_age): clients re-authenticate the same way.
  if (error.code === 'STEP_UP_REQUIRED' || (error.code === 'AUTH_TOO_OLD' && error.details?.stepUp)) {
    const stepUp = error.details?.stepUp
    const params = ['error="insufficient_user_authentication"', `error_description="${error.message}"`]
    if (stepUp?.acrAny?.length) params.push(`acr_values="${stepUp.acrAny.join(' ')}"`)
    if (stepUp?.maxAgeSeconds !== undefined) params.push(`max_age=${stepUp.maxAgeSeconds}`)
    c.header('WWW-Authenticate', `Bearer ${params.join(', ')}`)
  }
  if (error.code === 'RATE_LIMITED') {
    const seconds = error.details?.retryAfterSeconds
    c.header('Retry-After', String(typeof seconds === 'number' ? seconds : 60))
  }
  return c.json(errorBody(error), status)
}
