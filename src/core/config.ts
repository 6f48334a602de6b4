/**
 * Keygate's configuration: one parse of the environment (Node) or the bindings (Workers) into a frozen,
 * typed value. Defaults live here and nowhere else. Names are part of the external contract (DESIGN.md).
 */
import { KeygateError } from './errors.ts'
import { isLoopbackHost, isLoopbackUrl } from './identity/loopback.ts'
import { DEFAULT_RATE_LIMITS, parseRateRule, type RateLimits } from './limits/rate-limit.ts'

export interface Config {
  /** Public base URL, without a trailing slash. */
  url: string
  port: number
  host: string
  databaseUrl: string | null
  dataDir: string
  policyPath: string
  /** null in development: the entrypoint then generates one into the data dir. */
  secret: string | null
  /** KEYGATE_SECRET_PREVIOUS (comma-separated): secrets that still open values at rest during a rotation. */
  previousSecrets: string[]
  production: boolean
  /** Whether the built-in development IdP should run (never in production, never off loopback). */
  devIdp: boolean
  logLevel: 'debug' | 'info' | 'warn' | 'error'
  /** Per-client limits on sign-in, issuance and failed gateway credentials (null: not limited). */
  rateLimits: RateLimits
  /** A header a trusted reverse proxy sets to the client's address (its last value counts); null: the peer. */
  clientIpHeader: string | null
  /** KEYGATE_LOG_FORMAT: readable lines or JSON lines; null lets the runtime choose (a terminal gets pretty). */
  logFormat: 'pretty' | 'json' | null
  /** Concurrent client connections the Node server accepts; more are closed at once (docs/gateways.md). */
  maxConnections: number
  /** How long audit events are kept (KEYGATE_AUDIT_RETENTION); null keeps them for ever. */
  auditRetentionMs: number | null
}

/** Environment names of the per-client rate limits (`30/min`, `5/10s`, `off`). */
export const RATE_LIMIT_SETTINGS = {
  auth: 'KEYGATE_RATE_LIMIT_AUTH',
  issue: 'KEYGATE_RATE_LIMIT_ISSUE',
  gatewayAuthFailure: 'KEYGATE_RATE_LIMIT_GATEWAY_AUTH_FAILURES',
  deviceStart: 'KEYGATE_RATE_LIMIT_DEVICE_START',
  userCodeFailure: 'KEYGATE_RATE_LIMIT_USER_CODE_FAILURES',
  scim: 'KEYGATE_RATE_LIMIT_SCIM',
} as const

/** One per gateway long poll plus browsers and API clients; docs/gateways.md sizes the fd limit for it. */
export const DEFAULT_MAX_CONNECTIONS = 4_096
/** A year: long enough for most audit duties, short enough that anonymous noise cannot pile up for ever. */
export const DEFAULT_AUDIT_RETENTION_MS = 365 * 86_400_000
/** Shorter would lose the trail of an incident before anyone looked. */
export const MIN_AUDIT_RETENTION_MS = 86_400_000

export type Environment = Record<string, string | undefined>

/** @param hasConfiguredIdps whether any KEYGATE_IDP_<ID>_ISSUER is set (the dev IdP is then off by default). */
export function parseConfig(env: Environment, hasConfiguredIdps: boolean): Config {
  const problems: string[] = []
  const rawUrl = (env.KEYGATE_URL ?? 'http://localhost:8080').replace(/\/+$/, '')
  let url: URL | null = null
  try {
    url = new URL(rawUrl)
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      problems.push('KEYGATE_URL must be an http(s) URL')
  } catch {
    problems.push(`KEYGATE_URL is not a URL: "${rawUrl}"`)
  }

  const port = parsePort(env.PORT, url, problems)
  const production = env.NODE_ENV === 'production'
  const secret = env.KEYGATE_SECRET?.trim() || null
  if (secret !== null && secret.length < 32) problems.push('KEYGATE_SECRET must be at least 32 characters')
  if (production && secret === null) problems.push('KEYGATE_SECRET is required when NODE_ENV=production')
  const previousSecrets = (env.KEYGATE_SECRET_PREVIOUS ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
  if (previousSecrets.some((p) => p.length < 32))
    problems.push('each KEYGATE_SECRET_PREVIOUS entry must be at least 32 characters')

  const loopback = url !== null && isLoopbackUrl(url)
  // Blank like unset, as for every other setting: an empty HOST= line must not mean every interface.
  const host = env.HOST?.trim() || '127.0.0.1'
  const devIdpSetting = env.KEYGATE_DEV_IDP?.toLowerCase()
  // The development IdP signs anyone in as anyone, the admin included: by default only when nobody else
  // can reach it, a loopback URL *and* a loopback listen address (HOST=0.0.0.0 serves the network).
  let devIdp = !hasConfiguredIdps && loopback && isLoopbackHost(host) && !production
  if (devIdpSetting === '1' || devIdpSetting === 'true' || devIdpSetting === 'on') {
    if (production) problems.push('KEYGATE_DEV_IDP cannot be on when NODE_ENV=production')
    else if (!loopback) problems.push('KEYGATE_DEV_IDP needs a loopback KEYGATE_URL (localhost or 127.0.0.1)')
    devIdp = true
  } else if (devIdpSetting === '0' || devIdpSetting === 'false' || devIdpSetting === 'off') {
    devIdp = false
  }

  const logLevel = (env.KEYGATE_LOG_LEVEL ?? 'info') as Config['logLevel']
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel))
    problems.push('KEYGATE_LOG_LEVEL must be debug, info, warn or error')

  const rateLimits = { ...DEFAULT_RATE_LIMITS }
  for (const [bucket, name] of Object.entries(RATE_LIMIT_SETTINGS) as Array<[keyof RateLimits, string]>) {
    const raw = env[name]
    if (raw === undefined || raw.trim() === '') continue
    try {
      rateLimits[bucket] = parseRateRule(raw, name)
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error))
    }
  }
  const clientIpHeader = env.KEYGATE_CLIENT_IP_HEADER?.trim().toLowerCase() || null
  const logFormat = (env.KEYGATE_LOG_FORMAT?.trim().toLowerCase() || null) as Config['logFormat']
  if (logFormat !== null && logFormat !== 'pretty' && logFormat !== 'json')
    problems.push('KEYGATE_LOG_FORMAT must be pretty or json')
  const maxConnections = Number(env.KEYGATE_MAX_CONNECTIONS ?? DEFAULT_MAX_CONNECTIONS)
  if (!Number.isSafeInteger(maxConnections) || maxConnections < 1)
    problems.push('KEYGATE_MAX_CONNECTIONS must be a positive integer')
  const auditRetentionMs = parseRetention(env.KEYGATE_AUDIT_RETENTION, problems)

  if (problems.length > 0 || url === null) {
    throw new KeygateError('CONFIG_INVALID', `Invalid configuration:\n  - ${problems.join('\n  - ')}`)
  }
  return Object.freeze({
    url: rawUrl,
    port,
    host,
    databaseUrl: env.DATABASE_URL?.trim() || null,
    // Blank is unset, as for every setting: an empty data directory would be the working directory.
    dataDir: env.KEYGATE_DATA_DIR?.trim() || './data',
    policyPath: env.KEYGATE_POLICY?.trim() || 'policies/policy.hujson',
    secret,
    previousSecrets,
    production,
    devIdp,
    logLevel,
    rateLimits: Object.freeze(rateLimits),
    clientIpHeader,
    logFormat,
    maxConnections,
    auditRetentionMs,
  })
}

function parseRetention(raw: string | undefined, problems: string[]): number | null {
  const text = raw?.trim()
  if (text === undefined || text === '') return DEFAULT_AUDIT_RETENTION_MS
  if (/^(off|never|forever)$/i.test(text)) return null
  // Whole hours, days or weeks: retention is never finer than that.
  const match = /^(\d{1,6})([hdw])$/.exec(text)
  const unit = { h: 3_600_000, d: 86_400_000, w: 604_800_000 }
  const ms = match === null ? null : Number(match[1]) * unit[match[2] as 'h' | 'd' | 'w']
  if (ms === null || ms < MIN_AUDIT_RETENTION_MS) {
    problems.push(
      `KEYGATE_AUDIT_RETENTION must be a duration of at least 1d (e.g. 90d, 52w) or "off", got "${text}"`,
    )
    return DEFAULT_AUDIT_RETENTION_MS
  }
  return ms
}

function parsePort(raw: string | undefined, url: URL | null, problems: string[]): number {
  const fromUrl = url?.port ? Number(url.port) : null
  // Blank like unset: Number('') is 0, which would silently listen on a random port.
  const text = raw?.trim() || (fromUrl === null ? '8080' : String(fromUrl))
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    problems.push(`PORT must be an integer from 0 to 65535, got "${text}"`)
    return 8080
  }
  return port
}
