/**
 * `keygate`: the command line. Dispatches to the server, the migrator, the policy tools and the gateway
 * commands; each subcommand is wiring over adapters and core. Exit codes: 0 success, 1 a failure the
 * user can fix (bad policy, bad input), 2 a usage error.
 */
import { readFile } from 'node:fs/promises'
import type { LogLevel } from '../adapters/runtime/json-logger.ts'
import { createNodeLogger, resolveLogFormat } from '../adapters/runtime/node-logger.ts'
import { cryptoRandom, systemClock } from '../adapters/runtime/web-runtime.ts'
import type { BrokerDeps } from '../core/broker/broker-deps.ts'
import { createGatewayDirectory } from '../core/broker/gateway-directory.ts'
import { createEnrollmentToken, removeGateway } from '../core/broker/gateway-feed.ts'
import { createGatewayFeedReader } from '../core/broker/gateway-feed-reads.ts'
import { createScimToken } from '../core/broker/scim-provisioning.ts'
import { type Config, parseConfig } from '../core/config.ts'
import { isKeygateError, KeygateError } from '../core/errors.ts'
import { parseIdpConfigs } from '../core/identity/index.ts'
import { formatDiagnostic, loadPolicy } from '../core/policy/index.ts'
import type { IdentityProvider } from '../core/ports.ts'
import { askRunningServer, enrollmentTokenFromServer } from './local-admin.ts'
import { runPolicyCheck, runPolicyExplain } from './policy-cli.ts'
import { VERSION } from './version.ts'

// The server, the database drivers and the gateway agent are imported where a verb needs them, so a
// quick verb (`policy check`, `--version`) starts without loading PGlite, the dev IdP or the HTTP app.
const openDatabase = async (
  ...args: Parameters<typeof import('../adapters/storage/open-database.ts').openDatabase>
) => (await import('../adapters/storage/open-database.ts')).openDatabase(...args)

const USAGE = `usage: keygate <command>

  serve                         run the broker (KEYGATE_URL, DATABASE_URL, KEYGATE_POLICY, ...)
  migrate                       apply database migrations
  policy check [FILE]           validate a policy and run its tests (exit 0 or 1)
  policy explain --user EMAIL [--idp ID] [--groups a,b] [--amr pwd,mfa] [--acr X] [--auth-age 10m]
  gateway add NAME              print a one-time enrollment token for a gateway in the policy
  gateway run --broker URL --interface IFACE [--token-file FILE] [--state-dir DIR]
  secret rotate                 re-seal secrets at rest with KEYGATE_SECRET (old ones from KEYGATE_SECRET_PREVIOUS)
  doctor                        check config, database, IdPs, policy and gateways; exit 1 on a problem
  --version                     print the version

  login [--broker URL]          sign this device in from the terminal (approve in the portal)
  up [--config-only FILE]       bring the tunnel up (or write a wg-quick file) and keep its lease renewed
  status [--json]               the lease, its gateways and what the next renewal needs
  down                          take the tunnel down (the lease stays until logout or expiry)
  logout                        end the lease and forget its credential
  gateway remove NAME           revoke a gateway's credential, close its feed, free its overlay address
  demo gateway [NAME]           (root, Linux) a throwaway gateway with a service behind it, against the
                                running broker, in a network namespace; Ctrl-C removes it all
  scim token IDP                print a new SCIM bearer token for an identity provider (replaces its old one)
`

const io = {
  stdout: (text: string) => process.stdout.write(text),
  stderr: (text: string) => process.stderr.write(text),
  readFile: (path: string) => readFile(path, 'utf8'),
}

async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv
  switch (command) {
    case 'serve':
      return serve()
    case 'migrate':
      return migrate()
    case 'policy':
      if (sub === 'check') return runPolicyCheck(rest, io)
      if (sub === 'explain') return runPolicyExplain(rest, io)
      break
    case 'gateway':
      if (sub === 'add' && rest.length === 1 && rest[0] !== undefined) return addGateway(rest[0])
      if (sub === 'remove' && rest.length === 1 && rest[0] !== undefined) return removeGatewayCommand(rest[0])
      if (sub === 'run') {
        const { runGatewayCommand } = await import('./gateway-agent.ts')
        return runGatewayCommand(rest)
      }
      break
    case 'demo':
      if (sub === 'gateway') {
        const { runDemoGateway } = await import('./demo-gateway.ts')
        const code = await runDemoGateway(rest, cliConfig(), io)
        // The agent's idle keep-alive sockets to the broker would hold the process after the teardown.
        process.exit(code)
        return code
      }
      break
    case 'secret':
      if (sub === 'rotate' && rest.length === 0) return rotateSecret()
      break
    case 'doctor': {
      const { runDoctor } = await import('./doctor.ts')
      return runDoctor(process.env, io)
    }
    case '--version':
    case 'version':
      process.stdout.write(`keygate ${VERSION}\n`)
      return 0
    case 'login':
    case 'up':
    case 'status':
    case 'down':
    case 'logout': {
      const { runClientCommand } = await import('./client-cli.ts')
      const code = await runClientCommand(command, argv.slice(1))
      // Idle keep-alive sockets to the broker would hold the process for seconds after the tunnel is down.
      await new Promise((resolve) => process.stdout.write('', resolve))
      await new Promise((resolve) => process.stderr.write('', resolve))
      process.exit(code)
      return code
    }
    case 'scim':
      if (sub === 'token' && rest.length === 1 && rest[0] !== undefined) return scimTokenCommand(rest[0])
      break
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE)
      return command === undefined ? 2 : 0
  }
  process.stderr.write(`keygate: unknown command "${argv.join(' ')}"\n\n${USAGE}`)
  return 2
}

async function serve(): Promise<number> {
  const { startNodeServer } = await import('./node-server.ts')
  const server = await startNodeServer()
  const logger = server.broker.logger
  process.on('SIGHUP', () => {
    void server.policySource
      .reload()
      .then((outcome) => logger.info('policy.reload_requested', { result: outcome.result }))
  })
  await new Promise<void>((resolve) => {
    // Handlers stay installed for the whole shutdown: a terminal's Ctrl-C reaches the process group, and a
    // wrapper (tsx, npm) relays it once more, so a second SIGINT must not fall through to the default
    // (exit 130 mid-close). The close below is bounded, so ignoring repeats cannot hang.
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) return
      stopping = true
      logger.info('keygate.stopping', { signal })
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  // Held long polls answer at once and other requests get a short grace (node-server.ts), so this
  // takes well under 2 s; a stray handle must not keep the process alive after it.
  await server.close()
  setTimeout(() => process.exit(0), 200).unref()
  return 0
}

/** A verb's own log lines go to stderr, so its stdout stays the result a script reads. */
function cliLogger(config: Config, level: LogLevel) {
  return createNodeLogger({
    level,
    format: resolveLogFormat(config.logFormat ?? undefined, process.stderr.isTTY === true),
    write: (line) => process.stderr.write(line),
    colorize: process.stderr.isTTY === true && process.stderr.hasColors(),
  })
}

function cliConfig() {
  return parseConfig(process.env, parseIdpConfigs(process.env).length > 0)
}

/**
 * Step 3 of a rotation (docs/secret-rotation.md): seal every secret at rest again under KEYGATE_SECRET,
 * opening old values with KEYGATE_SECRET_PREVIOUS. Exit 0 once nothing needs an old secret, so the
 * operator knows KEYGATE_SECRET_PREVIOUS can go; 1 while some value no secret opens remains.
 */
async function rotateSecret(): Promise<number> {
  const config = cliConfig()
  if (config.secret === null) {
    process.stderr.write('keygate: secret rotate needs KEYGATE_SECRET (the new secret)\n')
    return 2
  }
  const logger = cliLogger(config, 'warn')
  const { createSecretBox } = await import('../adapters/crypto/secret-box.ts')
  const box = createSecretBox(config.secret, config.previousSecrets)
  // With the embedded database, a running server holds the directory (DATABASE_LOCKED): it re-seals by
  // itself at start-up, so restarting it with the new settings is the same step.
  const database = await openDatabase({
    databaseUrl: config.databaseUrl ?? undefined,
    dataDir: config.dataDir,
    logger,
  })
  try {
    const outcome = await database.store.resealSecrets((value) => box.reseal(value))
    process.stdout.write(`re-sealed ${outcome.resealed} secrets at rest; ${outcome.unreadable} unreadable\n`)
    if (outcome.unreadable > 0) {
      process.stderr.write(
        'keygate: some secrets open with no secret of the keyring: keep (or add) the secret that sealed them in KEYGATE_SECRET_PREVIOUS\n',
      )
      return 1
    }
    return 0
  } finally {
    await database.close()
  }
}

async function migrate(): Promise<number> {
  const config = cliConfig()
  const logger = cliLogger(config, config.logLevel)
  const database = await openDatabase({
    databaseUrl: config.databaseUrl ?? undefined,
    dataDir: config.dataDir,
    logger,
  })
  try {
    await database.migrate()
    process.stdout.write(
      `migrated ${config.databaseUrl === null ? `the embedded database in ${config.dataDir}` : 'PostgreSQL'}\n`,
    )
  } finally {
    await database.close()
  }
  return 0
}

/**
 * With a running server that holds the embedded database, ask it (its admin token is in the data dir);
 * otherwise open the database here, under its lock. Never two processes on one PGlite directory.
 */
async function addGateway(name: string): Promise<number> {
  const config = cliConfig()
  const fromServer = await enrollmentTokenFromServer(config, name)
  if (fromServer !== null) {
    printEnrollment(name, fromServer.token, fromServer.expiresAt)
    return 0
  }

  const logger = cliLogger(config, 'warn')
  const loaded = loadPolicy(await readFile(config.policyPath, 'utf8'), config.policyPath)
  if (!loaded.ok) {
    process.stderr.write(`${loaded.errors.map(formatDiagnostic).join('\n')}\n`)
    return 1
  }
  const database = await openDatabase({
    databaseUrl: config.databaseUrl ?? undefined,
    dataDir: config.dataDir,
    logger,
  })
  try {
    if (config.databaseUrl === null) await database.migrate()
    const deps = {
      store: database.store,
      clock: systemClock,
      random: cryptoRandom,
      policy: () => loaded.policy,
    }
    const { token: enrollment, expiresAt } = await createEnrollmentToken(deps, name, 'local-cli')
    printEnrollment(name, enrollment, new Date(expiresAt).toISOString())
  } finally {
    await database.close()
  }
  return 0
}

/**
 * An admin action through the running server when there is one (its admin token is in the data dir), else
 * on the database directly (under the PGlite lock), with the same core use case either way.
 */
async function adminAction<T>(
  request: { method: string; path: string },
  offline: (deps: BrokerDeps) => Promise<T>,
  fromServer: (body: Record<string, unknown>) => T,
): Promise<T> {
  const config = cliConfig()
  const answer = await askRunningServer(config, request)
  if (answer !== null) return fromServer(answer)
  const logger = cliLogger(config, 'warn')
  const loaded = loadPolicy(await readFile(config.policyPath, 'utf8'), config.policyPath)
  if (!loaded.ok) throw new KeygateError('POLICY_INVALID', loaded.errors.map(formatDiagnostic).join('\n'))
  const database = await openDatabase({
    databaseUrl: config.databaseUrl ?? undefined,
    dataDir: config.dataDir,
    logger,
  })
  try {
    if (config.databaseUrl === null) await database.migrate()
    const idps = new Map(parseIdpConfigs(process.env).map((idp) => [idp.id, {} as IdentityProvider]))
    const sealer = {
      seal: () => Promise.reject(new Error('no sealing offline')),
      open: () => Promise.reject(new Error('no sealing offline')),
      reseal: () => Promise.reject(new Error('no sealing offline')),
    }
    const deps: BrokerDeps = {
      store: database.store,
      clock: systemClock,
      random: cryptoRandom,
      logger,
      sealer,
      policy: () => loaded.policy,
      idps,
      gateways: createGatewayDirectory(database.store, systemClock),
      notifier: {
        publish: () => {},
        waitForChange: () => ({ changed: Promise.resolve<'timeout'>('timeout'), cancel: () => {} }),
      },
      // Offline commands serve no gateway syncs; the reader is there because the use cases' deps have one.
      feeds: createGatewayFeedReader(
        { store: database.store, sealer, clock: systemClock },
        { coalesce: false },
      ),
    }
    return await offline(deps)
  } finally {
    await database.close()
  }
}

async function removeGatewayCommand(name: string): Promise<number> {
  await adminAction(
    { method: 'DELETE', path: `/api/v1/admin/gateways/${encodeURIComponent(name)}` },
    (deps) => removeGateway(deps, name, 'local-cli'),
    () => undefined,
  )
  process.stdout.write(
    `Removed gateway "${name}": its credential no longer works, its feed is closed and its overlay address is free.\n`,
  )
  return 0
}

async function scimTokenCommand(idp: string): Promise<number> {
  const token = await adminAction(
    { method: 'POST', path: `/api/v1/admin/scim/${encodeURIComponent(idp)}/token` },
    (deps) => createScimToken(deps, idp, 'local-cli'),
    (body) => String(body.token),
  )
  const config = cliConfig()
  process.stdout.write(
    `${token}\n\nSCIM bearer token for identity provider "${idp}" (any earlier token for it stops working).\n` +
      `In the IdP's provisioning settings use the base URL ${config.url}/scim/v2 and this token.\n`,
  )
  return 0
}

/** The token alone on stdout, so `keygate gateway add eu-1 > eu-1.token` makes the agent's token file; the
 *  advice on stderr (the agent refuses a token on its command line, where other users could read it). */
function printEnrollment(name: string, token: string, expiresAt: string) {
  process.stdout.write(`${token}\n`)
  process.stderr.write(
    `One-time enrollment token for gateway "${name}", valid until ${expiresAt}. Put it in a file only root can\n` +
      `read on the gateway (e.g. /root/${name}.token), then run there:\n` +
      `  keygate gateway run --broker <KEYGATE_URL> --token-file /root/${name}.token --interface wg0\n`,
  )
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    if (isKeygateError(error)) {
      process.stderr.write(`keygate: ${error.code}: ${error.message}\n`)
    } else {
      process.stderr.write(
        `keygate: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      )
    }
    process.exitCode = 1
  },
)
