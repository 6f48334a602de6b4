/**
 * Sign-in and sign-out: `GET /auth/:idp/login`, `GET /auth/:idp/callback`, `POST /auth/logout`.
 * Tokens never travel in a URL: the IdP returns a code, and the session is a cookie.
 */
import { type Context, Hono } from 'hono'
import { backchannelLogout, signOutEverywhere } from '../../../core/broker/identity-lifecycle.ts'
import { beginSignIn, completeSignIn, endSession } from '../../../core/broker/sign-in.ts'
import { type ErrorCode, isKeygateError, KeygateError } from '../../../core/errors.ts'
import type { Logger } from '../../../core/ports.ts'
import type { AppDeps, AppEnv } from '../app-env.ts'
import { STATUS_OF } from '../errors.ts'
import { ErrorPage } from '../pages/error-page.tsx'
import { renderPage } from '../pages/layout.tsx'
import { safeReturnTo } from '../return-to.ts'
import {
  clearLoginCookie,
  clearSessionCookie,
  readLoginCookie,
  writeLoginCookie,
  writeSessionCookie,
} from '../session-cookie.ts'
import type { SessionLiveness } from '../session-liveness.ts'

export interface AuthRouteDeps extends Pick<AppDeps, 'broker' | 'config' | 'cookies' | 'metrics'> {
  /** The session-liveness memory, told at once when a sign-out ends a session. */
  sessions: SessionLiveness
}

export function authRoutes(deps: AuthRouteDeps) {
  const routes = new Hono<AppEnv>()

  routes.get('/:idp/login', async (c) => {
    const idpId = c.req.param('idp')
    const started = await beginSignIn(deps.broker, {
      idpId,
      redirectUri: callbackUrl(deps.config.url, idpId),
      returnTo: safeReturnTo(c.req.query('returnTo'), deps.config.url),
      stepUp: c.req.query('stepUp') === '1',
    }).catch((error: unknown) => ({ failed: forAnonymousClient(deps.broker.logger, error) }))
    if ('failed' in started) return signInFailed(c, deps, idpId, started.failed)
    const { url, pending, expiresAt } = started
    await writeLoginCookie(c, deps.cookies, pending, expiresAt)
    c.header('Cache-Control', 'no-store')
    return c.redirect(url, 302)
  })

  routes.get('/:idp/callback', async (c) => {
    const pending = await readLoginCookie(c, deps.cookies)
    // The pre-login cookie is single-use whatever happens next.
    clearLoginCookie(c, deps.cookies)
    // openid-client needs the URL the IdP redirected to, on the public base URL (not a proxy's view).
    const requestUrl = new URL(c.req.url)
    const idpId = c.req.param('idp')
    const callback = new URL(callbackUrl(deps.config.url, idpId))
    callback.search = requestUrl.search
    let done: Awaited<ReturnType<typeof completeSignIn>>
    try {
      done = await completeSignIn(deps.broker, { idpId, callbackUrl: callback, pending })
    } catch (error) {
      // Failed sign-ins are counted here, not stored: anonymous callers must not grow the database.
      deps.metrics.count('keygate_login_failures_total', 'Failed sign-in callbacks by IdP and code', {
        idp: deps.broker.idps.has(idpId) ? idpId : 'unknown',
        code: isKeygateError(error) ? error.code : 'INTERNAL',
      })
      return signInFailed(c, deps, idpId, forAnonymousClient(deps.broker.logger, error))
    }
    await writeSessionCookie(c, deps.cookies, {
      sessionId: done.sessionId,
      expiresAt: done.sessionExpiresAt,
    })
    c.header('Cache-Control', 'no-store')
    // Checked again on the way out: a cookie sealed by an older version may carry any value.
    return c.redirect(safeReturnTo(done.returnTo, deps.config.url), 303)
  })

  routes.post('/logout', async (c) => {
    const session = c.get('session')
    if (session !== null) {
      await endSession(deps.broker, session.sessionId, session.identityId)
      deps.sessions.forget(session.sessionId)
    }
    clearSessionCookie(c, deps.cookies)
    const wantsPage = (c.req.header('accept') ?? '').includes('text/html')
    return wantsPage ? c.redirect('/', 303) : c.body(null, 204)
  })

  // The user's own "sign out everywhere": every session of this identity ends (other browsers, the CLI).
  routes.post('/logout/everywhere', async (c) => {
    const session = c.get('session')
    if (session !== null) {
      await signOutEverywhere(deps.broker, session.identityId, session.email ?? session.subject, 'self')
      deps.sessions.forget(session.sessionId)
    }
    clearSessionCookie(c, deps.cookies)
    const wantsPage = (c.req.header('accept') ?? '').includes('text/html')
    return wantsPage ? c.redirect('/', 303) : c.body(null, 204)
  })

  // OIDC Back-Channel Logout 1.0 §2.5, §2.8: a form-encoded logout_token; 200 when done, 400 with an
  // OAuth-style error body when the token is refused. Never cached.
  routes.post('/:idp/backchannel-logout', async (c) => {
    c.header('Cache-Control', 'no-store')
    try {
      const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>)
      await backchannelLogout(deps.broker, c.req.param('idp'), form.logout_token)
      return c.body(null, 200)
    } catch (error) {
      if (isKeygateError(error, 'INVALID_REQUEST')) {
        deps.broker.logger.warn('logout.backchannel_refused', {
          idp: c.req.param('idp'),
          message: error.message,
        })
        return c.json({ error: 'invalid_request', error_description: error.message }, STATUS_OF[error.code])
      }
      throw error
    }
  })

  return routes
}

/**
 * A failed sign-in as its client should see it. An API client gets the error body. A browser gets a
 * page: one that already holds a session (a replayed callback, a second tab that finished first) goes to
 * "My access"; one without gets the reason and a way to sign in again.
 */
function signInFailed(
  c: Context<AppEnv>,
  deps: Pick<AppDeps, 'broker'>,
  idpId: string,
  error: unknown,
): Response | Promise<Response> {
  // A browser's navigation asks for HTML and never for JSON; a client naming JSON gets the error body.
  const accept = c.req.header('accept') ?? ''
  const wantsPage = accept.includes('text/html') && !accept.includes('application/json')
  if (!wantsPage || !isKeygateError(error)) throw error
  c.header('Cache-Control', 'no-store')
  if (c.get('session') !== null) return c.redirect('/', 303)
  const known = deps.broker.idps.has(idpId)
  // The page keeps the error's own status (a 502 for an unreachable IdP).
  return renderPage(
    c,
    ErrorPage({
      viewer: null,
      title: 'Sign-in did not finish',
      message: error.message,
      code: error.code,
      reasons: error.reasons ?? [],
      back: known
        ? { href: `/auth/${encodeURIComponent(idpId)}/login`, label: 'Sign in again' }
        : { href: '/', label: 'Back to sign-in' },
    }),
    STATUS_OF[error.code],
  )
}

export function callbackUrl(baseUrl: string, idpId: string): string {
  return `${baseUrl}/auth/${encodeURIComponent(idpId)}/callback`
}

/**
 * The error a browser that is not signed in gets: Keygate's own messages pass, but what describes the
 * IdP's side (a TLS or network failure, a verification detail from openid-client) goes to the log
 * only, and the client gets the code with a plain sentence.
 */
export function forAnonymousClient(logger: Logger, error: unknown): unknown {
  if (!isKeygateError(error)) return error
  const idp = typeof error.details?.idp === 'string' ? error.details.idp : undefined
  const plain: Partial<Record<ErrorCode, string>> = {
    IDP_UNAVAILABLE: `The identity provider${idp === undefined ? '' : ` "${idp}"`} cannot be reached or answered unusably; the administrator can see why in the server log`,
    LOGIN_FAILED:
      'The identity provider’s answer could not be accepted; sign in again, or ask the administrator (the server log says why)',
  }
  const message = plain[error.code]
  // A refusal in the IdP's own words (access_denied, a rejected code) and Keygate's own reasons stay.
  if (message === undefined || error.details?.idpError !== undefined || error.reasons !== undefined)
    return error
  logger.warn('auth.error_detail', { code: error.code, idp, detail: error.message })
  return new KeygateError(error.code, message, idp === undefined ? {} : { details: { idp } })
}
