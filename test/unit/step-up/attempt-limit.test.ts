import { describe, expect, it } from 'vitest'
import { decideAttempt } from '../../../src/core/step-up/index.ts'

const limit = { maxFailures: 3, windowMs: 60_000 }

describe('attempt limit', () => {
  it('allows attempts below the limit and says how many remain', () => {
    expect(decideAttempt([], 100_000, limit)).toEqual({ allowed: true, remaining: 3 })
    expect(decideAttempt([90_000, 95_000], 100_000, limit)).toEqual({ allowed: true, remaining: 1 })
  })
  it('refuses at the limit until the oldest counted failure ages out', () => {
    const decision = decideAttempt([50_000, 90_000, 95_000], 100_000, limit)
    expect(decision).toEqual({ allowed: false, retryAfterMs: 10_000 })
    expect(decideAttempt([50_000, 90_000, 95_000], 110_001, limit).allowed).toBe(true)
  })
  it('ignores failures outside the window and in the future', () => {
    expect(decideAttempt([1, 2, 3, 200_000], 100_000, limit)).toEqual({ allowed: true, remaining: 3 })
  })
  it('with more failures than the limit, waits for enough of them to age out', () => {
    const decision = decideAttempt([45_000, 50_000, 90_000, 95_000], 100_000, limit)
    expect(decision).toEqual({ allowed: false, retryAfterMs: 10_000 })
  })
  it('reads failure times in any order: the store need not sort them', () => {
    expect(decideAttempt([95_000, 45_000, 90_000, 50_000], 100_000, limit)).toEqual({
      allowed: false,
      retryAfterMs: 10_000,
    })
  })
  it('a failure exactly one window old no longer counts', () => {
    expect(decideAttempt([40_000, 90_000, 95_000], 100_000, limit)).toEqual({ allowed: true, remaining: 1 })
  })
})
