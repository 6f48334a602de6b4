/**
 * The one table that maps Keygate's error codes to HTTP, and the error body every route returns:
 * `{ "error": { "code", "message", "reasons"? } }`. Unknown errors become INTERNAL with no detail,
 * so nothing from a driver or a library (a token, a SQL fragment) reaches a client.
 */
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { type ErrorCode, KeygateError } from '../../core/errors.ts'

export const STATUS_OF: Record<ErrorCode, ContentfulStatusCode> = {
  INVALID_REQUEST: 400,
  INVALID_PUBLIC_KEY: 400,
  BODY_TOO_LARGE: 413,
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
  AUTH_TIME_MISSING: 401,
  AUTH_TOO_OLD: 401,
  RATE_LIMITED: 429,
  FACTOR_INVALID: 401,
  ADDRESS_POOL_EXHAUSTED: 409,
  PUBLIC_KEY_IN_USE: 409,
  LEASE_NOT_ACTIVE: 409,
  GATEWAY_UNKNOWN: 404,
  GATEWAY_CREDENTIAL_INVALID: 401,
  ENROLLMENT_TOKEN_INVALID: 401,
  CONFIG_INVALID: 500,
  POLICY_INVALID: 500,
  POLICY_TESTS_FAILED: 500,
  DATABASE_LOCKED: 503,
  IDP_UNAVAILABLE: 502,
  INTERNAL: 500,
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; reasons?: KeygateError['reasons']; [key: string]: unknown }
}

export function toKeygateError(error: unknown): KeygateError {
  if (error instanceof KeygateError) return error
  return new KeygateError('INTERNAL', 'Internal error', { cause: error })
}

export function errorBody(error: KeygateError): ErrorBody {
  const body: ErrorBody = { error: { code: error.code, message: error.message } }
  if (error.reasons !== undefined) body.error.reasons = error.reasons
  if (error.details !== undefined) Object.assign(body.error, error.details)
  return body
}

export function respondWithError(c: Context, error: KeygateError): Response {
  const status = STATUS_OF[error.code]
  if (error.code === 'STEP_UP_REQUIRED') {
    const stepUp = error.details?.stepUp as { maxAgeSeconds?: number; acrAny?: string[] | null } | undefined
    const params = ['error="insufficient_user_authentication"', `error_description="${error.message}"`]
    if (stepUp?.acrAny?.length) params.push(`acr_values="${stepUp.acrAny.join(' ')}"`)
    if (stepUp?.maxAgeSeconds !== undefined) params.push(`max_age=${stepUp.maxAgeSeconds}`)
    c.header('WWW-Authenticate', `Bearer ${params.join(', ')}`)
  }
  return c.json(errorBody(error), status)
}
