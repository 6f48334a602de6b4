/**
 * The broker on Node: reads the environment, opens the database (PGlite by default), loads the policy
 * with hot reload, mounts the development IdP when it is allowed, and serves the Hono app.
 * Wiring only; `keygate serve` adds the process concerns (signals, exit codes).
 */
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { join } from 'node:path'
import { getRequestListener } from '@hono/node-server'
import postgres from 'postgres'
import { type Listening, listenHttp } from '../adapters/http/accept-sockets.ts'
import { type GracefulCloser, trackConnections } from '../adapters/http/graceful-close.ts'
import { callbackUrl } from '../adapters/http/routes/auth-routes.ts'
import type { DevIdp } from '../adapters/idp/dev-idp.ts'
import { createIdentityProviders } from '../adapters/idp/oidc-identity-provider.ts'
import {
  createLocalChangeNotifier,
  type LocalChangeNotifier,
} from '../adapters/notify/local-change-notifier.ts'
import { createPgChangeNotifier, type PgChangeNotifier } from '../adapters/notify/pg-change-notifier.ts'
import { openPolicyFileSource, type PolicyFileSource } from '../adapters/policy/policy-file-source.ts'
import { createNodeLogger, resolveLogFormat } from '../adapters/runtime/node-logger.ts'
import { examplePolicyPath } from '../adapters/runtime/package-files.ts'
import { createFactorStore } from '../adapters/step-up/factor-store.ts'
import { createDeviceStore } from '../adapters/storage/device-store.ts'
import {
  CRASH_SAFE_POSTGRES_OPTIONS,
  type OpenedDatabase,
  openDatabase,
} from '../adapters/storage/open-database.ts'
import { ensurePrivateDir } from '../adapters/storage/private-dir.ts'
import { applyPolicySwap } from '../core/broker/apply-policy-swap.ts'
import { pruneAuditLog } from '../core/broker/audit-retention.ts'
import type { BrokerDeps } from '../core/broker/broker-deps.ts'
import { hashSecret } from '../core/broker/gateway-feed.ts'
import { sweepExpiredLeases } from '../core/broker/sweep-leases.ts'
import { type Config, type Environment, parseConfig } from '../core/config.ts'
import { KeygateError } from '../core/errors.ts'
import { parseIdpConfigs } from '../core/identity/index.ts'
import { isLoopbackHost } from '../core/identity/loopback.ts'
import type { Logger } from '../core/ports.ts'
import { parseStepUpConfig } from '../core/step-up/step-up-config.ts'
import { ADMIN_TOKEN_FILE } from './admin-token.ts'
import { type ComposedApp, composeApp, defaultReadiness } from './compose-app.ts'

export const SWEEP_INTERVAL_MS = 15_000
export const AUDIT_PRUNE_INTERVAL_MS = 60 * 60_000

export interface NodeServerOptions {
  env?: Environment
  logger?: Logger
  /** An already-open database (tests, benchmarks); the server then neither opens nor closes one. */
  database?: OpenedDatabase
  /** Listen (default true); a benchmark may drive `app.fetch` directly. */
  listen?: boolean
  watchPolicy?: boolean
  /** Overrides of HTTP_TIMEOUTS (tests make them short). */
  httpTimeouts?: Partial<typeof HTTP_TIMEOUTS>
}

/** How long a client may take to send its request headers, and its whole request (body included). */
export const HTTP_TIMEOUTS = { headersMs: 10_000, requestMs: 30_000, checkIntervalMs: 1_000 }
/** After SIGTERM, requests still running (not long polls: those answer at once) get this long. */
export const SHUTDOWN_GRACE_MS = 1_500

export interface NodeServer extends ComposedApp {
  config: Config
  url: string
  policySource: PolicyFileSource
  devIdp: DevIdp | null
  server: Server | null
  /** Its listening sockets (accept-sockets.ts), null when not listening. */
  listener: Listening | null
  close(): Promise<void>
}

export async function startNodeServer(options: NodeServerOptions = {}): Promise<NodeServer> {
  const env = options.env ?? process.env
  const idpConfigs = parseIdpConfigs(env)
  const config = parseConfig(env, idpConfigs.length > 0)
  const stepUp = parseStepUpConfig(env)
  const logFormat = resolveLogFormat(config.logFormat ?? undefined)
  const logger = options.logger ?? createNodeLogger({ level: config.logLevel, format: logFormat })
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
    await ensurePrivateDir(config.dataDir, logger)
    const secret = config.secret ?? (await readOrCreateSecret(join(config.dataDir, 'secret'), logger))

    const policyPath = demoPolicyPath(env, config, logger)
    const policySource = await openPolicyFileSource({
      path: policyPath,
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
      // Loaded only when it runs: oidc-provider is a large module graph a production start never needs.
      const { createDevIdp } = await import('../adapters/idp/dev-idp.ts')
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
        isLoopbackHost(config.host)
          ? 'No identity provider is configured: set KEYGATE_IDP_<ID>_ISSUER and friends (see README.md)'
          : `No identity provider is configured: set KEYGATE_IDP_<ID>_ISSUER and friends (see README.md). The development IdP stays off when HOST (${config.host}) is not a loopback address, since anyone who reaches it could sign in as anyone; KEYGATE_DEV_IDP=on opts in`,
      )
    }
    const idps = createIdentityProviders(idpConfigs)

    let notifier: LocalChangeNotifier | PgChangeNotifier
    if (config.databaseUrl !== null) {
      const databaseUrl = config.databaseUrl
      const notifySql = postgres(databaseUrl, {
        max: 2,
        onnotice: () => {},
        backoff: () => 0.25,
        ...CRASH_SAFE_POSTGRES_OPTIONS,
      })
      const pgNotifier = createPgChangeNotifier({
        logger,
        notifySql,
        openListener: (hooks) =>
          postgres(databaseUrl, {
            max: 1,
            onnotice: () => {},
            onnotify: hooks.onnotify,
            onclose: hooks.onclose,
            // The LISTEN connection lives as long as the broker: no idle or lifetime recycling, which
            // would drop the subscription; reconnects are quick and the notifier re-issues LISTEN.
            idle_timeout: 0,
            max_lifetime: null,
            ...CRASH_SAFE_POSTGRES_OPTIONS,
            backoff: () => 0.25,
            connect_timeout: 5,
            connection: { application_name: 'keygate-listen' },
            // `onnotify` is postgres.js's hook for notifications on any channel (missing from its types).
          } as postgres.Options<Record<string, never>>),
      })
      // Serve cross-replica wake-ups from the first request when the database answers; if it does not,
      // start anyway: waiters poll every second until LISTEN is in place.
      await Promise.race([pgNotifier.whenListening(), new Promise((r) => setTimeout(r, 5_000).unref())])
      cleanups.push(async () => {
        await pgNotifier.close()
        await notifySql.end({ timeout: 1 })
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
      previousSecrets: config.previousSecrets,
      policy: () => policySource.current(),
      idps,
      logger,
      notifier,
      localAdminTokenHash: hashSecret(adminToken),
      factors: createFactorStore(database.db),
      stepUp,
      devices: createDeviceStore(database.db),
      readiness: (broker) => readiness(broker, database, notifier),
      policyStatus: () => policySource.policyStatus(),
      clientAddress: (c) =>
        (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress,
    })
    registerPolicyMetrics(composed, policySource)
    registerReliabilityMetrics(composed, database, notifier)
    if (config.previousSecrets.length > 0) {
      // During a rotation, values sealed under a previous secret are sealed again under the current one
      // in the background; they open meanwhile, so nothing waits for this.
      const resealing = store
        .resealSecrets((value) => composed.broker.sealer.reseal(value))
        .then(
          (outcome) => logger.info('secrets.resealed', outcome),
          (error: unknown) =>
            logger.warn('secrets.reseal_failed', {
              error: error instanceof Error ? error.message : String(error),
            }),
        )
      cleanups.push(() => resealing)
    }
    policySource.onSwap((previous, next) =>
      applyPolicySwap(composed.broker, previous, next).then(() => undefined),
    )

    const sweeper = setInterval(() => {
      sweepExpiredLeases(composed.broker).catch((error: unknown) => {
        logger.warn('lease.sweep_failed', { error: error instanceof Error ? error.message : String(error) })
      })
    }, SWEEP_INTERVAL_MS)
    sweeper.unref()
    cleanups.push(() => clearInterval(sweeper))
    const pruner = setInterval(() => {
      pruneAuditLog(composed.broker, config.auditRetentionMs).catch((error: unknown) => {
        logger.warn('audit.prune_failed', { error: error instanceof Error ? error.message : String(error) })
      })
    }, AUDIT_PRUNE_INTERVAL_MS)
    pruner.unref()
    cleanups.push(() => clearInterval(pruner))

    let server: Server | null = null
    let listener: Listening | null = null
    let url = config.url
    if (options.listen ?? true) {
      const honoListener = getRequestListener(composed.app.fetch)
      const mount = devIdp?.mountPath
      const timeouts = { ...HTTP_TIMEOUTS, ...options.httpTimeouts }
      server = createServer(
        {
          // Both bound only how long a client may take to *send* its request (slow headers, a trickled
          // body): a long poll is a GET whose request arrives at once, so its wait is not cut by them;
          // it keeps its own limit, the sync's `wait` (at most 60 s).
          headersTimeout: timeouts.headersMs,
          requestTimeout: timeouts.requestMs,
          connectionsCheckingInterval: timeouts.checkIntervalMs,
        },
        (req, res) => {
          if (
            devIdp !== null &&
            mount !== undefined &&
            (req.url === mount || req.url?.startsWith(`${mount}/`))
          ) {
            devIdp.handle(req, res)
            return
          }
          void honoListener(req, res)
        },
      )
      // An idle keep-alive socket is closed after this; longer than the agents' 25 s poll turnaround.
      server.keepAliveTimeout = 65_000
      // The kernel's queue of connections not yet accepted: Node's default (511) overflowed when a
      // thousand agents reconnected to a new process busy starting up, and an overflowed connection
      // is dropped and retried by the agent's TCP stack only after a second or three (SYN
      // retransmission). As long as the connections we would hold anyway; Linux caps it at
      // net.core.somaxconn (docs/gateways.md). Beyond maxConnections open sockets, a new one is closed.
      const listening = server
      listener = await listenHttp(listening, {
        port: config.port,
        host: config.host,
        maxConnections: config.maxConnections,
        backlog: config.maxConnections,
      })
      const closer = trackConnections(listening, listener.stopAccepting)
      cleanups.push(() => closeGracefully(closer, notifier, logger))
      const port = listener.port
      if (config.port === 0) url = config.url.replace(/:\d+$/, '').concat(`:${port}`)
      await writeFile(adminTokenPath, `${adminToken}\n`, { mode: 0o600 })
      await chmod(adminTokenPath, 0o600)
      cleanups.push(() => rm(adminTokenPath, { force: true }))
    }

    logger.info('keygate.started', {
      url,
      listen: listener === null ? null : `${config.host}:${listener.port}`,
      database: config.databaseUrl === null ? `pglite:${join(config.dataDir, 'pglite')}` : 'postgres',
      policy: policyPath,
      policyHash: policySource.current().hash,
      idps: [...idps.keys()],
    })
    if (devIdp !== null && options.logger === undefined && logFormat === 'pretty') {
      process.stdout.write(renderDemoBlock(url, devIdp))
    } else if (devIdp !== null) {
      logger.info('keygate.dev_idp', {
        hint: `Open ${url}/ and choose "Sign in with ${devIdp.config.displayName}"; pick a demo user on its page.`,
        users: devIdp.users.map((u) => `${u.email}: ${u.description}`),
      })
    }

    return { ...composed, config, url, policySource, devIdp, server, listener, close }
  } catch (error) {
    await close()
    throw error
  }
}

/** What a person at a terminal needs to try the demo: where to go and whom to sign in as. */
function renderDemoBlock(url: string, devIdp: DevIdp): string {
  const width = Math.max(...devIdp.users.map((u) => u.email.length))
  return [
    '',
    `  Keygate is running at ${url}/`,
    `  Open it and choose "Sign in with ${devIdp.config.displayName}", then pick a demo user:`,
    '',
    ...devIdp.users.map((u) => `    ${u.email.padEnd(width)}  ${u.description}`),
    '',
    '  This development IdP runs only on a loopback URL and never with NODE_ENV=production.',
    '',
    '',
  ].join('\n')
}

/**
 * `npx keygate serve` in an empty directory is a demo: with no policy file of its own and the dev IdP
 * on, it runs the example policy that ships in the package. Anything else reads KEYGATE_POLICY (or the
 * default path) and refuses to start when it is missing.
 */
function demoPolicyPath(env: Environment, config: Config, logger: Logger): string {
  if (env.KEYGATE_POLICY?.trim() || !config.devIdp || existsSync(config.policyPath)) return config.policyPath
  const example = examplePolicyPath()
  if (example === null) return config.policyPath
  logger.warn('policy.example_used', {
    path: example,
    hint: `no ${config.policyPath} here: running the packaged example policy; set KEYGATE_POLICY to your own`,
  })
  return example
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

async function readiness(
  broker: BrokerDeps,
  database: OpenedDatabase,
  notifier: LocalChangeNotifier | PgChangeNotifier,
) {
  const base = await defaultReadiness(broker)
  if (!database.availability.available && base.checks.database?.ok === true) {
    // The probe got through but requests are still failing: not ready until one succeeds again.
    base.checks.database = { ok: false, detail: 'recent requests could not reach the database' }
  }
  if ('status' in notifier) {
    const listen = notifier.status()
    // Without LISTEN this replica still serves, with wake-ups from other replicas about a second late:
    // reported, and not ready, so an operator or a load balancer sees it.
    base.checks.feedListener = {
      ok: listen.listening,
      detail: {
        losses: listen.losses,
        downSince: listen.downSince === null ? null : new Date(listen.downSince).toISOString(),
      },
    }
  }
  base.ready = Object.values(base.checks).every((c) => c.ok)
  return base
}

function registerReliabilityMetrics(
  composed: ComposedApp,
  database: OpenedDatabase,
  notifier: LocalChangeNotifier | PgChangeNotifier,
) {
  composed.metrics.gauge('keygate_database_up', '1 while store calls reach the database', () =>
    database.availability.available ? 1 : 0,
  )
  composed.metrics.gauge(
    'keygate_database_failures_total',
    'Store calls refused because the database was unreachable or too slow to answer',
    () => database.availability.failures,
  )
  composed.metrics.gauge('keygate_sync_waiting', 'Gateway syncs held open now', () => notifier.waiting())
  if ('status' in notifier) {
    composed.metrics.gauge(
      'keygate_feed_listen_up',
      '1 while the LISTEN connection for wake-ups is up',
      () => (notifier.status().listening ? 1 : 0),
    )
    composed.metrics.gauge(
      'keygate_feed_listen_losses_total',
      'Times the LISTEN connection was lost',
      () => notifier.status().losses,
    )
  }
}

/**
 * Stops accepting, answers every held long poll at once (each says "nothing new" from its cursor), gives
 * other requests in flight a short grace, then closes what is left. Exits well within 2 s of SIGTERM.
 */
async function closeGracefully(
  closer: GracefulCloser,
  notifier: LocalChangeNotifier | PgChangeNotifier,
  logger: Logger,
): Promise<void> {
  const started = Date.now()
  notifier.shutdown()
  await closer.close(SHUTDOWN_GRACE_MS)
  logger.info('server.closed', { ms: Date.now() - started })
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
