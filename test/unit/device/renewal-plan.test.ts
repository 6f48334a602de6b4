// When the terminal client renews or asks for a fresh sign-in (core/device/renewal-plan.ts).
import { describe, expect, it } from 'vitest'
import { nextStep } from '../../../src/core/device/renewal-plan.ts'
import {
  formatUserCode,
  generateUserCode,
  normalizeUserCode,
  USER_CODE_ALPHABET,
} from '../../../src/core/device/user-code.ts'

const MIN = 60_000
const HOUR = 60 * MIN

describe('renewal plan', () => {
  it('renews at two thirds of the lease life when the sign-in is not the limit', () => {
    expect(nextStep({ since: 0, expiresAt: 9 * MIN, signInValidUntil: null, lifetime: 9 * MIN })).toEqual({
      kind: 'renew',
      at: 6 * MIN,
    })
    expect(
      nextStep({ since: 0, expiresAt: 9 * MIN, signInValidUntil: 10 * HOUR, lifetime: 9 * MIN }).kind,
    ).toBe('renew')
  })

  it('asks for a fresh sign-in well before the end when maxAuthAge caps the lease', () => {
    // ttl 8h, maxAuthAge 1h: the lease ends with the sign-in; ask 20 minutes before, not at once.
    expect(nextStep({ since: 0, expiresAt: HOUR, signInValidUntil: HOUR, lifetime: HOUR })).toEqual({
      kind: 'sign-in',
      at: 40 * MIN,
    })
    // A short lease (8 s) under a 30 s sign-in: renew until a whole lease life before the sign-in ends.
    expect(nextStep({ since: 0, expiresAt: 8_000, signInValidUntil: 30_000, lifetime: 8_000 }).kind).toBe(
      'renew',
    )
    expect(nextStep({ since: 20_000, expiresAt: 28_000, signInValidUntil: 30_000, lifetime: 8_000 })).toEqual(
      {
        kind: 'sign-in',
        at: 22_000,
      },
    )
  })
})

describe('user codes (RFC 8628 section 6.1)', () => {
  it('draws eight characters from twenty consonants, uniformly', () => {
    let i = 0
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => i++ % 256)
    const counts = new Map<string, number>()
    for (let k = 0; k < 600; k++) {
      const code = generateUserCode({ bytes })
      expect(code).toMatch(new RegExp(`^[${USER_CODE_ALPHABET}]{8}$`))
      for (const ch of code) counts.set(ch, (counts.get(ch) ?? 0) + 1)
    }
    expect(counts.size).toBe(20)
    expect(USER_CODE_ALPHABET).not.toMatch(/[AEIOU0-9]/)
  })

  it('reads what a person types: case, dashes and spaces do not matter; anything else is no code', () => {
    expect(normalizeUserCode('bcdf-ghjk')).toBe('BCDFGHJK')
    expect(normalizeUserCode(' BCDF GHJK ')).toBe('BCDFGHJK')
    expect(normalizeUserCode('BCDF-GHJA')).toBeNull()
    expect(normalizeUserCode('BCDF-GHJ')).toBeNull()
    expect(normalizeUserCode(42)).toBeNull()
    expect(formatUserCode('BCDFGHJK')).toBe('BCDF-GHJK')
  })
})
