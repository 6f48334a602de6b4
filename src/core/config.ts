/**
 * Keygate's configuration: one parse of the environment (Node) or the bindings (Workers) into a frozen,
 * typed value. Defaults live here and nowhere else. Names are part of the external contract (DESIGN.md).
 */
import { KeygateError } from './errors.ts'
import { isLoopbackUrl } from './identity/loopback.ts'

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
  production: boolean
  /** Whether the built-in development IdP should run (never in production, never off loopback). */
  devIdp: boolean
  logLevel: 'debug' | 'info' | 'warn' | 'error'
}

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

  const loopback = url !== null && isLoopbackUrl(url)
  const devIdpSetting = env.KEYGATE_DEV_IDP?.toLowerCase()
  let devIdp = !hasConfiguredIdps && loopback && !production
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

  if (problems.length > 0 || url === null) {
    throw new KeygateError('CONFIG_INVALID', `Invalid configuration:\n  - ${problems.join('\n  - ')}`)
  }
  return Object.freeze({
    url: rawUrl,
    port,
    host: env.HOST ?? '127.0.0.1',
    databaseUrl: env.DATABASE_URL?.trim() || null,
    dataDir: env.KEYGATE_DATA_DIR ?? './data',
    policyPath: env.KEYGATE_POLICY ?? 'policies/policy.hujson',
    secret,
    production,
    devIdp,
    logLevel,
  })
}

function parsePort(raw: string | undefined, url: URL | null, problems: string[]): number {
  const fromUrl = url?.port ? Number(url.port) : null
  const text = raw ?? (fromUrl === null ? '8080' : String(fromUrl))
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    problems.push(`PORT must be an integer from 0 to 65535, got "${text}"`)
    return 8080
  }
  return port
}
