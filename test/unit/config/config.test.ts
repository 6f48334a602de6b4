// parseConfig: the defaults DESIGN.md's table promises, and a clear CONFIG_INVALID for each bad setting.
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../../src/core/config.ts'
import { isKeygateError } from '../../../src/core/errors.ts'

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
      production: false,
      devIdp: true,
      logLevel: 'info',
    })
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
