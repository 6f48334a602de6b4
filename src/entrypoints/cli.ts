/**
 * `keygate`: the command line. Dispatches to the server, the migrator, the policy tools and the gateway
 * commands; each subcommand is wiring over adapters and core. Exit codes: 0 success, 1 a failure the
 * user can fix (bad policy, bad input), 2 a usage error.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createJsonLogger } from '../adapters/runtime/json-logger.ts'
import { cryptoRandom, systemClock } from '../adapters/runtime/web-runtime.ts'
import { openDatabase } from '../adapters/storage/open-database.ts'
import { createEnrollmentToken } from '../core/broker/gateway-feed.ts'
import { parseConfig } from '../core/config.ts'
import { isKeygateError, KeygateError } from '../core/errors.ts'
import { parseIdpConfigs } from '../core/identity/index.ts'
import { formatDiagnostic, loadPolicy } from '../core/policy/index.ts'
import { ADMIN_TOKEN_FILE, startNodeServer } from './node-server.ts'
import { runPolicyCheck, runPolicyExplain } from './policy-cli.ts'

const USAGE = `usage: keygate <command>

  serve                         run the broker (KEYGATE_URL, DATABASE_URL, KEYGATE_POLICY, ...)
  migrate                       apply database migrations
  policy check [FILE]           validate a policy and run its tests (exit 0 or 1)
  policy explain --user EMAIL [--idp ID] [--groups a,b] [--amr pwd,mfa] [--acr X] [--auth-age 10m]
  gateway add NAME              print a one-time enrollment token for a gateway in the policy
  gateway run --broker URL --token T --interface IFACE [--state-dir DIR]
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
      if (sub === 'run') {
        const { runGatewayCommand } = await import('./gateway-agent.ts')
        return runGatewayCommand(rest)
      }
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
  const server = await startNodeServer()
  const logger = server.broker.logger
  process.on('SIGHUP', () => {
    void server.policySource
      .reload()
      .then((outcome) => logger.info('policy.reload_requested', { result: outcome.result }))
  })
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info('keygate.stopping', { signal })
      resolve()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await server.close()
  return 0
}

function cliConfig() {
  return parseConfig(process.env, parseIdpConfigs(process.env).length > 0)
}

async function migrate(): Promise<number> {
  const config = cliConfig()
  const logger = createJsonLogger((line) => process.stderr.write(`${line}\n`), config.logLevel)
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
  const token = await readFile(join(config.dataDir, ADMIN_TOKEN_FILE), 'utf8').then(
    (text) => text.trim(),
    () => null,
  )
  if (token !== null) {
    const response = await fetch(
      `${config.url}/api/v1/admin/gateways/${encodeURIComponent(name)}/enrollment-token`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      },
    ).catch(() => null)
    if (response !== null) {
      const body = (await response.json()) as {
        token?: string
        expiresAt?: string
        error?: { code: string; message: string }
      }
      if (!response.ok || body.token === undefined) {
        throw new KeygateError(
          (body.error?.code as 'INTERNAL') ?? 'INTERNAL',
          body.error?.message ?? `server answered ${response.status}`,
        )
      }
      printEnrollment(name, body.token, body.expiresAt ?? '')
      return 0
    }
  }

  const logger = createJsonLogger((line) => process.stderr.write(`${line}\n`), 'warn')
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

function printEnrollment(name: string, token: string, expiresAt: string) {
  process.stdout.write(
    `${token}\n\nOne-time enrollment token for gateway "${name}", valid until ${expiresAt}. On the gateway run:\n` +
      `  keygate gateway run --broker <KEYGATE_URL> --token ${token} --interface wg0\n`,
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
