/**
 * The broker on Node: reads the environment, opens the database (PGlite by default), loads the policy
 * with hot reload, mounts the development IdP when it is allowed, and serves the Hono app.
 * Wiring only; `keygate serve` adds the process concerns (signals, exit codes).
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { getRequestListener } from '@hono/node-server'
import postgres from 'postgres'
import { callbackUrl } from '../adapters/http/routes/auth-routes.ts'
import { createDevIdp, type DevIdp } from '../adapters/idp/dev-idp.ts'
import { createIdentityProviders } from '../adapters/idp/oidc-identity-provider.ts'
import { createLocalChangeNotifier } from '../adapters/notify/local-change-notifier.ts'
import { createPgChangeNotifier } from '../adapters/notify/pg-change-notifier.ts'
import { openPolicyFileSource, type PolicyFileSource } from '../adapters/policy/policy-file-source.ts'
import { createJsonLogger } from '../adapters/runtime/json-logger.ts'
import { createFactorStore } from '../adapters/step-up/factor-store.ts'
import { type OpenedDatabase, openDatabase } from '../adapters/storage/open-database.ts'
import { applyPolicySwap } from '../core/broker/apply-policy-swap.ts'
import type { BrokerDeps } from '../core/broker/broker-deps.ts'
import { hashSecret } from '../core/broker/gateway-feed.ts'
import { type Config, type Environment, parseConfig } from '../core/config.ts'
import { KeygateError } from '../core/errors.ts'
import { parseIdpConfigs } from '../core/identity/index.ts'
import type { ChangeNotifier, Logger } from '../core/ports.ts'
import { type ComposedApp, composeApp, defaultReadiness } from './compose-app.ts'

export const SWEEP_INTERVAL_MS = 15_000
export const ADMIN_TOKEN_FILE = 'admin-token'

export interface NodeServerOptions {
  env?: Environment
  logger?: Logger
  /** An already-open database (tests, benchmarks); the server then neither opens nor closes one. */
  database?: OpenedDatabase
  /** Listen (default true); a benchmark may drive `app.fetch` directly. */
  listen?: boolean
  watchPolicy?: boolean
}

export interface NodeServer extends ComposedApp {
  config: Config
  url: string
  policySource: PolicyFileSource
  devIdp: DevIdp | null
  server: Server | null
  close(): Promise<void>
}

export async function startNodeServer(options: NodeServerOptions = {}): Promise<NodeServer> {
  const env = options.env ?? process.env
  const idpConfigs = parseIdpConfigs(env)
  const config = parseConfig(env, idpConfigs.length > 0)
  const logger =
    options.logger ?? createJsonLogger((line) => process.stdout.write(`${line}\n`), config.logLevel)
  const cleanups: Array<() => Promise<void> | void> = []
  const close = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup()
      } catch (error) {
        logger.warn('server.cleanup_failed', {
          error: error instanceof Error ? error.message : String(error),
        })
      }
    }
  }

  try {
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
    const secret = config.secret ?? (await readOrCreateSecret(join(config.dataDir, 'secret'), logger))

    const policySource = await openPolicyFileSource({
      path: config.policyPath,
      logger,
      watch: options.watchPolicy ?? true,
    })
    cleanups.push(() => policySource.close())

    let database = options.database
    if (database === undefined) {
      const opened = await openDatabase({
        databaseUrl: config.databaseUrl ?? undefined,
        dataDir: config.dataDir,
        logger,
      })
      database = opened
      cleanups.push(() => opened.close())
      // The embedded database is this process's own, so it migrates itself; PostgreSQL is migrated by
      // `keygate migrate`, once, not by every replica racing at start-up.
      if (config.databaseUrl === null) await opened.migrate()
    }
    const store = database.store

    let devIdp: DevIdp | null = null
    if (config.devIdp) {
      devIdp = createDevIdp({
        issuer: `${config.url}/dev-idp`,
        clientId: 'keygate-dev',
        clientSecret: randomBytes(24).toString('base64url'),
        redirectUris: [callbackUrl(config.url, 'dev')],
        env,
      })
      idpConfigs.push(devIdp.config)
    }
    if (idpConfigs.length === 0) {
      throw new KeygateError(
        'CONFIG_INVALID',
        'No identity provider is configured: set KEYGATE_IDP_<ID>_ISSUER and friends (see README.md)',
      )
    }
    const idps = createIdentityProviders(idpConfigs)

    let notifier: ChangeNotifier
    if (config.databaseUrl !== null) {
      const listenSql = postgres(config.databaseUrl, { max: 1, onnotice: () => {} })
      const pgNotifier = await createPgChangeNotifier(listenSql, logger)
      cleanups.push(async () => {
        await pgNotifier.close()
        await listenSql.end({ timeout: 2 })
      })
      notifier = pgNotifier
    } else {
      notifier = createLocalChangeNotifier()
    }

    const adminToken = `kga_${randomBytes(32).toString('base64url')}`
    const adminTokenPath = join(config.dataDir, ADMIN_TOKEN_FILE)

    const composed = await composeApp({
      config,
      store,
      secret,
      policy: () => policySource.current(),
      idps,
      logger,
      notifier,
      localAdminTokenHash: hashSecret(adminToken),
      factors: createFactorStore(database.db),
      readiness: (broker) => readiness(broker, policySource),
    })
    registerPolicyMetrics(composed, policySource)
    policySource.onSwap((previous, next) =>
      applyPolicySwap(composed.broker, previous, next).then(() => undefined),
    )

    const sweeper = setInterval(() => {
      composed.broker.store.sweepExpired(composed.broker.clock.now()).catch((error: unknown) => {
        logger.warn('lease.sweep_failed', { error: error instanceof Error ? error.message : String(error) })
      })
    }, SWEEP_INTERVAL_MS)
    sweeper.unref()
    cleanups.push(() => clearInterval(sweeper))

    let server: Server | null = null
    let url = config.url
    if (options.listen ?? true) {
      const honoListener = getRequestListener(composed.app.fetch)
      const mount = devIdp?.mountPath
      server = createServer((req, res) => {
        if (
          devIdp !== null &&
          mount !== undefined &&
          (req.url === mount || req.url?.startsWith(`${mount}/`))
        ) {
          devIdp.handle(req, res)
          return
        }
        void honoListener(req, res)
      })
      // Long polls hold requests for up to a minute; Node's defaults would cut them or keep sockets forever.
      server.requestTimeout = 120_000
      server.keepAliveTimeout = 65_000
      const listening = server
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject)
        listening.listen(config.port, config.host, () => resolve())
      })
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            listening.close(() => resolve())
            listening.closeAllConnections()
          }),
      )
      const port = (listening.address() as AddressInfo).port
      if (config.port === 0) url = config.url.replace(/:\d+$/, '').concat(`:${port}`)
      await writeFile(adminTokenPath, `${adminToken}\n`, { mode: 0o600 })
      await chmod(adminTokenPath, 0o600)
      cleanups.push(() => rm(adminTokenPath, { force: true }))
    }

    logger.info('keygate.started', {
      url,
      listen: server === null ? null : `${config.host}:${(server.address() as AddressInfo).port}`,
      database: config.databaseUrl === null ? `pglite:${join(config.dataDir, 'pglite')}` : 'postgres',
      policy: config.policyPath,
      policyHash: policySource.current().hash,
      idps: [...idps.keys()],
    })
    if (devIdp !== null) {
      logger.info('keygate.dev_idp', {
        hint: `Open ${url}/ and choose "Sign in with ${devIdp.config.displayName}"; pick a demo user on its page.`,
        users: devIdp.users.map((u) => `${u.email}: ${u.description}`),
      })
    }

    return { ...composed, config, url, policySource, devIdp, server, close }
  } catch (error) {
    await close()
    throw error
  }
}

/** In development the secret is generated once into the data dir (mode 0600) so sessions survive restarts. */
async function readOrCreateSecret(path: string, logger: Logger): Promise<string> {
  try {
    const existing = (await readFile(path, 'utf8')).trim()
    if (existing.length >= 32) return existing
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const secret = randomBytes(32).toString('base64url')
  await writeFile(path, `${secret}\n`, { mode: 0o600, flag: 'w' })
  logger.warn('keygate.dev_secret_generated', { path, hint: 'set KEYGATE_SECRET in production' })
  return secret
}

async function readiness(broker: BrokerDeps, policySource: PolicyFileSource) {
  const base = await defaultReadiness(broker)
  const status = policySource.status()
  base.checks.policy = {
    ok: true,
    detail: {
      hash: status.hash,
      path: status.path,
      loadedAt: new Date(status.lastLoadedAt).toISOString(),
      lastAttemptAt: new Date(status.lastAttemptAt).toISOString(),
      // A failed reload keeps the last good policy live: ready, but the operator must see why.
      lastReloadErrors: status.lastError,
      tests: status.testResults,
    },
  }
  return base
}

function registerPolicyMetrics(composed: ComposedApp, policySource: PolicyFileSource) {
  composed.metrics.gauge('keygate_policy_reloads_total', 'Policy reload attempts by result', () => {
    const s = policySource.status()
    return [
      { labels: { result: 'success' }, value: s.reloadsSucceeded },
      { labels: { result: 'failure' }, value: s.reloadsFailed },
    ]
  })
  composed.metrics.gauge(
    'keygate_policy_last_reload_failed',
    '1 when the latest policy reload failed (the previous policy stays live)',
    () => (policySource.status().lastError === null ? 0 : 1),
  )
  composed.metrics.gauge('keygate_policy_loaded_timestamp_seconds', 'When the live policy was loaded', () =>
    Math.floor(policySource.status().lastLoadedAt / 1000),
  )
}
