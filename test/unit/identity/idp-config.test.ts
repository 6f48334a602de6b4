// KEYGATE_IDP_<ID>_* -> IdpConfig[], with every problem named by its variable.
import { describe, expect, it } from 'vitest'
import { isKeygateError } from '../../../src/core/errors.ts'
import { parseIdpConfigs } from '../../../src/core/identity/idp-config.ts'

const base = {
  KEYGATE_IDP_OKTA_ISSUER: 'https://example.okta.com',
  KEYGATE_IDP_OKTA_CLIENT_ID: 'cid',
  KEYGATE_IDP_OKTA_CLIENT_SECRET: 'secret',
  KEYGATE_IDP_OKTA_PROFILE: 'okta',
}

function problemsOf(env: Record<string, string | undefined>): string {
  try {
    parseIdpConfigs(env)
  } catch (error) {
    if (isKeygateError(error, 'CONFIG_INVALID')) return error.message
    throw error
  }
  throw new Error('expected CONFIG_INVALID')
}

describe('parseIdpConfigs', () => {
  it('no variables, no IdPs; unrelated variables are ignored', () => {
    expect(
      parseIdpConfigs({ PATH: '/bin', KEYGATE_URL: 'http://localhost:8080', KEYGATE_DEV_IDP: '1' }),
    ).toEqual([])
  })

  it('parses one IdP with defaults', () => {
    expect(parseIdpConfigs(base)).toEqual([
      {
        id: 'okta',
        displayName: 'Okta',
        issuer: 'https://example.okta.com',
        clientId: 'cid',
        clientSecret: 'secret',
        profile: 'okta',
        scopes: ['openid', 'email', 'profile'],
        options: {},
      },
    ])
  })

  it('lower-cases the id for URLs and keeps underscores', () => {
    const [config] = parseIdpConfigs({
      KEYGATE_IDP_CORP_SSO_ISSUER: 'https://sso.example.com',
      KEYGATE_IDP_CORP_SSO_CLIENT_ID: 'a',
      KEYGATE_IDP_CORP_SSO_CLIENT_SECRET: 'b',
    })
    expect(config).toMatchObject({ id: 'corp_sso', profile: 'generic', displayName: 'corp_sso' })
  })

  it('reads every optional override', () => {
    const configs = parseIdpConfigs({
      ...base,
      KEYGATE_IDP_OKTA_DISPLAY_NAME: 'Corp Okta',
      KEYGATE_IDP_OKTA_SCOPES: 'openid email profile groups',
      KEYGATE_IDP_OKTA_ACR_VALUES: 'phr phrh',
      KEYGATE_IDP_OKTA_MFA_AMR: 'hwk,pop',
      KEYGATE_IDP_OKTA_GROUPS_CLAIM: 'okta_groups',
      KEYGATE_IDP_ENTRA_ISSUER: 'https://login.microsoftonline.com/tid/v2.0',
      KEYGATE_IDP_ENTRA_CLIENT_ID: 'e',
      KEYGATE_IDP_ENTRA_CLIENT_SECRET: 's',
      KEYGATE_IDP_ENTRA_AUTH_CONTEXT: 'C2',
      KEYGATE_IDP_KC_ISSUER: 'https://id.example.com/realms/corp',
      KEYGATE_IDP_KC_CLIENT_ID: 'k',
      KEYGATE_IDP_KC_CLIENT_SECRET: 's',
      KEYGATE_IDP_KC_LOA: '3',
    })
    expect(configs.map((c) => [c.id, c.profile, c.options])).toEqual([
      ['entra', 'entra', { authContext: 'c2' }],
      ['kc', 'keycloak', { loa: 3 }],
      ['okta', 'okta', { acrValues: ['phr', 'phrh'], mfaAmr: ['hwk', 'pop'], groupsClaim: 'okta_groups' }],
    ])
    expect(configs[2]).toMatchObject({
      displayName: 'Corp Okta',
      scopes: ['openid', 'email', 'profile', 'groups'],
    })
  })

  it('keeps the issuer exactly as written (Auth0 issuers end in a slash)', () => {
    const [config] = parseIdpConfigs({
      KEYGATE_IDP_A0_ISSUER: 'https://tenant.eu.auth0.com/',
      KEYGATE_IDP_A0_CLIENT_ID: 'a',
      KEYGATE_IDP_A0_CLIENT_SECRET: 'b',
    })
    expect(config).toMatchObject({ issuer: 'https://tenant.eu.auth0.com/', profile: 'auth0' })
  })

  it('names each missing required variable', () => {
    const message = problemsOf({ KEYGATE_IDP_OKTA_ISSUER: 'https://example.okta.com' })
    expect(message).toContain('KEYGATE_IDP_OKTA_CLIENT_ID is required')
    expect(message).toContain('KEYGATE_IDP_OKTA_CLIENT_SECRET is required')
  })

  it('refuses an unknown profile, a typo in a suffix, and scopes without openid', () => {
    const message = problemsOf({
      ...base,
      KEYGATE_IDP_OKTA_PROFILE: 'ping',
      KEYGATE_IDP_OKTA_CLIENTID: 'x',
      KEYGATE_IDP_OKTA_SCOPES: 'email',
    })
    expect(message).toContain(
      'KEYGATE_IDP_OKTA_PROFILE must be one of google, entra, okta, keycloak, auth0, generic',
    )
    expect(message).toContain('KEYGATE_IDP_OKTA_CLIENTID: unknown variable')
    expect(message).toContain('KEYGATE_IDP_OKTA_SCOPES must include "openid"')
  })

  it('refuses plain http except on loopback', () => {
    expect(problemsOf({ ...base, KEYGATE_IDP_OKTA_ISSUER: 'http://example.okta.com' })).toContain(
      'KEYGATE_IDP_OKTA_ISSUER must be an https URL',
    )
    expect(problemsOf({ ...base, KEYGATE_IDP_OKTA_ISSUER: 'okta' })).toContain(
      'KEYGATE_IDP_OKTA_ISSUER is not a URL',
    )
    expect(parseIdpConfigs({ ...base, KEYGATE_IDP_OKTA_ISSUER: 'http://127.0.0.1:4000' })[0]?.issuer).toBe(
      'http://127.0.0.1:4000',
    )
  })

  it('refuses overrides that do not apply to the profile, and bad values', () => {
    expect(problemsOf({ ...base, KEYGATE_IDP_OKTA_LOA: '2' })).toContain(
      'KEYGATE_IDP_OKTA_LOA applies only to profile keycloak',
    )
    expect(problemsOf({ ...base, KEYGATE_IDP_OKTA_AUTH_CONTEXT: 'c1' })).toContain(
      'KEYGATE_IDP_OKTA_AUTH_CONTEXT applies only to profile entra',
    )
    expect(
      problemsOf({ ...base, KEYGATE_IDP_OKTA_PROFILE: 'entra', KEYGATE_IDP_OKTA_AUTH_CONTEXT: 'c99' }),
    ).toContain('c1…c25')
    expect(
      problemsOf({ ...base, KEYGATE_IDP_OKTA_PROFILE: 'keycloak', KEYGATE_IDP_OKTA_LOA: '0' }),
    ).toContain('KEYGATE_IDP_OKTA_LOA must be a level of 1 or more')
    expect(
      problemsOf({ ...base, KEYGATE_IDP_OKTA_PROFILE: 'entra', KEYGATE_IDP_OKTA_ACR_VALUES: 'x' }),
    ).toContain('does not apply to profile entra')
  })

  it('refuses the same id spelled in two cases', () => {
    expect(problemsOf({ ...base, KEYGATE_IDP_Okta_LOA: '2' })).toContain('ids are case-insensitive')
  })

  it('reports all problems of all IdPs at once', () => {
    const message = problemsOf({ KEYGATE_IDP_A_ISSUER: 'x', KEYGATE_IDP_B_CLIENT_ID: 'y' })
    expect(message.split('\n  - ').length - 1).toBeGreaterThanOrEqual(5)
  })
})
