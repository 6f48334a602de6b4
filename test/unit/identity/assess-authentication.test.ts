// Every profile's MFA rule, judged only on what came back in the ID token.
import { describe, expect, it } from 'vitest'
import { assessAuthentication } from '../../../src/core/identity/assess-authentication.ts'
import type { IdpProfileName, ProfileOptions } from '../../../src/core/identity/profiles.ts'

const verdict = (profile: IdpProfileName, claims: Record<string, unknown>, options: ProfileOptions = {}) =>
  assessAuthentication(profile, claims, options).verdict

describe('raw facts', () => {
  it('copies amr, acr, acrs and auth_time as sent', () => {
    const facts = assessAuthentication('generic', {
      amr: ['pwd', 'otp'],
      acr: 'urn:x',
      acrs: ['c1'],
      auth_time: 1_700_000_000,
    })
    expect(facts).toEqual({
      verdict: 'mfa',
      amr: ['pwd', 'otp'],
      acr: 'urn:x',
      acrs: ['c1'],
      authTime: 1_700_000_000,
      stepUp: null,
    })
  })

  it('drops malformed values instead of trusting them', () => {
    const facts = assessAuthentication('generic', {
      amr: 'mfa',
      acr: { x: 1 },
      acrs: [1, 'c2'],
      auth_time: '17',
    })
    expect(facts).toMatchObject({ amr: ['mfa'], acr: null, acrs: ['c2'], authTime: null })
    expect(assessAuthentication('generic', { amr: [1, null, 'pwd'] }).amr).toEqual(['pwd'])
  })

  it('says unknown when the IdP said nothing at all', () => {
    for (const profile of ['okta', 'entra', 'keycloak', 'auth0', 'google', 'generic'] as const) {
      expect(verdict(profile, { sub: 'x' })).toBe('unknown')
    }
  })
})

describe('okta', () => {
  it.each(['urn:okta:loa:2fa:any', 'phr', 'phrh'])('acr %s is mfa', (acr) => {
    expect(verdict('okta', { acr, amr: ['pwd'] })).toBe('mfa')
  })

  it('a 1fa acr is single even though 2fa was requested', () => {
    expect(verdict('okta', { acr: 'urn:okta:loa:1fa:any', amr: ['pwd'] })).toBe('single')
    expect(verdict('okta', { acr: 'urn:okta:loa:2fa:any:ifpossible' })).toBe('single')
  })

  it('amr mfa counts', () => {
    expect(verdict('okta', { amr: ['pwd', 'mfa'] })).toBe('mfa')
  })

  it('factor kinds alone do not count (the table trusts acr or amr mfa only)', () => {
    expect(verdict('okta', { amr: ['pwd', 'otp'] })).toBe('single')
  })

  it('an overridden acr list replaces the default', () => {
    expect(verdict('okta', { acr: 'phr' }, { acrValues: ['phrh'] })).toBe('single')
    expect(verdict('okta', { acr: 'phrh' }, { acrValues: ['phrh'] })).toBe('mfa')
  })

  it('extra amr values count', () => {
    expect(verdict('okta', { amr: ['pop'] }, { mfaAmr: ['pop'] })).toBe('mfa')
  })
})

describe('entra', () => {
  it('acrs containing the configured auth context is mfa', () => {
    expect(verdict('entra', { acrs: ['c1'] }, { authContext: 'c1' })).toBe('mfa')
    expect(verdict('entra', { acrs: ['C3', 'c2'] }, { authContext: 'c3' })).toBe('mfa')
  })

  it('another auth context is not', () => {
    expect(verdict('entra', { acrs: ['c2'] }, { authContext: 'c1' })).toBe('single')
  })

  it('acrs without a configured context never counts', () => {
    expect(verdict('entra', { acrs: ['c1'] })).toBe('single')
  })

  it.each([['mfa'], ['ngcmfa']])('v1 amr %s is mfa', (value) => {
    expect(verdict('entra', { amr: ['pwd', value] })).toBe('mfa')
  })

  it('v1 amr pwd, otp without mfa is single; v1 acr "1" is not mfa', () => {
    expect(verdict('entra', { amr: ['pwd', 'otp'], acr: '1' })).toBe('single')
  })

  it('a v2 token without amr or acrs is unknown', () => {
    expect(verdict('entra', { sub: 'x', tid: 't' }, { authContext: 'c1' })).toBe('unknown')
  })
})

describe('keycloak', () => {
  it('acr at or above the level is mfa', () => {
    expect(verdict('keycloak', { acr: '2' })).toBe('mfa')
    expect(verdict('keycloak', { acr: '3' })).toBe('mfa')
    expect(verdict('keycloak', { acr: '3' }, { loa: 3 })).toBe('mfa')
  })

  it('acr below the level is single', () => {
    expect(verdict('keycloak', { acr: '1' })).toBe('single')
    expect(verdict('keycloak', { acr: '2' }, { loa: 3 })).toBe('single')
  })

  it('acr "0" never counts, whatever else the token says', () => {
    expect(verdict('keycloak', { acr: '0' })).toBe('single')
    expect(
      verdict('keycloak', { acr: '0', amr: ['pwd', 'otp', 'mfa'] }, { mfaAmr: ['mfa'], acrValues: ['0'] }),
    ).toBe('single')
  })

  it('amr alone does not count unless configured', () => {
    expect(verdict('keycloak', { acr: '1', amr: ['pwd', 'otp'] })).toBe('single')
    expect(verdict('keycloak', { acr: '1', amr: ['pwd', 'mfa'] })).toBe('single')
    expect(verdict('keycloak', { acr: '1', amr: ['pwd', 'mfa'] }, { mfaAmr: ['mfa'] })).toBe('mfa')
  })

  it('named levels count when configured', () => {
    expect(verdict('keycloak', { acr: 'gold' })).toBe('single')
    expect(verdict('keycloak', { acr: 'gold' }, { acrValues: ['gold'] })).toBe('mfa')
  })

  it('a numeric acr sent as a number still counts', () => {
    expect(verdict('keycloak', { acr: 2 })).toBe('mfa')
  })
})

describe('auth0', () => {
  it('amr mfa is mfa', () => {
    expect(verdict('auth0', { amr: ['mfa'] })).toBe('mfa')
  })

  it('absent amr (silent auth) is unknown, never mfa', () => {
    expect(verdict('auth0', { sub: 'auth0|1' })).toBe('unknown')
  })

  it('a configured acr counts (Auth0 PAPE policy set by an Action)', () => {
    const pape = 'http://schemas.openid.net/pape/policies/2007/06/multi-factor'
    expect(verdict('auth0', { acr: pape })).toBe('single')
    expect(verdict('auth0', { acr: pape }, { acrValues: [pape] })).toBe('mfa')
  })

  it('pwd + otp without mfa is not enough for auth0', () => {
    expect(verdict('auth0', { amr: ['pwd', 'otp'] })).toBe('single')
  })
})

describe('google', () => {
  it.each([['mfa'], ['hwk']])('amr %s is mfa', (value) => {
    expect(verdict('google', { amr: ['pwd', value] })).toBe('mfa')
  })

  it('no amr (no session-claims bundle) is unknown', () => {
    expect(verdict('google', { sub: '1', hd: 'example.com' })).toBe('unknown')
  })

  it('amr with a password only is single', () => {
    expect(verdict('google', { amr: ['pwd'] })).toBe('single')
  })
})

describe('generic', () => {
  it('amr mfa is mfa', () => {
    expect(verdict('generic', { amr: ['mfa'] })).toBe('mfa')
  })

  it.each([[['pwd', 'otp']], [['pwd', 'hwk']], [['pin', 'fpt']], [['sms', 'face']]])(
    'two factor kinds %j are mfa',
    (amr) => {
      expect(verdict('generic', { amr })).toBe('mfa')
    },
  )

  it.each([[['pwd']], [['pwd', 'pin']], [['otp', 'sms']], [['pwd', 'rba', 'geo']], [['user', 'wia']]])(
    'one factor kind %j is single',
    (amr) => {
      expect(verdict('generic', { amr })).toBe('single')
    },
  )

  it('a configured acr counts; an unconfigured one does not', () => {
    expect(verdict('generic', { acr: 'urn:mace:incommon:iap:silver' })).toBe('single')
    expect(verdict('generic', { acr: 'gold' }, { acrValues: ['gold'] })).toBe('mfa')
  })

  it('ignores amr values that only look like factors', () => {
    expect(verdict('generic', { amr: ['toString', 'constructor'] })).toBe('single')
  })
})
