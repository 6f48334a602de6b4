import { describe, expect, it } from 'vitest'
import type { AuthFacts } from '../../../src/core/model.ts'
import {
  counterLooksCloned,
  enrolmentRefusal,
  expectedOrigin,
  relyingPartyId,
  withStepUp,
} from '../../../src/core/step-up/index.ts'

const now = 1_700_000_000_000
const nowSeconds = now / 1000

describe('enrolment rules', () => {
  it('allows the first factor right after a fresh sign-in', () => {
    expect(enrolmentRefusal({ authTime: nowSeconds - 60, stepUp: null }, false, now)).toBeNull()
  })
  it('refuses the first factor after ten minutes, or with no auth_time', () => {
    expect(enrolmentRefusal({ authTime: nowSeconds - 601, stepUp: null }, false, now)?.code).toBe(
      'AUTH_TOO_OLD',
    )
    expect(enrolmentRefusal({ authTime: null, stepUp: null }, false, now)?.code).toBe('AUTH_TOO_OLD')
  })
  it('needs a step-up with an existing factor before adding another', () => {
    expect(enrolmentRefusal({ authTime: nowSeconds - 60, stepUp: null }, true, now)?.code).toBe(
      'STEP_UP_REQUIRED',
    )
    expect(enrolmentRefusal({ authTime: nowSeconds - 60, stepUp: 'totp' }, true, now)).toBeNull()
  })
  it('a step-up keeps the IdP facts and sets only stepUp', () => {
    const auth: AuthFacts = { verdict: 'unknown', amr: [], acr: null, acrs: [], authTime: 5, stepUp: null }
    expect(withStepUp(auth, 'webauthn')).toEqual({ ...auth, stepUp: 'webauthn' })
  })
})

describe('WebAuthn rules', () => {
  it('flags a counter that does not go up, except the always-zero of synced passkeys', () => {
    expect(counterLooksCloned(0, 0)).toBe(false)
    expect(counterLooksCloned(5, 6)).toBe(false)
    expect(counterLooksCloned(5, 5)).toBe(true)
    expect(counterLooksCloned(5, 0)).toBe(true)
  })
  it('derives the RP id and origin from the public URL', () => {
    expect(relyingPartyId('https://vpn.example.com:8443/x')).toBe('vpn.example.com')
    expect(expectedOrigin('https://vpn.example.com:443')).toBe('https://vpn.example.com')
    expect(expectedOrigin('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080')
  })
})
