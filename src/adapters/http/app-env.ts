/**
 * The HTTP seam's shared types: what the app is built from (`AppDeps`) and what every request carries
 * (`AppEnv`: the session, the acting admin). Dependencies are not request state: each route module's
 * factory takes the part of `AppDeps` it uses and its handlers close over it, so what a route can touch
 * is in its signature. Route modules import this and request.ts, never app.ts or one another, so a
 * route can be read and tested on its own.
 */
import type { Hono } from 'hono'
import type { BrokerDeps, SessionContext } from '../../core/broker/broker-deps.ts'
import type { Config } from '../../core/config.ts'
import type { DeviceStore } from '../../core/device/device-store.ts'
import type { PolicyStatusSource } from '../../core/policy/index.ts'
import type { RateLimiter } from '../../core/ports.ts'
import type { Metrics } from './metrics.ts'
import type { ClientAddressOf } from './rate-limit.ts'
import type { CookieCodec } from './session-cookie.ts'
import type { SessionLiveness } from './session-liveness.ts'

/** What `/readyz` (booleans only) and the admin readiness view (with details) are built from. */
export interface Readiness {
  ready: boolean
  checks: Record<string, { ok: boolean; detail?: unknown }>
}

export interface AppDeps {
  broker: BrokerDeps
  config: Pick<Config, 'url' | 'production' | 'clientIpHeader'>
  cookies: CookieCodec
  limiter: RateLimiter
  /** The runtime's view of the client's address (the socket peer on Node, CF-Connecting-IP on Workers). */
  clientAddress?: ClientAddressOf
  metrics: Metrics
  /** The runtime's readiness checks (database, feed listener); the app adds the policy's (readiness.ts). */
  readiness: () => Promise<Readiness>
  /** The live policy's status: the one source of what readiness, the admin API and console show of it. */
  policyStatus: PolicyStatusSource
  /** The terminal client's sign-in (RFC 8628) and credentials; without it those routes answer 404. */
  devices?: DeviceStore
  /** The session-liveness memory; made here when the entrypoint does not share one with the store. */
  sessions?: SessionLiveness
  /** SHA-256 of the token the Node server writes into its data dir for the local CLI (`gateway add`). */
  localAdminTokenHash?: string
  /** Extra route groups an entrypoint adds (step-up) without this file knowing them, with the
   *  session-liveness memory the app uses (the one made here when `sessions` is not given). */
  extend?: (app: Hono<AppEnv>, sessions: SessionLiveness) => void
}

export interface AppVariables {
  session: SessionContext | null
  /** Who is acting on an admin route: an admin's email, or 'local-cli'. */
  adminActor?: string
  /** Whose `Idempotency-Key`s an admin request uses: the admin's identity id, or 'local-cli'. */
  adminKeyOwner?: string
}

export type AppEnv = { Variables: AppVariables }
