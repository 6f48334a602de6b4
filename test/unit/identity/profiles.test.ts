// What each profile adds to the authorization request, and profile inference from the issuer.
import { describe, expect, it } from 'vitest'
import { authorizationParams, inferProfile } from '../../../src/core/identity/profiles.ts'

describe('authorizationParams', () => {
  it('okta asks for 2fa with acr_values', () => {
    expect(authorizationParams('okta', {}, false)).toEqual({ acr_values: 'urn:okta:loa:2fa:any' })
    expect(authorizationParams('okta', { acrValues: ['phr', 'phrh'] }, false)).toEqual({
      acr_values: 'phr phrh',
    })
  })

  it('entra asks for the auth context as an essential acrs claim', () => {
    const params = authorizationParams('entra', { authContext: 'c1' }, false)
    expect(JSON.parse(params.claims ?? '')).toEqual({ id_token: { acrs: { essential: true, value: 'c1' } } })
    expect(authorizationParams('entra', {}, false)).toEqual({})
  })

  it('keycloak asks for an essential acr at the level', () => {
    expect(JSON.parse(authorizationParams('keycloak', {}, false).claims ?? '')).toEqual({
      id_token: { acr: { essential: true, values: ['2'] } },
    })
    expect(JSON.parse(authorizationParams('keycloak', { loa: 3 }, false).claims ?? '')).toEqual({
      id_token: { acr: { essential: true, values: ['3'] } },
    })
    expect(JSON.parse(authorizationParams('keycloak', { acrValues: ['gold'] }, false).claims ?? '')).toEqual({
      id_token: { acr: { essential: true, values: ['gold'] } },
    })
  })

  it('auth0, google and generic add nothing by default', () => {
    for (const profile of ['auth0', 'google', 'generic'] as const) {
      expect(authorizationParams(profile, {}, false)).toEqual({})
    }
    expect(authorizationParams('generic', { acrValues: ['gold'] }, false)).toEqual({ acr_values: 'gold' })
  })

  it('step-up adds prompt=login to every profile, keeping its own parameters', () => {
    expect(authorizationParams('okta', {}, true)).toEqual({
      acr_values: 'urn:okta:loa:2fa:any',
      prompt: 'login',
    })
    expect(authorizationParams('entra', { authContext: 'c2' }, true).prompt).toBe('login')
    expect(authorizationParams('keycloak', {}, true).claims).toBeDefined()
    expect(authorizationParams('google', {}, true)).toEqual({ prompt: 'login' })
  })
})

describe('inferProfile', () => {
  it.each([
    ['https://accounts.google.com', 'google'],
    ['https://login.microsoftonline.com/0000-tenant/v2.0', 'entra'],
    ['https://example.okta.com', 'okta'],
    ['https://example.okta.com/oauth2/default', 'okta'],
    ['https://id.example.com/realms/corp', 'keycloak'],
    ['https://example.eu.auth0.com/', 'auth0'],
    ['https://sso.example.com', 'generic'],
    ['not a url', 'generic'],
  ])('%s -> %s', (issuer, profile) => {
    expect(inferProfile(issuer)).toBe(profile)
  })
})
