/**
 * The one place where openid-client's (and oauth4webapi's) errors become Keygate error codes.
 *
 * Messages say what went wrong in the user's and admin's words. Nothing from the response is copied
 * except the IdP's own `error`/`error_description`: the causes openid-client attaches carry the
 * authorization code and the ID token claims, so they are never passed on (not even as `cause`).
 */
import * as oidc from 'openid-client'
import { type ErrorCode, KeygateError } from '../../core/errors.ts'

/** Where in the flow the error happened: discovery failures are always the IdP being unreachable. */
export type OidcStage = 'discovery' | 'callback' | 'refresh'

// oauth4webapi's codes, repeated here because openid-client re-exports the classes but not the constants.
const INVALID_RESPONSE = 'OAUTH_INVALID_RESPONSE'
const JWT_TIMESTAMP_CHECK = 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED'
const UNREACHABLE_CODES = new Set([
  'OAUTH_RESPONSE_IS_NOT_CONFORM',
  'OAUTH_RESPONSE_IS_NOT_JSON',
  'OAUTH_TIMEOUT',
  'OAUTH_ABORT',
])

export function translateOidcError(error: unknown, stage: OidcStage, idpId: string): KeygateError {
  if (error instanceof KeygateError) return error
  const fail = (code: ErrorCode, message: string, details?: Record<string, unknown>) =>
    new KeygateError(code, message, { details: { idp: idpId, ...details } })

  if (stage === 'discovery') {
    return fail(
      'IDP_UNAVAILABLE',
      `The identity provider "${idpId}" could not be reached or its discovery document is invalid (${describe(error)})`,
    )
  }

  if (error instanceof oidc.AuthorizationResponseError) {
    // The IdP refused in the browser: access_denied, login_required, unmet_authentication_requirements…
    return fail('LOGIN_FAILED', `The identity provider refused the sign-in: ${error.error}`, {
      idpError: error.error,
      idpErrorDescription: error.error_description,
    })
  }
  if (error instanceof oidc.ResponseBodyError) {
    if (error.status >= 500)
      return fail('IDP_UNAVAILABLE', `The identity provider "${idpId}" failed (HTTP ${error.status})`)
    // invalid_grant: the code was used already, expired, or the PKCE verifier does not match.
    return fail('LOGIN_FAILED', `The identity provider rejected the code exchange: ${error.error}`, {
      idpError: error.error,
      idpErrorDescription: error.error_description,
    })
  }
  if (error instanceof oidc.WWWAuthenticateChallengeError) {
    return fail('LOGIN_FAILED', 'The identity provider rejected Keygate’s client credentials')
  }
  if (error instanceof oidc.ClientError) {
    const inner = error.cause instanceof Error ? error.cause : undefined
    const detail = inner?.message ?? error.message
    if (error.code === INVALID_RESPONSE && /"state"/.test(detail)) {
      return fail(
        'LOGIN_STATE_INVALID',
        'The state returned by the identity provider does not match this sign-in',
      )
    }
    if (error.code === INVALID_RESPONSE && /"auth_time"/.test(detail)) {
      return fail(
        'AUTH_TIME_MISSING',
        'The identity provider did not say when the user signed in (auth_time)',
      )
    }
    if (error.code === JWT_TIMESTAMP_CHECK && claimOf(inner) === 'auth_time') {
      return fail('AUTH_TOO_OLD', 'The sign-in at the identity provider is older than the maximum auth age')
    }
    if (error.code !== undefined && UNREACHABLE_CODES.has(error.code)) {
      return fail('IDP_UNAVAILABLE', `The identity provider "${idpId}" gave an unusable response (${detail})`)
    }
    return fail('LOGIN_FAILED', `The identity provider's response failed verification (${detail})`, {
      reason: error.code,
    })
  }
  if (isNetworkError(error)) {
    return fail(
      'IDP_UNAVAILABLE',
      `The identity provider "${idpId}" could not be reached (${describe(error)})`,
    )
  }
  return fail('LOGIN_FAILED', `The sign-in could not be completed (${describe(error)})`)
}

/** oauth4webapi puts `{ claim: 'auth_time', … }` on the cause of a failed timestamp check. */
function claimOf(inner: Error | undefined): unknown {
  const cause = inner?.cause
  return typeof cause === 'object' && cause !== null && 'claim' in cause ? cause.claim : undefined
}

/** fetch() rejects with a bare TypeError ("fetch failed") on DNS, connection and TLS failures. */
function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError && !('code' in error) && /fetch failed|network/i.test(error.message)
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const inner = error.cause instanceof Error ? `: ${error.cause.message}` : ''
  const code = 'code' in error && typeof error.code === 'string' ? ` [${error.code}]` : ''
  return `${error.message}${inner}${code}`
}
