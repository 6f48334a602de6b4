/**
 * `keygate doctor`: checks a deployment the way an operator would by hand, and says what is wrong and
 * how to fix it. In order: the configuration, the policy (and its tests), the database (reachable,
 * migrated), each IdP's discovery document and JWKS, and each gateway's last contact. Exit code 0 when
 * nothing failed (warnings allowed), 1 when something did; stdout is the report.
 * Never opens an embedded database that a running server holds: it asks that server instead.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import { createLocalJWKSet } from 'jose'
import * as oidc from 'openid-client'
import { migrationsFolder } from '../adapters/runtime/package-files.ts'
import { systemClock } from '../adapters/runtime/web-runtime.ts'
import type { OpenedDatabase } from '../adapters/storage/open-database.ts'
import { describeGateways, GATEWAY_HEALTHY_WITHIN_MS } from '../core/broker/gateway-health.ts'
import { type Config, type Environment, parseConfig } from '../core/config.ts'
import { isKeygateError } from '../core/errors.ts'
import { type IdpConfig, parseIdpConfigs } from '../core/identity/index.ts'
import { isLoopbackUrl } from '../core/identity/loopback.ts'
import { type CompiledPolicy, formatDiagnostic, loadPolicy } from '../core/policy/index.ts'
import { ADMIN_TOKEN_FILE } from './admin-token.ts'

export type FindingStatus = 'ok' | 'warn' | 'fail'

export interface Finding {
  check: string
  status: FindingStatus
  detail: string
  /** What to do about it; absent when nothing needs doing. */
  fix?: string
}

export interface DoctorIo {
  stdout(text: string): void
}

export interface DoctorOptions {
  /** Seconds for each request to an IdP or the running server (default 5). */
  timeoutSeconds?: number
  /** The time gateways' last contact is measured against (default the system clock). */
  now?: number
}

/** Gateway health as the doctor needs it, whether read from the database or asked of the server. */
interface GatewayView {
  name: string
  enrolled: boolean
  lastSeenAt: number | null
  appliedVersion: number | null
  feedVersion: number
}

export async function runDoctor(
  env: Environment,
  io: DoctorIo,
  options: DoctorOptions = {},
): Promise<number> {
  const findings = await diagnose(env, options)
  io.stdout(renderFindings(findings))
  return findings.some((f) => f.status === 'fail') ? 1 : 0
}

export async function diagnose(env: Environment, options: DoctorOptions = {}): Promise<Finding[]> {
  const timeoutSeconds = options.timeoutSeconds ?? 5
  const findings: Finding[] = []
  let config: Config
  let idps: IdpConfig[]
  try {
    idps = parseIdpConfigs(env)
    config = parseConfig(env, idps.length > 0)
  } catch (error) {
    findings.push({
      check: 'config',
      status: 'fail',
      detail: errorText(error),
      fix: 'set the variables named above (README.md lists every setting and its default)',
    })
    return findings
  }
  findings.push(...checkConfig(config, idps))

  const policy = await checkPolicy(config, findings)
  const gateways = await checkDatabase(config, policy, findings, timeoutSeconds)
  for (const idp of idps) findings.push(await checkIdp(idp, timeoutSeconds))
  if (gateways !== null) findings.push(...checkGateways(gateways, options.now ?? systemClock.now()))
  return findings
}

function checkConfig(config: Config, idps: IdpConfig[]): Finding[] {
  const findings: Finding[] = [
    {
      check: 'config',
      status: 'ok',
      detail: `${config.url}, ${config.databaseUrl === null ? `embedded PGlite in ${config.dataDir}` : 'PostgreSQL'}, policy ${config.policyPath}`,
    },
  ]
  const loopback = isLoopbackUrl(config.url)
  if (!loopback && !config.production) {
    findings.push({
      check: 'config',
      status: 'warn',
      detail: `KEYGATE_URL ${config.url} is public but NODE_ENV is not production`,
      fix: 'set NODE_ENV=production (it also makes KEYGATE_SECRET required and keeps the dev IdP off)',
    })
  }
  if (!loopback && config.url.startsWith('http:')) {
    findings.push({
      check: 'config',
      status: 'warn',
      detail: 'KEYGATE_URL is plain http on a public name: cookies are not Secure and tokens cross in clear',
      fix: 'serve Keygate behind a TLS reverse proxy and set KEYGATE_URL=https://… (docs/deploy.md)',
    })
  }
  if (config.secret === null) {
    findings.push({
      check: 'config',
      status: loopback ? 'ok' : 'warn',
      detail: `KEYGATE_SECRET is not set: a development secret is kept in ${join(config.dataDir, 'secret')}`,
      fix: 'set KEYGATE_SECRET (32+ random characters, e.g. `openssl rand -base64 32`); see docs/operations.md',
    })
  }
  if (idps.length === 0 && !config.devIdp) {
    findings.push({
      check: 'idp',
      status: 'fail',
      detail: 'no identity provider is configured and the development IdP is off',
      fix: 'set KEYGATE_IDP_<ID>_ISSUER, _CLIENT_ID, _CLIENT_SECRET and _PROFILE (docs/identity-providers.md)',
    })
  } else if (config.devIdp) {
    findings.push({
      check: 'idp dev',
      status: 'ok',
      detail: 'the built-in development IdP is on (loopback URL only; never in production)',
    })
  }
  return findings
}

async function checkPolicy(config: Config, findings: Finding[]): Promise<CompiledPolicy | null> {
  let source: string
  try {
    source = await readFile(config.policyPath, 'utf8')
  } catch (error) {
    findings.push({
      check: 'policy',
      status: 'fail',
      detail: `cannot read ${config.policyPath}: ${errorText(error)}`,
      fix: 'set KEYGATE_POLICY to your policy file (docs/policy.md; the package ships policies/policy.hujson)',
    })
    return null
  }
  const loaded = loadPolicy(source, config.policyPath)
  if (!loaded.ok) {
    findings.push({
      check: 'policy',
      status: 'fail',
      detail: `${config.policyPath} is refused; a server keeps its last good policy:\n${loaded.errors.map(formatDiagnostic).join('\n')}`,
      fix: `fix the lines above, then \`keygate policy check ${config.policyPath}\``,
    })
    return null
  }
  const tests = loaded.testResults
  findings.push({
    check: 'policy',
    status: loaded.warnings.length > 0 ? 'warn' : 'ok',
    detail: `${config.policyPath}: ${loaded.policy.grants.length} grants, ${loaded.policy.gateways.size} gateways, ${tests.filter((t) => t.passed).length}/${tests.length} tests passed${loaded.warnings.length > 0 ? `\n${loaded.warnings.map(formatDiagnostic).join('\n')}` : ''}`,
    ...(loaded.warnings.length > 0 ? { fix: 'see the warnings above' } : {}),
  })
  if (tests.length === 0) {
    findings.push({
      check: 'policy',
      status: 'warn',
      detail: 'the policy has no tests',
      fix: 'add "tests" that pin who gets what (docs/policy.md): a policy change that breaks one is refused',
    })
  }
  return loaded.policy
}

async function checkDatabase(
  config: Config,
  policy: CompiledPolicy | null,
  findings: Finding[],
  timeoutSeconds: number,
): Promise<GatewayView[] | null> {
  const { openDatabase } = await import('../adapters/storage/open-database.ts')
  if (config.databaseUrl === null) {
    const viaServer = await askRunningServer(config, timeoutSeconds)
    if (viaServer !== null) {
      findings.push({
        check: 'database',
        status: 'ok',
        detail: `the embedded database in ${config.dataDir} is held by the server at ${config.url}, which answers`,
      })
      return viaServer
    }
    if (!existsSync(join(config.dataDir, 'pglite'))) {
      findings.push({
        check: 'database',
        status: 'warn',
        detail: `no embedded database in ${config.dataDir} yet`,
        fix: '`keygate serve` creates and migrates it on its first start',
      })
      return null
    }
  }
  let database: OpenedDatabase
  try {
    database = await openDatabase({
      databaseUrl: config.databaseUrl ?? undefined,
      dataDir: config.dataDir,
      poolSize: 1,
    })
    await database.db.execute(sql`select 1`)
  } catch (error) {
    findings.push({
      check: 'database',
      status: 'fail',
      detail: `cannot open the database: ${errorText(error)}`,
      fix:
        config.databaseUrl === null
          ? 'another process holds the data dir, or it is damaged: stop it, or restore a backup (docs/operations.md)'
          : 'check DATABASE_URL (host, port, user, password, database name) and that PostgreSQL accepts this host',
    })
    return null
  }
  try {
    const journal = JSON.parse(await readFile(join(migrationsFolder(), 'meta/_journal.json'), 'utf8')) as {
      entries: unknown[]
    }
    const applied = await appliedMigrations(database)
    const pending = journal.entries.length - applied
    const where = config.databaseUrl === null ? 'the embedded database' : 'PostgreSQL'
    if (pending > 0) {
      findings.push({
        check: 'database',
        status: config.databaseUrl === null ? 'warn' : 'fail',
        detail: `${where} answers; ${pending} of ${journal.entries.length} migrations are not applied`,
        fix:
          config.databaseUrl === null
            ? '`keygate serve` applies them at start'
            : 'run `keygate migrate` once (before starting the new version; docs/operations.md)',
      })
    } else {
      findings.push({
        check: 'database',
        status: 'ok',
        detail: `${where} answers; all ${journal.entries.length} migrations applied`,
      })
    }
    if (policy === null || pending === journal.entries.length) return null
    const gateways = await describeGateways({
      store: database.store,
      clock: systemClock,
      policy: () => policy,
    })
    return gateways.map((g) => ({
      name: g.name,
      enrolled: g.enrolled,
      lastSeenAt: g.lastSeenAt,
      appliedVersion: g.appliedVersion,
      feedVersion: g.feedVersion,
    }))
  } finally {
    await database.close()
  }
}

async function appliedMigrations(database: OpenedDatabase): Promise<number> {
  try {
    const result = (await database.db.execute(
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    )) as Array<{ n: number }> | { rows: Array<{ n: number }> }
    const rows = Array.isArray(result) ? result : result.rows
    return rows[0]?.n ?? 0
  } catch {
    return 0
  }
}

/** The running server's view of the gateways, through the local admin token it wrote; null when none answers. */
async function askRunningServer(config: Config, timeoutSeconds: number): Promise<GatewayView[] | null> {
  const token = await readFile(join(config.dataDir, ADMIN_TOKEN_FILE), 'utf8').then(
    (text) => text.trim(),
    () => null,
  )
  if (token === null) return null
  const response = await fetch(`${config.url}/api/v1/admin/gateways`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(timeoutSeconds * 1000),
  }).catch(() => null)
  if (response === null || !response.ok) return null
  const body = (await response.json()) as {
    gateways: Array<Omit<GatewayView, 'lastSeenAt'> & { lastSeenAt: string | null }>
  }
  return body.gateways.map((g) => ({
    ...g,
    lastSeenAt: g.lastSeenAt === null ? null : Date.parse(g.lastSeenAt),
  }))
}

async function checkIdp(idp: IdpConfig, timeoutSeconds: number): Promise<Finding> {
  const check = `idp ${idp.id}`
  const issuer = new URL(idp.issuer)
  const insecure = issuer.protocol === 'http:' && isLoopbackUrl(issuer)
  let jwksUri: string | undefined
  try {
    // openid-client's discovery: fetches the document and demands that its issuer is the configured one.
    const discovered = await oidc.discovery(issuer, idp.clientId, undefined, undefined, {
      timeout: timeoutSeconds,
      ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
    })
    jwksUri = discovered.serverMetadata().jwks_uri
  } catch (error) {
    return {
      check,
      status: 'fail',
      detail: `discovery of ${idp.issuer} failed: ${errorText(error)}`,
      fix: `check KEYGATE_IDP_${idp.id.toUpperCase()}_ISSUER: it must equal the "issuer" of ${idp.issuer.replace(/\/$/, '')}/.well-known/openid-configuration, reachable from this host`,
    }
  }
  if (jwksUri === undefined) {
    return {
      check,
      status: 'fail',
      detail: 'the discovery document names no jwks_uri, so ID token signatures cannot be checked',
      fix: "fix the IdP's configuration (Keygate needs signed ID tokens)",
    }
  }
  try {
    const response = await fetch(jwksUri, { signal: AbortSignal.timeout(timeoutSeconds * 1000) })
    if (!response.ok) throw new Error(`${jwksUri} answered ${response.status}`)
    const jwks = (await response.json()) as { keys?: unknown[] }
    createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0])
    const count = jwks.keys?.length ?? 0
    if (count === 0) throw new Error(`${jwksUri} holds no keys`)
    return { check, status: 'ok', detail: `${idp.issuer}: discovery and JWKS (${count} keys) answer` }
  } catch (error) {
    return {
      check,
      status: 'fail',
      detail: `the JWKS at ${jwksUri} is unusable: ${errorText(error)}`,
      fix: 'check that this host reaches the IdP (proxy, firewall) and that the IdP publishes its signing keys',
    }
  }
}

function checkGateways(gateways: GatewayView[], now: number): Finding[] {
  return gateways.map((g): Finding => {
    const check = `gateway ${g.name}`
    if (!g.enrolled) {
      return {
        check,
        status: 'warn',
        detail: 'declared in the policy but never enrolled: its peers are not applied anywhere',
        fix: `run \`keygate gateway add ${g.name}\` and start the agent on that host with the token (docs/gateways.md)`,
      }
    }
    if (g.lastSeenAt === null || now - g.lastSeenAt > GATEWAY_HEALTHY_WITHIN_MS) {
      const ago = g.lastSeenAt === null ? 'never reported' : `last contact ${ageText(now - g.lastSeenAt)} ago`
      return {
        check,
        status: 'fail',
        detail: `${ago}: new leases and revocations do not reach it (expired peers are still removed by its own timers)`,
        fix: `on the gateway host: \`systemctl status keygate-gateway@<interface>\` and \`journalctl -u keygate-gateway@<interface>\`; check that it reaches the broker`,
      }
    }
    const behind = g.appliedVersion !== null && g.appliedVersion < g.feedVersion
    return {
      check,
      status: 'ok',
      detail: `last contact ${ageText(now - g.lastSeenAt)} ago; applied version ${g.appliedVersion ?? 'none'} of ${g.feedVersion}${behind ? ' (catching up)' : ''}`,
    }
  })
}

export function renderFindings(findings: Finding[]): string {
  const label: Record<FindingStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' }
  const width = Math.max(...findings.map((f) => f.check.length))
  const lines = findings.flatMap((f) => {
    const [first, ...rest] = f.detail.split('\n')
    const indent = ' '.repeat(width + 8)
    return [
      `${label[f.status]}  ${f.check.padEnd(width)}  ${first}`,
      ...rest.map((line) => `${indent}${line}`),
      ...(f.fix !== undefined && f.status !== 'ok' ? [`${indent}fix: ${f.fix}`] : []),
    ]
  })
  const failed = findings.filter((f) => f.status === 'fail').length
  const warned = findings.filter((f) => f.status === 'warn').length
  lines.push(
    '',
    failed === 0 ? `no problems found (${warned} warnings)` : `${failed} problems, ${warned} warnings`,
  )
  return `${lines.join('\n')}\n`
}

function ageText(ms: number): string {
  const seconds = Math.round(ms / 1000)
  if (seconds < 120) return `${seconds}s`
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`
  return `${Math.round(seconds / 3600)}h`
}

function errorText(error: unknown): string {
  if (isKeygateError(error)) return `${error.code}: ${error.message}`
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : ''
    return `${error.message}${cause}`
  }
  return String(error)
}
