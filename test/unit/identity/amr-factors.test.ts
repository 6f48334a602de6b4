// RFC 8176's amr values by factor kind: each value the table names, and values that prove no factor alone.
import { describe, expect, it } from 'vitest'
import { factorKindOf, factorKinds } from '../../../src/core/identity/amr-factors.ts'

describe('factor kinds of amr values', () => {
  it('names the kind of every factor value RFC 8176 defines', () => {
    const kinds = Object.fromEntries(
      [
        'pwd',
        'pin',
        'kba',
        'otp',
        'hwk',
        'swk',
        'sc',
        'sms',
        'tel',
        'face',
        'fpt',
        'iris',
        'retina',
        'vbm',
      ].map((amr) => [amr, factorKindOf(amr)]),
    )
    expect(kinds).toEqual({
      pwd: 'knowledge',
      pin: 'knowledge',
      kba: 'knowledge',
      otp: 'possession',
      hwk: 'possession',
      swk: 'possession',
      sc: 'possession',
      sms: 'possession',
      tel: 'possession',
      face: 'inherence',
      fpt: 'inherence',
      iris: 'inherence',
      retina: 'inherence',
      vbm: 'inherence',
    })
  })

  it('gives no kind to values that are no factor alone, nor to object properties', () => {
    for (const amr of ['mfa', 'geo', 'rba', 'user', 'wia', 'mca', 'toString', '__proto__', '']) {
      expect(factorKindOf(amr), amr).toBeNull()
    }
    expect([...factorKinds(['pwd', 'pin', 'mfa', 'otp', 'hwk'])]).toEqual(['knowledge', 'possession'])
  })
})
