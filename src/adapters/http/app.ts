/**
 * The Hono application: every route of DESIGN.md's contract, built only from injected dependencies so
 * the Node server and the Cloudflare Worker serve the same app. No runtime API is touched here beyond
 * what both runtimes share (fetch types, WebCrypto). Each route group's factory is handed the
 * dependencies it uses here, once; requests carry only per-request state (the session, the admin).
 */
import { type Context, Hono } from 'hono'
import { requestId } from 'hono/request-id'
import { secureHeaders } from 'hono/secure-headers'
import { KeygateError } from '../../core/errors.ts'
import type { AppDeps, AppEnv } from './app-env.ts'
import { limitBody } from './body-limit.ts'
import { respondWithError, toKeygateError } from './errors.ts'
import { clientKey, rateLimit, rateLimitFailures } from './rate-limit.ts'
import { withPolicyCheck } from './readiness.ts'
import { adminRoutes } from './routes/admin-routes.ts'
import { authRoutes } from './routes/auth-routes.ts'
import { deviceApprovalRoutes } from './routes/device-approval-routes.ts'
import { deviceRoutes } from './routes/device-routes.ts'
import { gatewayRoutes } from './routes/gateway-routes.ts'
import { healthRoutes } from './routes/health-routes.ts'
import { peerRoutes } from './routes/peer-routes.ts'
import { portalRoutes } from './routes/portal-routes.ts'
import { scimRoutes } from './routes/scim-routes.ts'
import { createSessionLiveness } from './session-liveness.ts'
import { sessionMiddleware } from './session-middleware.ts'

/** The largest request body any route accepts (the biggest real one, a WebAuthn response, is a few KB). */
export const MAX_BODY_BYTES = 64 * 1024

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  const https = deps.config.url.startsWith('https:')
  const sessions = deps.sessions ?? createSessionLiveness(deps.broker.store)

  app.use(requestId())
  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
      },
      strictTransportSecurity: https ? 'max-age=63072000; includeSubDomains' : false,
      // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on our own form posts,
      // which the cross-site check must refuse; other sites still get no referrer at all.
      referrerPolicy: 'same-origin',
    }),
  )
  app.use(async (c, next) => {
    const started = performance.now()
    await next()
    deps.metrics.observeRequest(c.req.method, c.res.status, performance.now() - started)
  })
  // Browsers attach SameSite=Lax cookies to top-level cross-site GETs only, so every state change is a
  // non-GET, and a non-GET that a browser marks as cross-site (Origin other than ours, or Sec-Fetch-Site
  // other than same-origin / none) is refused whatever its content type: a JSON body is no defence once
  // some route accepts a simple request. A request with neither header is not a browser's (the CLI, a
  // gateway agent, an IdP's back channel) and carries no ambient credentials to abuse.
  const publicOrigin = new URL(deps.config.url).origin
  app.use(async (c, next) => {
    if (
      !isCrossSiteStateChange(
        c.req.method,
        c.req.header('origin'),
        c.req.header('sec-fetch-site'),
        publicOrigin,
      )
    )
      return next()
    throw new KeygateError('CSRF_FAILED', 'Cross-site request refused')
  })
  // Every route, pages and forms included: a body is read whole before a route sees it.
  app.use(limitBody(MAX_BODY_BYTES))
  const byAddress = (c: Context<AppEnv>) => clientKey(c, deps.config.clientIpHeader, deps.clientAddress)
  app.use('/auth/*', rateLimit(deps.limiter, 'auth', byAddress))
  app.use('/api/v1/gateways/*', rateLimitFailures(deps.limiter, 'gatewayAuthFailure', byAddress))
  app.use(sessionMiddleware(deps.cookies, sessions, deps.broker.clock))
  app.post('/api/v1/device/authorize', rateLimit(deps.limiter, 'deviceStart', byAddress))
  // A user code that names no waiting device is a 404 of the approval page: counted per person.
  app.get(
    '/device',
    rateLimitFailures(
      deps.limiter,
      'userCodeFailure',
      (c) => {
        const session = c.get('session')
        return session === null ? `address:${byAddress(c)}` : `identity:${session.identityId}`
      },
      (status) => status === 404,
    ),
  )
  // Issuance is limited per identity (people behind one NAT do not share a budget), else per address.
  app.post(
    '/api/v1/peers',
    rateLimit(deps.limiter, 'issue', (c) => {
      const session = c.get('session')
      return session === null ? `address:${byAddress(c)}` : `identity:${session.identityId}`
    }),
  )

  // What the routes are handed: the policy's readiness check comes from the policy-status port.
  const served = { ...deps, sessions, readiness: withPolicyCheck(deps.readiness, deps.policyStatus) }
  app.route('/', healthRoutes(served))
  app.route('/', portalRoutes(served))
  app.route('/', deviceApprovalRoutes(served))
  app.route('/auth', authRoutes(served))
  app.route('/api/v1', peerRoutes(served))
  app.route('/api/v1', deviceRoutes(served))
  app.route('/api/v1', gatewayRoutes(served))
  app.route('/api/v1/admin', adminRoutes(served))
  app.route('/scim/v2', scimRoutes({ ...served, limit: (c) => deps.limiter.hit('scim', byAddress(c)) }))
  deps.extend?.(app, sessions)

  app.notFound((c) =>
    respondWithError(c, new KeygateError('NOT_FOUND', `No route for ${c.req.method} ${c.req.path}`)),
  )
  app.onError((error, c) => {
    const keygateError = toKeygateError(error)
    if (keygateError.code === 'INTERNAL') {
      deps.broker.logger.error('http.error', { path: c.req.path, error: describe(error) })
    }
    deps.metrics.countError(keygateError.code)
    return respondWithError(c, keygateError)
  })
  return app
}

export function isCrossSiteStateChange(
  method: string,
  origin: string | undefined,
  fetchSite: string | undefined,
  publicOrigin: string,
): boolean {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return false
  if (origin !== undefined && origin !== publicOrigin) return true
  return fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none'
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}
