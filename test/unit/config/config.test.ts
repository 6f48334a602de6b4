// parseConfig: the defaults DESIGN.md's table promises, and a clear CONFIG_INVALID for each bad setting.
import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_CONNECTIONS, parseConfig } from '../../../src/core/config.ts'
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
