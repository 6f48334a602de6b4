import { describe, expect, it } from 'vitest'
import type { AuthFacts } from '../../../src/core/model.ts'
import {
  counterLooksCloned,
  enrolmentIsAnchored,
  enrolmentRefusal,
  expectedOrigin,
  type FirstFactorRule,
  formatStepUp,
  parseStepUp,
  relyingPartyId,
  STEP_UP_TOKENS,
  withStepUp,
} from '../../../src/core/step-up/index.ts'

const now = 1_700_000_000_000
const nowSeconds = now / 1000

describe('enrolment rules', () => {
  const fresh = { authTime: nowSeconds - 60, stepUp: null, verdict: 'mfa' as const }
  const base = {
    auth: fresh,
    hasConfirmedFactor: false,
    rule: 'idp-mfa-or-code' as const,
    hasValidCode: false,
  }
  it('allows the first factor right after a fresh IdP-MFA sign-in', () => {
    expect(enrolmentRefusal(base, now)).toBeNull()
  })
  it('refuses the first factor after ten minutes, or with no auth_time', () => {
    expect(enrolmentRefusal({ ...base, auth: { ...fresh, authTime: nowSeconds - 601 } }, now)?.code).toBe(
      'AUTH_TOO_OLD',
    )
    expect(enrolmentRefusal({ ...base, auth: { ...fresh, authTime: null } }, now)?.code).toBe('AUTH_TOO_OLD')
  })
  it('first factor without IdP MFA: refused unless an admin-issued code is offered (default rule)', () => {
    const single = { ...fresh, verdict: 'single' as const }
    expect(enrolmentRefusal({ ...base, auth: single }, now)?.code).toBe('ENROLMENT_CODE_REQUIRED')
    expect(enrolmentRefusal({ ...base, auth: single, hasValidCode: true }, now)).toBeNull()
  })
  it('each first-factor rule accepts exactly its proofs', () => {
    const single = { ...fresh, verdict: 'single' as const }
    const allowed = (rule: FirstFactorRule, auth: typeof fresh | typeof single, hasValidCode: boolean) =>
      enrolmentRefusal({ ...base, rule, auth, hasValidCode }, now) === null
    expect([allowed('idp-mfa', fresh, false), allowed('idp-mfa', single, true)]).toEqual([true, false])
    expect([allowed('code', fresh, false), allowed('code', single, true)]).toEqual([false, true])
    expect(allowed('password', single, false)).toBe(true)
  })
  it('says in words what each rule needs, and how recent the sign-in must be', () => {
    const single = { ...fresh, verdict: 'single' as const }
    const message = (rule: FirstFactorRule) => enrolmentRefusal({ ...base, rule, auth: single }, now)?.message
    expect(message('idp-mfa')).toBe(
      'Your first second factor must be set up in a sign-in with multi-factor authentication at your identity provider.',
    )
    expect(message('code')).toBe(
      'Setting up your first second factor needs a one-time enrolment code from your administrator.',
    )
    expect(message('idp-mfa-or-code')).toBe(
      'Setting up your first second factor needs a sign-in with multi-factor authentication at your identity provider, or a one-time enrolment code from your administrator.',
    )
    const old = { ...base, auth: { ...fresh, authTime: nowSeconds - 601 } }
    expect(enrolmentRefusal(old, now)?.message).toBe(
      'Adding a second factor needs a sign-in at your identity provider within the last 10 minutes. Sign in again, then add it.',
    )
    expect(enrolmentRefusal(old, now, 300)?.message).toMatch(/within the last 5 minutes\./)
  })
  it('needs a step-up with an existing factor before adding another', () => {
    expect(enrolmentRefusal({ ...base, hasConfirmedFactor: true }, now)?.code).toBe('STEP_UP_REQUIRED')
    expect(
      enrolmentRefusal(
        { ...base, hasConfirmedFactor: true, auth: { ...fresh, stepUp: 'totp' as never } },
        now,
      ),
    ).toBeNull()
  })
  it('a factor is anchored when enrolled in an IdP-MFA session or after an anchored step-up', () => {
    expect(enrolmentIsAnchored({ verdict: 'mfa', stepUp: null })).toBe(true)
    expect(enrolmentIsAnchored({ verdict: 'single', stepUp: 'totp' })).toBe(false)
    expect(enrolmentIsAnchored({ verdict: 'single', stepUp: 'totp@idp-mfa' })).toBe(true)
  })
  it('a step-up keeps the IdP facts and sets only stepUp', () => {
    const auth: AuthFacts = { verdict: 'unknown', amr: [], acr: null, acrs: [], authTime: 5, stepUp: null }
    expect(withStepUp(auth, { method: 'webauthn', amr: 'hwk', anchored: false })).toEqual({
      ...auth,
      stepUp: 'webauthn:hwk',
    })
  })
})

describe('step-up proof tokens', () => {
  it('round-trips every token and reads the bare method names of older sessions as the weakest proof', () => {
    for (const token of STEP_UP_TOKENS) expect(formatStepUp(parseStepUp(token)!)).toBe(token)
    expect(parseStepUp('webauthn')).toEqual({ method: 'webauthn', amr: 'swk', anchored: false })
    expect(parseStepUp('totp')).toEqual({ method: 'totp', amr: 'otp', anchored: false })
  })
  it('refuses anything outside the vocabulary', () => {
    for (const bad of ['', 'sms', 'totp:hwk', 'webauthn:otp', 'webauthn:hwk:x', 'totp@mfa', null])
      expect(parseStepUp(bad)).toBeNull()
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
