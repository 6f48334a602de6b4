// parseConfig: the defaults DESIGN.md's table promises, and a clear CONFIG_INVALID for each bad setting.
import { describe, expect, it } from 'vitest'
import { DEFAULT_AUDIT_RETENTION_MS, DEFAULT_MAX_CONNECTIONS, parseConfig } from '../../../src/core/config.ts'
import { isKeygateError } from '../../../src/core/errors.ts'
import { DEFAULT_RATE_LIMITS } from '../../../src/core/limits/rate-limit.ts'

function problemsOf(env: Record<string, string>, hasIdps = false): string {
  try {
    parseConfig(env, hasIdps)
  } catch (error) {
    if (isKeygateError(error, 'CONFIG_INVALID')) return error.message
    throw error
  }
  throw new Error('expected CONFIG_INVALID')
}

describe('parseConfig', () => {
  it('has the documented defaults', () => {
    expect(parseConfig({}, false)).toEqual({
      url: 'http://localhost:8080',
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: null,
      dataDir: './data',
      policyPath: 'policies/policy.hujson',
      secret: null,
      previousSecrets: [],
      production: false,
      devIdp: true,
      logLevel: 'info',
      rateLimits: DEFAULT_RATE_LIMITS,
      clientIpHeader: null,
      logFormat: null,
      maxConnections: DEFAULT_MAX_CONNECTIONS,
      auditRetentionMs: 365 * 86_400_000,
    })
  })

  it('takes KEYGATE_MAX_CONNECTIONS as a positive integer, and refuses anything else', () => {
    expect(parseConfig({ KEYGATE_MAX_CONNECTIONS: '12288' }, false).maxConnections).toBe(12_288)
    for (const bad of ['0', '-5', '1.5', 'many']) {
      expect(() => parseConfig({ KEYGATE_MAX_CONNECTIONS: bad }, false)).toThrow(
        /KEYGATE_MAX_CONNECTIONS must be a positive integer/,
      )
    }
  })

  it('takes KEYGATE_LOG_FORMAT pretty or json, and refuses anything else', () => {
    expect(parseConfig({ KEYGATE_LOG_FORMAT: 'json' }, false).logFormat).toBe('json')
    expect(parseConfig({ KEYGATE_AUDIT_RETENTION: '90d' }, false).auditRetentionMs).toBe(90 * 86_400_000)
    expect(parseConfig({ KEYGATE_AUDIT_RETENTION: 'off' }, false).auditRetentionMs).toBeNull()
    expect(() => parseConfig({ KEYGATE_AUDIT_RETENTION: '5m' }, false)).toThrow(/KEYGATE_AUDIT_RETENTION/)
    expect(parseConfig({ KEYGATE_LOG_FORMAT: 'Pretty' }, false).logFormat).toBe('pretty')
    expect(() => parseConfig({ KEYGATE_LOG_FORMAT: 'xml' }, false)).toThrow(
      /KEYGATE_LOG_FORMAT must be pretty or json/,
    )
  })

  it('keeps the dev IdP off when HOST is not loopback (anyone on the network could sign in as the admin), unless opted in', () => {
    expect(parseConfig({ HOST: '0.0.0.0' }, false).devIdp).toBe(false)
    expect(parseConfig({ HOST: '::' }, false).devIdp).toBe(false)
    expect(parseConfig({ HOST: '192.168.1.10' }, false).devIdp).toBe(false)
    expect(parseConfig({ HOST: '127.0.0.1' }, false).devIdp).toBe(true)
    expect(parseConfig({ HOST: '::1' }, false).devIdp).toBe(true)
    expect(parseConfig({ HOST: '0.0.0.0', KEYGATE_DEV_IDP: 'on' }, false).devIdp).toBe(true)
  })

  it('takes the port from KEYGATE_URL unless PORT is set', () => {
    expect(parseConfig({ KEYGATE_URL: 'http://127.0.0.1:9000/' }, false)).toMatchObject({
      url: 'http://127.0.0.1:9000',
      port: 9000,
    })
    expect(parseConfig({ KEYGATE_URL: 'http://127.0.0.1:9000', PORT: '9100' }, false).port).toBe(9100)
  })

  it('turns the development IdP off when an IdP is configured, the URL is public, or in production', () => {
    expect(parseConfig({}, true).devIdp).toBe(false)
    expect(parseConfig({ KEYGATE_URL: 'https://vpn.example.com' }, false).devIdp).toBe(false)
    expect(parseConfig({ NODE_ENV: 'production', KEYGATE_SECRET: 'x'.repeat(32) }, false).devIdp).toBe(false)
    expect(parseConfig({ KEYGATE_DEV_IDP: 'off' }, false).devIdp).toBe(false)
    expect(parseConfig({ KEYGATE_DEV_IDP: 'on' }, true).devIdp).toBe(true)
  })

  it('refuses to force the development IdP on where it must never run', () => {
    expect(problemsOf({ KEYGATE_DEV_IDP: 'on', KEYGATE_URL: 'https://vpn.example.com' })).toContain(
      'loopback',
    )
    expect(
      problemsOf({ KEYGATE_DEV_IDP: 'on', NODE_ENV: 'production', KEYGATE_SECRET: 'x'.repeat(32) }),
    ).toContain('NODE_ENV=production')
  })

  it('requires a long enough KEYGATE_SECRET in production', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toContain('KEYGATE_SECRET is required')
    expect(problemsOf({ KEYGATE_SECRET: 'short' })).toContain('at least 32 characters')
  })

  it('reports every problem at once', () => {
    const message = problemsOf({ KEYGATE_URL: 'ftp://x', PORT: 'ninety', KEYGATE_LOG_LEVEL: 'loud' })
    expect(message).toContain('http(s) URL')
    expect(message).toContain('PORT must be an integer')
    expect(message).toContain('KEYGATE_LOG_LEVEL')
  })
})

describe('parseConfig, setting by setting', () => {
  const SECRET = 's'.repeat(32)

  it('reads every setting it is given', () => {
    const config = parseConfig(
      {
        KEYGATE_URL: 'https://vpn.example.com//',
        PORT: '0',
        HOST: '0.0.0.0',
        DATABASE_URL: ' postgres://db/keygate ',
        KEYGATE_DATA_DIR: '/var/lib/keygate',
        KEYGATE_POLICY: '/etc/keygate/policy.hujson',
        KEYGATE_SECRET: ` ${SECRET} `,
        KEYGATE_SECRET_PREVIOUS: ` ${'a'.repeat(32)}, ,${'b'.repeat(40)},`,
        NODE_ENV: 'production',
        KEYGATE_LOG_LEVEL: 'warn',
        KEYGATE_CLIENT_IP_HEADER: ' X-Forwarded-For ',
        KEYGATE_LOG_FORMAT: ' JSON ',
        KEYGATE_MAX_CONNECTIONS: '1',
        KEYGATE_AUDIT_RETENTION: ' 2w ',
      },
      true,
    )
    expect(config).toEqual({
      url: 'https://vpn.example.com',
      port: 0,
      host: '0.0.0.0',
      databaseUrl: 'postgres://db/keygate',
      dataDir: '/var/lib/keygate',
      policyPath: '/etc/keygate/policy.hujson',
      secret: SECRET,
      previousSecrets: ['a'.repeat(32), 'b'.repeat(40)],
      production: true,
      devIdp: false,
      logLevel: 'warn',
      rateLimits: DEFAULT_RATE_LIMITS,
      clientIpHeader: 'x-forwarded-for',
      logFormat: 'json',
      maxConnections: 1,
      auditRetentionMs: 14 * 86_400_000,
    })
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.rateLimits)).toBe(true)
  })

  it('treats blank optional settings as unset', () => {
    expect(
      parseConfig(
        { KEYGATE_SECRET: '   ', DATABASE_URL: ' ', KEYGATE_CLIENT_IP_HEADER: ' ', KEYGATE_LOG_FORMAT: ' ' },
        false,
      ),
    ).toMatchObject({ secret: null, databaseUrl: null, clientIpHeader: null, logFormat: null })
    // An empty data directory would be the working directory: blank keeps the default.
    expect(parseConfig({ KEYGATE_DATA_DIR: '', KEYGATE_POLICY: ' ' }, false)).toMatchObject({
      dataDir: './data',
      policyPath: 'policies/policy.hujson',
    })
    expect(parseConfig({ KEYGATE_AUDIT_RETENTION: '  ' }, false).auditRetentionMs).toBe(
      DEFAULT_AUDIT_RETENTION_MS,
    )
    expect(DEFAULT_AUDIT_RETENTION_MS).toBe(365 * 86_400_000)
  })

  it('treats a blank PORT or HOST as unset, not as port 0 or every interface', () => {
    expect(parseConfig({ PORT: '', HOST: '' }, false)).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      devIdp: true,
    })
    expect(parseConfig({ PORT: ' ', HOST: ' ', KEYGATE_URL: 'http://127.0.0.1:9000' }, false)).toMatchObject({
      port: 9000,
      host: '127.0.0.1',
    })
    expect(parseConfig({ PORT: ' 9100 ', HOST: ' ::1 ' }, false)).toMatchObject({ port: 9100, host: '::1' })
  })

  it('takes the port from the URL, else 8080, and PORT over both', () => {
    expect(parseConfig({ KEYGATE_URL: 'https://vpn.example.com' }, false).port).toBe(8080)
    expect(parseConfig({ KEYGATE_URL: 'https://vpn.example.com:8443' }, false).port).toBe(8443)
    expect(parseConfig({ PORT: '65535' }, false).port).toBe(65_535)
  })

  it.each(['65536', '-1', '1.5', 'ninety'])('refuses PORT=%j', (port) => {
    expect(problemsOf({ PORT: port })).toBe(
      `Invalid configuration:\n  - PORT must be an integer from 0 to 65535, got "${port}"`,
    )
  })

  it('lists each problem on its own line', () => {
    expect(problemsOf({ KEYGATE_URL: 'ftp://x', KEYGATE_LOG_LEVEL: 'loud' })).toBe(
      'Invalid configuration:\n  - KEYGATE_URL must be an http(s) URL\n  - KEYGATE_LOG_LEVEL must be debug, info, warn or error',
    )
    expect(problemsOf({ KEYGATE_URL: 'not a url' })).toBe(
      'Invalid configuration:\n  - KEYGATE_URL is not a URL: "not a url"',
    )
  })

  it('takes secrets of 32 characters and no shorter', () => {
    expect(parseConfig({ KEYGATE_SECRET: SECRET }, false).secret).toBe(SECRET)
    expect(problemsOf({ KEYGATE_SECRET: SECRET.slice(1) })).toBe(
      'Invalid configuration:\n  - KEYGATE_SECRET must be at least 32 characters',
    )
    expect(problemsOf({ KEYGATE_SECRET_PREVIOUS: `${SECRET},${SECRET.slice(1)}` })).toBe(
      'Invalid configuration:\n  - each KEYGATE_SECRET_PREVIOUS entry must be at least 32 characters',
    )
    expect(problemsOf({ NODE_ENV: 'production' })).toBe(
      'Invalid configuration:\n  - KEYGATE_SECRET is required when NODE_ENV=production',
    )
    expect(parseConfig({ NODE_ENV: 'Production' }, false).production).toBe(false)
  })

  it.each(['1', 'true', 'on', 'TRUE', 'On'])('turns the development IdP on with %j', (value) => {
    expect(parseConfig({ KEYGATE_DEV_IDP: value, HOST: '0.0.0.0' }, true).devIdp).toBe(true)
  })

  it.each(['0', 'false', 'off', 'OFF'])('turns the development IdP off with %j', (value) => {
    expect(parseConfig({ KEYGATE_DEV_IDP: value }, false).devIdp).toBe(false)
  })

  it('keeps the default for any other KEYGATE_DEV_IDP', () => {
    expect(parseConfig({ KEYGATE_DEV_IDP: 'yes' }, false).devIdp).toBe(true)
    expect(parseConfig({ KEYGATE_DEV_IDP: 'yes' }, true).devIdp).toBe(false)
    expect(parseConfig({ KEYGATE_URL: 'http://keygate.localhost:8080' }, false).devIdp).toBe(true)
  })

  it('says exactly why the development IdP cannot be forced on', () => {
    expect(problemsOf({ KEYGATE_DEV_IDP: 'on', KEYGATE_URL: 'https://vpn.example.com' })).toBe(
      'Invalid configuration:\n  - KEYGATE_DEV_IDP needs a loopback KEYGATE_URL (localhost or 127.0.0.1)',
    )
    expect(problemsOf({ KEYGATE_DEV_IDP: 'on', NODE_ENV: 'production', KEYGATE_SECRET: SECRET })).toBe(
      'Invalid configuration:\n  - KEYGATE_DEV_IDP cannot be on when NODE_ENV=production',
    )
  })

  it.each(['debug', 'info', 'warn', 'error'])('takes KEYGATE_LOG_LEVEL=%s', (level) => {
    expect(parseConfig({ KEYGATE_LOG_LEVEL: level }, false).logLevel).toBe(level)
  })

  it('reads each rate limit from its own setting', () => {
    const config = parseConfig(
      {
        KEYGATE_RATE_LIMIT_AUTH: '1/s',
        KEYGATE_RATE_LIMIT_ISSUE: '2/s',
        KEYGATE_RATE_LIMIT_GATEWAY_AUTH_FAILURES: '3/s',
        KEYGATE_RATE_LIMIT_DEVICE_START: '4/s',
        KEYGATE_RATE_LIMIT_USER_CODE_FAILURES: '5/s',
        KEYGATE_RATE_LIMIT_SCIM: 'off',
      },
      false,
    )
    expect(config.rateLimits).toEqual({
      auth: { limit: 1, windowMs: 1000 },
      issue: { limit: 2, windowMs: 1000 },
      gatewayAuthFailure: { limit: 3, windowMs: 1000 },
      deviceStart: { limit: 4, windowMs: 1000 },
      userCodeFailure: { limit: 5, windowMs: 1000 },
      scim: null,
    })
    expect(parseConfig({ KEYGATE_RATE_LIMIT_AUTH: ' ' }, false).rateLimits).toEqual(DEFAULT_RATE_LIMITS)
    expect(problemsOf({ KEYGATE_RATE_LIMIT_ISSUE: 'lots' })).toBe(
      'Invalid configuration:\n  - KEYGATE_RATE_LIMIT_ISSUE must look like 30/min, 5/10s or 100/h (or "off"), got "lots"',
    )
  })

  it.each([
    ['1d', 86_400_000],
    ['24h', 86_400_000],
    ['1w', 604_800_000],
    ['999999h', 999_999 * 3_600_000],
    ['never', null],
    ['FOREVER', null],
  ])('keeps audit events for %s', (text, ms) => {
    expect(parseConfig({ KEYGATE_AUDIT_RETENTION: text }, false).auditRetentionMs).toBe(ms)
  })

  it.each(['23h', '0d', '1000000h', '1.5d', 'off please', 'turnoff', '90', '90days'])(
    'refuses KEYGATE_AUDIT_RETENTION=%s',
    (text) => {
      expect(problemsOf({ KEYGATE_AUDIT_RETENTION: text })).toBe(
        `Invalid configuration:\n  - KEYGATE_AUDIT_RETENTION must be a duration of at least 1d (e.g. 90d, 52w) or "off", got "${text}"`,
      )
    },
  )
})
