/**
 * The Hono application: every route of DESIGN.md's contract, built only from injected dependencies so
 * the Node server and the Cloudflare Worker serve the same app. No runtime API is touched here beyond
 * what both runtimes share (fetch types, WebCrypto).
 */
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { csrf } from 'hono/csrf'
import { HTTPException } from 'hono/http-exception'
import { requestId } from 'hono/request-id'
import { secureHeaders } from 'hono/secure-headers'
import type { BrokerDeps, SessionContext } from '../../core/broker/broker-deps.ts'
import type { Config } from '../../core/config.ts'
import { KeygateError } from '../../core/errors.ts'
import { respondWithError, toKeygateError } from './errors.ts'
import type { Metrics } from './metrics.ts'
import { adminRoutes } from './routes/admin-routes.ts'
import { authRoutes } from './routes/auth-routes.ts'
import { gatewayRoutes } from './routes/gateway-routes.ts'
import { healthRoutes, type Readiness } from './routes/health-routes.ts'
import { peerRoutes } from './routes/peer-routes.ts'
import { portalRoutes } from './routes/portal-routes.ts'
import { type CookieCodec, readSessionCookie } from './session-cookie.ts'
import { createSessionLiveness, type SessionLiveness } from './session-liveness.ts'

export const MAX_API_BODY_BYTES = 16 * 1024

export interface AppDeps {
  broker: BrokerDeps
  config: Pick<Config, 'url' | 'production'>
  cookies: CookieCodec
  metrics: Metrics
  readiness: () => Promise<Readiness>
  /** SHA-256 of the token the Node server writes into its data dir for the local CLI (`gateway add`). */
  localAdminTokenHash?: string
  /** Extra route groups an entrypoint adds (the gateway feed, the portal) without this file knowing them. */
  extend?: (app: Hono<AppEnv>) => void
}

export interface AppVariables {
  sessions: SessionLiveness
  session: SessionContext | null
  deps: AppDeps
  /** Who is acting on an admin route: an admin's email, or 'local-cli'. */
  adminActor?: string
}

export type AppEnv = { Variables: AppVariables }

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  const https = deps.config.url.startsWith('https:')
  const sessions = createSessionLiveness(deps.broker.store)

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
      referrerPolicy: 'no-referrer',
    }),
  )
  app.use(async (c, next) => {
    c.set('deps', deps)
    c.set('sessions', sessions)
    const started = performance.now()
    await next()
    deps.metrics.observeRequest(c.req.method, c.res.status, performance.now() - started)
  })
  // Browsers attach SameSite=Lax cookies to top-level cross-site GETs only; every state change is a
  // non-GET, which this checks by Origin / Sec-Fetch-Site (JSON bodies need a CORS preflight anyway).
  // Every current browser sends one of the two on a non-GET; a request with neither is not a browser's
  // (the CLI, a gateway agent, curl) and carries no ambient credentials to abuse.
  const publicOrigin = new URL(deps.config.url).origin
  const checkCsrf = csrf({ origin: (origin) => origin === publicOrigin })
  app.use((c, next) => {
    if (c.req.header('origin') === undefined && c.req.header('sec-fetch-site') === undefined) return next()
    return checkCsrf(c, next)
  })
  app.use(
    '/api/*',
    bodyLimit({
      maxSize: MAX_API_BODY_BYTES,
      onError: () => {
        throw new KeygateError('BODY_TOO_LARGE', `Request bodies are limited to ${MAX_API_BODY_BYTES} bytes`)
      },
    }),
  )
  app.use(async (c, next) => {
    c.set('session', await loadSession(deps, sessions, c))
    await next()
  })

  app.route('/', healthRoutes())
  app.route('/', portalRoutes())
  app.route('/auth', authRoutes())
  app.route('/api/v1', peerRoutes())
  app.route('/api/v1', gatewayRoutes())
  app.route('/api/v1/admin', adminRoutes())
  deps.extend?.(app)

  app.notFound((c) =>
    respondWithError(c, new KeygateError('NOT_FOUND', `No route for ${c.req.method} ${c.req.path}`)),
  )
  app.onError((error, c) => {
    if (error instanceof HTTPException && error.status === 403) {
      return respondWithError(c, new KeygateError('CSRF_FAILED', 'Cross-site request refused'))
    }
    const keygateError = toKeygateError(error)
    if (keygateError.code === 'INTERNAL') {
      deps.broker.logger.error('http.error', { path: c.req.path, error: describe(error) })
    }
    deps.metrics.countError(keygateError.code)
    return respondWithError(c, keygateError)
  })
  return app
}

async function loadSession(
  deps: AppDeps,
  sessions: SessionLiveness,
  c: Parameters<typeof readSessionCookie>[0],
) {
  const session = await readSessionCookie(c, deps.cookies)
  if (session === null) return null
  const now = deps.broker.clock.now()
  if (session.expiresAt <= now) return null
  // The cookie proves who; the store says whether the session was ended (logout, admin action).
  return (await sessions.isLive(session.sessionId, now)) ? session : null
}

export function requireSession(session: SessionContext | null): SessionContext {
  if (session === null) throw new KeygateError('UNAUTHENTICATED', 'Sign in first: no valid session')
  return session
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}
