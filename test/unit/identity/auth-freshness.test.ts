// auth_time against the maximum auth age: missing, too old, fresh, skew at both edges.
import { describe, expect, it } from 'vitest'
import { checkAuthFreshness } from '../../../src/core/identity/auth-freshness.ts'

const NOW_MS = 1_800_000_000_000
const NOW = NOW_MS / 1000

describe('checkAuthFreshness', () => {
  it('refuses a missing auth_time', () => {
    expect(checkAuthFreshness({ authTime: null }, 3600, NOW_MS)?.code).toBe('AUTH_TIME_MISSING')
  })

  it('accepts a sign-in within the maximum age', () => {
    expect(checkAuthFreshness({ authTime: NOW - 60 }, 3600, NOW_MS)).toBeNull()
    expect(checkAuthFreshness({ authTime: NOW }, 0, NOW_MS)).toBeNull()
  })

  it('refuses a sign-in older than the maximum age plus skew', () => {
    const reason = checkAuthFreshness({ authTime: NOW - 3600 - 31 }, 3600, NOW_MS)
    expect(reason?.code).toBe('AUTH_TOO_OLD')
    expect(reason?.message).toContain('3631s')
  })

  it('allows exactly the skew, and no more', () => {
    expect(checkAuthFreshness({ authTime: NOW - 3630 }, 3600, NOW_MS)).toBeNull()
    expect(checkAuthFreshness({ authTime: NOW - 3601 }, 3600, NOW_MS, 0)?.code).toBe('AUTH_TOO_OLD')
  })

  it('refuses an auth_time beyond the skew in the future', () => {
    expect(checkAuthFreshness({ authTime: NOW + 20 }, 3600, NOW_MS)).toBeNull()
    expect(checkAuthFreshness({ authTime: NOW + 120 }, 3600, NOW_MS)?.code).toBe('AUTH_TIME_MISSING')
  })

  it('works on milliseconds that are not whole seconds', () => {
    expect(checkAuthFreshness({ authTime: NOW - 600 }, 600, NOW_MS + 999, 0)).toBeNull()
  })
})
