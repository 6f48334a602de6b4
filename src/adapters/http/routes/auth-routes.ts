/**
 * Sign-in and sign-out: `GET /auth/:idp/login`, `GET /auth/:idp/callback`, `POST /auth/logout`.
 * Tokens never travel in a URL: the IdP returns a code, and the session is a cookie.
 */
import { Hono } from 'hono'
import { beginSignIn, completeSignIn, endSession } from '../../../core/broker/sign-in.ts'
import type { AppEnv } from '../app.ts'
import {
  clearLoginCookie,
  clearSessionCookie,
  readLoginCookie,
  writeLoginCookie,
  writeSessionCookie,
} from '../session-cookie.ts'

export function authRoutes() {
  const routes = new Hono<AppEnv>()

  routes.get('/:idp/login', async (c) => {
    const deps = c.get('deps')
    const idpId = c.req.param('idp')
    const { url, pending, expiresAt } = await beginSignIn(deps.broker, {
      idpId,
      redirectUri: callbackUrl(deps.config.url, idpId),
      returnTo: safeReturnTo(c.req.query('returnTo')),
      stepUp: c.req.query('stepUp') === '1',
    })
    await writeLoginCookie(c, deps.cookies, pending, expiresAt)
    c.header('Cache-Control', 'no-store')
    return c.redirect(url, 302)
  })

  routes.get('/:idp/callback', async (c) => {
    const deps = c.get('deps')
    const pending = await readLoginCookie(c, deps.cookies)
    // The pre-login cookie is single-use whatever happens next.
    clearLoginCookie(c, deps.cookies)
    // openid-client needs the URL the IdP redirected to, on the public base URL (not a proxy's view).
    const requestUrl = new URL(c.req.url)
    const callback = new URL(callbackUrl(deps.config.url, c.req.param('idp')))
    callback.search = requestUrl.search
    const done = await completeSignIn(deps.broker, {
      idpId: c.req.param('idp'),
      callbackUrl: callback,
      pending,
    })
    await writeSessionCookie(c, deps.cookies, {
      sessionId: done.sessionId,
      identityId: done.identity.id,
      idpId: done.identity.idpId,
      issuer: done.identity.issuer,
      subject: done.identity.subject,
      // Policy matches `user:` and `domain:` on this email, so an address the IdP has not verified must
      // not count: otherwise anyone who can set an unverified email at some IdP could claim a domain.
      email: done.identity.emailVerified ? done.identity.email : null,
      groups: done.identity.groups,
      auth: done.auth,
      expiresAt: done.sessionExpiresAt,
    })
    c.header('Cache-Control', 'no-store')
    return c.redirect(done.returnTo, 303)
  })

  routes.post('/logout', async (c) => {
    const deps = c.get('deps')
    const session = c.get('session')
    if (session !== null) {
      await endSession(deps.broker, session.sessionId, session.identityId)
      c.get('sessions').forget(session.sessionId)
    }
    clearSessionCookie(c, deps.cookies)
    const wantsPage = (c.req.header('accept') ?? '').includes('text/html')
    return wantsPage ? c.redirect('/', 303) : c.body(null, 204)
  })

  return routes
}

export function callbackUrl(baseUrl: string, idpId: string): string {
  return `${baseUrl}/auth/${encodeURIComponent(idpId)}/callback`
}

/** Only same-site paths: an open redirect after sign-in would hand phishers a trusted link. */
export function safeReturnTo(value: string | undefined): string {
  if (value === undefined || !value.startsWith('/') || value.startsWith('//') || value.includes('\\'))
    return '/'
  return value
}
