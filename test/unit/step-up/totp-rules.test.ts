import { describe, expect, it } from 'vitest'
import { isTotpReplay, normalizeTotpCode, totpStepAt } from '../../../src/core/step-up/index.ts'

describe('TOTP replay rule', () => {
  it('accepts the first code a factor ever sees', () => {
    expect(isTotpReplay(null, 1000)).toBe(false)
  })
  it('refuses the same step again, and an older step still inside the window', () => {
    expect(isTotpReplay(1000, 1000)).toBe(true)
    expect(isTotpReplay(1000, 999)).toBe(true)
  })
  it('accepts a later step', () => {
    expect(isTotpReplay(1000, 1001)).toBe(false)
  })
  it('computes 30-second steps', () => {
    expect(totpStepAt(59_999)).toBe(1)
    expect(totpStepAt(60_000)).toBe(2)
  })
})

describe('normalizeTotpCode', () => {
  it.each([
    ['123456', '123456'],
    ['123 456', '123456'],
    ['123-456', '123456'],
    [' 123456 ', '123456'],
  ])('%j -> %j', (input, out) => expect(normalizeTotpCode(input)).toBe(out))
  it.each([['12345'], ['1234567'], ['abcdef'], [''], [123456], [null]])('refuses %j', (input) => {
    expect(normalizeTotpCode(input)).toBeNull()
  })
})
