/**
 * The one object graph of a broker, shared by the Node server and the Worker: given a store, a policy,
 * identity providers and a notifier, it builds the use cases' dependencies and the Hono app. Wiring only.
 */
import type { Hono } from 'hono'
import { createSecretBox } from '../adapters/crypto/secret-box.ts'
import { type AppEnv, createApp } from '../adapters/http/app.ts'
import { createMetrics, type Metrics } from '../adapters/http/metrics.ts'
import type { Readiness } from '../adapters/http/routes/health-routes.ts'
import { stepUpRoutes } from '../adapters/http/routes/step-up-routes.ts'
import { createCookieCodec } from '../adapters/http/session-cookie.ts'
import { cryptoRandom, systemClock } from '../adapters/runtime/web-runtime.ts'
import { createStepUpService } from '../adapters/step-up/step-up-service.ts'
import type { BrokerDeps } from '../core/broker/broker-deps.ts'
import { createGatewayDirectory } from '../core/broker/gateway-directory.ts'
import type { Config } from '../core/config.ts'
import type { CompiledPolicy } from '../core/policy/index.ts'
import type { ChangeNotifier, Clock, IdentityProvider, Logger, Random, Store } from '../core/ports.ts'
import { expectedOrigin, type FactorStore, relyingPartyId } from '../core/step-up/index.ts'

export interface ComposeOptions {
  config: Pick<Config, 'url' | 'production'>
  store: Store
  secret: string
  policy: () => CompiledPolicy
  idps: ReadonlyMap<string, IdentityProvider>
  logger: Logger
  notifier: ChangeNotifier
  readiness?: (broker: BrokerDeps) => Promise<Readiness>
  localAdminTokenHash?: string
  /** Keygate's own second factors (TOTP, WebAuthn); without them step-up routes are not served. */
  factors?: FactorStore
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
  const broker: BrokerDeps = {
    store: options.store,
    clock,
    random: options.random ?? cryptoRandom,
    logger: options.logger,
    sealer: createSecretBox(options.secret),
    policy: options.policy,
    idps: options.idps,
    gateways: createGatewayDirectory(options.store, clock),
    notifier: options.notifier,
  }
  const metrics = createMetrics()
  const readiness = options.readiness ?? (() => defaultReadiness(broker))
  const app = createApp({
    broker,
    config: options.config,
    cookies: await createCookieCodec(options.secret, options.config.url),
    metrics,
    readiness: () => readiness(broker),
    ...(options.localAdminTokenHash === undefined
      ? {}
      : { localAdminTokenHash: options.localAdminTokenHash }),
    extend: (a: Hono<AppEnv>) => {
      if (options.factors !== undefined) {
        const service = createStepUpService({
          broker,
          factors: options.factors,
          relyingParty: {
            id: relyingPartyId(options.config.url),
            name: 'Keygate',
            origin: expectedOrigin(options.config.url),
          },
        })
        a.route('/step-up', stepUpRoutes(service))
      }
      options.extend?.(a, broker)
    },
  })
  return { app, broker, metrics }
}

/** Ready when the database answers and a policy is live. */
export async function defaultReadiness(broker: BrokerDeps): Promise<Readiness> {
  const checks: Readiness['checks'] = {}
  try {
    await broker.store.listAudit({ limit: 1 })
    checks.database = { ok: true }
  } catch (error) {
    checks.database = { ok: false, detail: error instanceof Error ? error.message : String(error) }
  }
  checks.policy = { ok: true, detail: { hash: broker.policy().hash } }
  return { ready: Object.values(checks).every((c) => c.ok), checks }
}
