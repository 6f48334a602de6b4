/**
 * The one object graph of a broker, shared by the Node server and the Worker: given a store, a policy,
 * identity providers and a notifier, it builds the use cases' dependencies and the Hono app. Wiring only.
 */
import type { Hono } from 'hono'
import { createSecretBox } from '../adapters/crypto/secret-box.ts'
import { createApp } from '../adapters/http/app.ts'
import type { AppEnv, Readiness } from '../adapters/http/app-env.ts'
import { createMetrics, type Metrics } from '../adapters/http/metrics.ts'
import type { ClientAddressOf } from '../adapters/http/rate-limit.ts'
import { enrolmentCodeRoutes, stepUpRoutes } from '../adapters/http/routes/step-up-routes.ts'
import { createCookieCodec } from '../adapters/http/session-cookie.ts'
import { createSessionLiveness, type SessionLiveness } from '../adapters/http/session-liveness.ts'
import { createMemoryRateLimiter } from '../adapters/limits/memory-rate-limiter.ts'
import { cryptoRandom, systemClock } from '../adapters/runtime/web-runtime.ts'
import { createStepUpService } from '../adapters/step-up/step-up-service.ts'
import type { BrokerDeps } from '../core/broker/broker-deps.ts'
import { createGatewayDirectory } from '../core/broker/gateway-directory.ts'
import { createGatewayFeedReader } from '../core/broker/gateway-feed-reads.ts'
import type { Config } from '../core/config.ts'
import type { DeviceStore } from '../core/device/device-store.ts'
import { DEFAULT_RATE_LIMITS } from '../core/limits/rate-limit.ts'
import { type CompiledPolicy, fixedPolicyStatus, type PolicyStatusSource } from '../core/policy/index.ts'
import type {
  ChangeNotifier,
  Clock,
  IdentityProvider,
  Logger,
  Random,
  RateLimiter,
  Store,
} from '../core/ports.ts'
import { expectedOrigin, type FactorStore, relyingPartyId, type StepUpConfig } from '../core/step-up/index.ts'

export interface ComposeOptions {
  config: Pick<Config, 'url' | 'production'> & Partial<Pick<Config, 'rateLimits' | 'clientIpHeader'>>
  /** Default: a per-process limiter over `config.rateLimits` (Workers pass Cloudflare's bindings). */
  limiter?: (clock: Clock) => RateLimiter
  clientAddress?: ClientAddressOf
  store: Store
  secret: string
  /** Secrets that still open values at rest during a rotation (KEYGATE_SECRET_PREVIOUS). */
  previousSecrets?: readonly string[]
  policy: () => CompiledPolicy
  /** What readiness and the admin console show of the live policy; default: a policy that never reloads. */
  policyStatus?: PolicyStatusSource
  idps: ReadonlyMap<string, IdentityProvider>
  logger: Logger
  notifier: ChangeNotifier
  /** Caps how long a gateway's sync is held (Workers). */
  maxSyncWaitMs?: number
  /** Whether gateways' feed reads and credential lookups in the same turn share one statement
   *  (default, core/broker/read-coalescer.ts); Workers turn it off, as one request's database
   *  connection cannot serve another's read. */
  coalesceReads?: boolean
  /** The runtime's own checks; the policy's is added from `policyStatus`. */
  readiness?: (broker: BrokerDeps) => Promise<Readiness>
  localAdminTokenHash?: string
  /** Keygate's own second factors (TOTP, WebAuthn); without them step-up routes are not served. */
  factors?: FactorStore
  /** KEYGATE_FIRST_FACTOR and the WebAuthn attestation settings (parseStepUpConfig). */
  stepUp?: StepUpConfig
  /** The terminal client's sign-in (RFC 8628) and credentials. */
  devices?: DeviceStore
  clock?: Clock
  random?: Random
  extend?: (app: Hono<AppEnv>, broker: BrokerDeps) => void
}

export interface ComposedApp {
  app: Hono<AppEnv>
  broker: BrokerDeps
  metrics: Metrics
}

export async function composeApp(options: ComposeOptions): Promise<ComposedApp> {
  const clock = options.clock ?? systemClock
  const sessions = createSessionLiveness(options.store)
  const store = forgettingEndedSessions(options.store, sessions)
  const sealer = createSecretBox(options.secret, options.previousSecrets ?? [])
  const coalesce = { coalesce: options.coalesceReads ?? true }
  const broker: BrokerDeps = {
    store,
    clock,
    random: options.random ?? cryptoRandom,
    logger: options.logger,
    sealer,
    policy: options.policy,
    idps: options.idps,
    gateways: createGatewayDirectory(store, clock, undefined, coalesce),
    notifier: options.notifier,
    feeds: createGatewayFeedReader({ store, sealer, clock }, coalesce),
    ...(options.maxSyncWaitMs === undefined ? {} : { maxSyncWaitMs: options.maxSyncWaitMs }),
  }
  const metrics = createMetrics()
  const readiness = options.readiness ?? (() => defaultReadiness(broker))
  const app = createApp({
    broker,
    config: { ...options.config, clientIpHeader: options.config.clientIpHeader ?? null },
    limiter:
      options.limiter?.(clock) ??
      createMemoryRateLimiter(options.config.rateLimits ?? DEFAULT_RATE_LIMITS, clock),
    ...(options.clientAddress === undefined ? {} : { clientAddress: options.clientAddress }),
    sessions,
    cookies: await createCookieCodec(options.secret, options.config.url),
    metrics,
    readiness: () => readiness(broker),
    policyStatus: options.policyStatus ?? (() => fixedPolicyStatus(options.policy())),
    ...(options.devices === undefined ? {} : { devices: options.devices }),
    ...(options.localAdminTokenHash === undefined
      ? {}
      : { localAdminTokenHash: options.localAdminTokenHash }),
    extend: (a: Hono<AppEnv>, appSessions: SessionLiveness) => {
      if (options.factors !== undefined) {
        const service = createStepUpService({
          broker,
          factors: options.factors,
          relyingParty: {
            id: relyingPartyId(options.config.url),
            name: 'Keygate',
            origin: expectedOrigin(options.config.url),
          },
          ...(options.stepUp === undefined ? {} : { config: options.stepUp }),
        })
        a.route('/step-up', stepUpRoutes({ service, broker, sessions: appSessions }))
        a.route('/api/v1/admin', enrolmentCodeRoutes({ service, broker }))
      }
      options.extend?.(a, broker)
    },
  })
  return { app, broker, metrics }
}

const READINESS_PROBE_MS = 800
/**
 * Whatever ends a session in this process (logout, an admin, SCIM, a back-channel logout) also drops it
 * from the liveness memory at once, so the very next request with that cookie is refused.
 */
function forgettingEndedSessions(store: Store, sessions: SessionLiveness): Store {
  return new Proxy(store, {
    get(target, name, receiver) {
      if (name === 'endSession') {
        return async (id: string, now: number) => {
          await target.endSession(id, now)
          sessions.forget(id)
        }
      }
      if (name === 'endSessions') {
        return async (...args: Parameters<Store['endSessions']>) => {
          const ended = await target.endSessions(...args)
          for (const session of ended) sessions.forget(session.id)
          return ended
        }
      }
      return Reflect.get(target, name, receiver)
    },
  })
}

/** Ready when the database answers (the app adds the live policy's check). */
export async function defaultReadiness(broker: BrokerDeps): Promise<Readiness> {
  const checks: Readiness['checks'] = {}
  try {
    // Bounded, so /readyz turns 503 within a second of the database going away rather than when the
    // driver gives up reconnecting.
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      broker.store.listAudit({ limit: 1 }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer within 800 ms')), READINESS_PROBE_MS)
      }),
    ]).finally(() => clearTimeout(timer))
    checks.database = { ok: true }
  } catch (error) {
    checks.database = { ok: false, detail: error instanceof Error ? error.message : String(error) }
  }
  return { ready: Object.values(checks).every((c) => c.ok), checks }
}
