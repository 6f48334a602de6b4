// The rate-limit rules of core (fixed windows, the configuration syntax) and the per-process limiter,
// with a fake clock: counting, refusal with the seconds until the window ends, per-key and per-bucket
// independence, the check that does not count, and the bounded memory.
import { describe, expect, it } from 'vitest'
import { createMemoryRateLimiter } from '../../../src/adapters/limits/memory-rate-limiter.ts'
import { parseConfig } from '../../../src/core/config.ts'
import { isKeygateError } from '../../../src/core/errors.ts'
import {
  countInWindow,
  DEFAULT_RATE_LIMITS,
  parseRateRule,
  peekWindow,
  RATE_BUCKETS,
  rateLimitedError,
} from '../../../src/core/limits/rate-limit.ts'

function fakeClock(start: number) {
  let now = start
  return {
    now: () => now,
    advance(ms: number) {
      now += ms
    },
  }
}

describe('parseRateRule', () => {
  it('reads LIMIT/WINDOW and off', () => {
    expect(parseRateRule('30/min', 'X')).toEqual({ limit: 30, windowMs: 60_000 })
    expect(parseRateRule('5/10s', 'X')).toEqual({ limit: 5, windowMs: 10_000 })
    expect(parseRateRule('100/h', 'X')).toEqual({ limit: 100, windowMs: 3_600_000 })
    expect(parseRateRule('off', 'X')).toBeNull()
  })
  it('refuses anything else with CONFIG_INVALID naming the setting', () => {
    for (const bad of ['30', '/min', '-1/min', '0/min', '3/week', '1.5/min', '3/0s']) {
      let error: unknown
      try {
        parseRateRule(bad, 'KEYGATE_RATE_LIMIT_AUTH')
      } catch (e) {
        error = e
      }
      expect(isKeygateError(error, 'CONFIG_INVALID'), bad).toBe(true)
      expect((error as Error).message).toContain('KEYGATE_RATE_LIMIT_AUTH')
    }
  })
  it('has defaults in the configuration, overridable per bucket', () => {
    expect(parseConfig({}, true).rateLimits).toEqual(DEFAULT_RATE_LIMITS)
    const config = parseConfig({ KEYGATE_RATE_LIMIT_ISSUE: '5/min', KEYGATE_RATE_LIMIT_AUTH: 'off' }, true)
    expect(config.rateLimits.issue).toEqual({ limit: 5, windowMs: 60_000 })
    expect(config.rateLimits.auth).toBeNull()
    expect(() => parseConfig({ KEYGATE_RATE_LIMIT_AUTH: 'lots' }, true)).toThrow(/KEYGATE_RATE_LIMIT_AUTH/)
  })
})

describe('the per-process rate limiter', () => {
  const limits = {
    auth: { limit: 3, windowMs: 60_000 },
    issue: null,
    gatewayAuthFailure: { limit: 2, windowMs: 10_000 },
    deviceStart: null,
    userCodeFailure: null,
    scim: null,
  }

  it('allows the limit per window, then refuses with the seconds left until the window ends', async () => {
    const clock = fakeClock(1_200_000_020_000) // 20 s into a minute window
    const limiter = createMemoryRateLimiter(limits, clock)
    for (let i = 0; i < 3; i++) expect(await limiter.hit('auth', 'a')).toEqual({ allowed: true })
    expect(await limiter.hit('auth', 'a')).toEqual({ allowed: false, retryAfterSeconds: 40 })
    expect(await limiter.hit('auth', 'b')).toEqual({ allowed: true })
    clock.advance(40_000)
    expect(await limiter.hit('auth', 'a')).toEqual({ allowed: true })
  })

  it('does not limit a bucket configured off, nor count across buckets', async () => {
    const limiter = createMemoryRateLimiter(limits, fakeClock(0))
    for (let i = 0; i < 100; i++) expect((await limiter.hit('issue', 'a')).allowed).toBe(true)
    expect((await limiter.hit('auth', 'a')).allowed).toBe(true)
  })

  it('check reads without counting and refuses once the limit is used up', async () => {
    const limiter = createMemoryRateLimiter(limits, fakeClock(0))
    for (let i = 0; i < 5; i++) expect((await limiter.check('gatewayAuthFailure', 'x')).allowed).toBe(true)
    await limiter.hit('gatewayAuthFailure', 'x')
    expect((await limiter.check('gatewayAuthFailure', 'x')).allowed).toBe(true)
    await limiter.hit('gatewayAuthFailure', 'x')
    expect(await limiter.check('gatewayAuthFailure', 'x')).toEqual({ allowed: false, retryAfterSeconds: 10 })
  })

  it('keeps at most maxKeys counters, dropping expired windows first', async () => {
    const clock = fakeClock(0)
    const limiter = createMemoryRateLimiter(limits, clock, 3)
    await limiter.hit('auth', 'old')
    clock.advance(60_000)
    await limiter.hit('auth', 'a')
    await limiter.hit('auth', 'b')
    await limiter.hit('auth', 'c') // full: 'old' has expired and goes
    // 'a' kept its count: two more pass, the third is refused.
    await limiter.hit('auth', 'a')
    await limiter.hit('auth', 'a')
    expect((await limiter.hit('auth', 'a')).allowed).toBe(false)
  })
})

describe('rate-limit rules, directly', () => {
  it('reads spaces, case and "0" as the operator may write them; a limit of 1 is a limit', () => {
    expect(parseRateRule('  OFF  ', 'X')).toBeNull()
    expect(parseRateRule('0', 'X')).toBeNull()
    expect(parseRateRule(' 1 / 2 MIN ', 'X')).toEqual({ limit: 1, windowMs: 120_000 })
    expect(parseRateRule('7/sec', 'X')).toEqual({ limit: 7, windowMs: 1_000 })
    for (const bad of ['5/min please', '5/x min', '', '99999999999999999999/min']) {
      expect(() => parseRateRule(bad, 'X'), bad).toThrow(
        'X must look like 30/min, 5/10s or 100/h (or "off"), got',
      )
    }
  })

  it('counts within the fixed window that holds now, and starts again in the next', () => {
    const rule = { limit: 2, windowMs: 60_000 }
    const t = 1_800_000_030_000 // 30 s into a window
    const first = countInWindow(undefined, rule, t)
    expect(first).toEqual({ next: { windowStart: 1_800_000_000_000, count: 1 }, decision: { allowed: true } })
    const second = countInWindow(first.next, rule, t + 1_000)
    const third = countInWindow(second.next, rule, t + 2_000)
    expect(third).toEqual({
      next: { windowStart: 1_800_000_000_000, count: 3 },
      decision: { allowed: false, retryAfterSeconds: 28 },
    })
    expect(peekWindow(third.next, rule, t + 2_000)).toEqual({ allowed: false, retryAfterSeconds: 28 })
    expect(peekWindow(second.next, rule, t + 2_000)).toEqual({ allowed: false, retryAfterSeconds: 28 })
    expect(peekWindow(first.next, rule, t)).toEqual({ allowed: true })
    expect(peekWindow(third.next, rule, t + 30_000)).toEqual({ allowed: true })
    expect(peekWindow(undefined, rule, t)).toEqual({ allowed: true })
    expect(countInWindow(third.next, rule, t + 30_000).next).toEqual({
      windowStart: 1_800_000_060_000,
      count: 1,
    })
    expect(countInWindow({ windowStart: 0, count: 5 }, { limit: 5, windowMs: 1_000 }, 999).decision).toEqual({
      allowed: false,
      retryAfterSeconds: 1,
    })
  })

  it('names what was limited in the refusal, with when to come back', () => {
    const words = {
      auth: 'sign-in requests',
      issue: 'issuances',
      gatewayAuthFailure: 'failed gateway credentials',
      deviceStart: 'device sign-in starts',
      userCodeFailure: 'wrong device codes',
      scim: 'SCIM requests',
    }
    expect(RATE_BUCKETS).toEqual(Object.keys(words))
    for (const bucket of RATE_BUCKETS) {
      const error = rateLimitedError(bucket, { retryAfterSeconds: 12 })
      expect(error.code).toBe('RATE_LIMITED')
      expect(error.message).toBe(`Too many ${words[bucket]} from this client; retry in 12 s`)
      expect(error.details).toEqual({ retryAfterSeconds: 12 })
    }
  })
})
