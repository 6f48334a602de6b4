// The openid-client adapter against a real oidc-provider over HTTP, through the real redirects:
// what each profile requests, what the verdict is from what came back, and every refusal's code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OidcIdentityProvider } from '../../../src/adapters/idp/oidc-identity-provider.ts'
import { type ErrorCode, isKeygateError } from '../../../src/core/errors.ts'
import type { IdpConfig, IdpProfileName, ProfileOptions } from '../../../src/core/identity/index.ts'
import { captureCallbackUrl } from '../../support/login-driver.ts'
import {
  MFA_SCENARIO,
  PASSWORD_ONLY_SCENARIO,
  startTestIdp,
  type TestIdp,
  type TestIdpScenario,
} from '../../support/test-idp.ts'

// Never requested: the driver stops at the callback and hands its URL to completeLogin.
const REDIRECT_URI = 'http://127.0.0.1:9/auth/test/callback'

let idp: TestIdp

beforeAll(async () => {
  idp = await startTestIdp({ redirectUris: [REDIRECT_URI] })
})

afterAll(async () => {
  await idp?.close()
})

function adapter(profile: IdpProfileName = 'generic', options: ProfileOptions = {}): OidcIdentityProvider {
  const config: IdpConfig = {
    id: 'test',
    displayName: 'Test IdP',
    issuer: idp.issuer,
    clientId: idp.clientId,
    clientSecret: idp.clientSecret,
    profile,
    scopes: ['openid', 'email', 'profile'],
    options,
  }
  return new OidcIdentityProvider(config)
}

/** Starts a login, signs in at the IdP as the scenario says, and returns what the callback would get. */
async function signIn(
  scenario: TestIdpScenario,
  provider = adapter(),
  input: { maxAgeSeconds?: number; stepUp?: boolean } = {},
) {
  idp.setScenario(scenario)
  const { url, pending } = await provider.startLogin({
    redirectUri: REDIRECT_URI,
    maxAgeSeconds: input.maxAgeSeconds ?? 600,
    stepUp: input.stepUp ?? false,
  })
  const { callbackUrl } = await captureCallbackUrl(url)
  const request = idp.authorizationRequests.at(-1)
  return {
    provider,
    pending,
    callbackUrl,
    request,
    complete: () => provider.completeLogin(callbackUrl, pending),
  }
}

async function codeOf(promise: Promise<unknown>): Promise<ErrorCode> {
  try {
    await promise
  } catch (error) {
    if (isKeygateError(error)) return error.code
    throw error
  }
  throw new Error('expected a KeygateError')
}

describe('sign-in through a real IdP', () => {
  it('an MFA user gets verdict mfa, with identity and groups from the verified ID token', async () => {
    const before = Math.floor(Date.now() / 1000)
    const flow = await signIn(MFA_SCENARIO)
    const login = await flow.complete()
    expect(login).toMatchObject({
      issuer: idp.issuer,
      subject: 'user-alice',
      email: 'alice@example.com',
      emailVerified: true,
      name: 'Alice',
      groups: ['engineering'],
      groupsComplete: true,
      auth: { verdict: 'mfa', amr: ['pwd', 'otp'], stepUp: null },
    })
    expect(login.auth.authTime).toBeGreaterThanOrEqual(before - 1)
  })

  it('sends PKCE S256, state, nonce and max_age, and keeps the secrets for the callback', async () => {
    const flow = await signIn(MFA_SCENARIO, adapter(), { maxAgeSeconds: 900 })
    const request = flow.request!
    expect(request.get('code_challenge_method')).toBe('S256')
    expect(request.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(request.get('state')).toBe(flow.pending.state)
    expect(request.get('nonce')).toBe(flow.pending.nonce)
    expect(request.get('max_age')).toBe('900')
    expect(request.get('response_type')).toBe('code')
    expect(request.get('prompt')).toBeNull()
    expect(flow.pending).toMatchObject({ idpId: 'test', maxAgeSeconds: 900, stepUp: false })
    expect(request.get('code_challenge')).not.toContain(flow.pending.codeVerifier)
  })

  it('a password-only user gets verdict single', async () => {
    const login = await (await signIn(PASSWORD_ONLY_SCENARIO)).complete()
    expect(login.auth).toMatchObject({ verdict: 'single', amr: ['pwd'] })
  })

  it('an auth_time older than max_age is refused with AUTH_TOO_OLD', async () => {
    const flow = await signIn({ ...MFA_SCENARIO, authTimeOffsetSeconds: 3600 }, adapter(), {
      maxAgeSeconds: 600,
    })
    expect(await codeOf(flow.complete())).toBe('AUTH_TOO_OLD')
    const authTime = idp.issuedIdTokens.at(-1)?.auth_time as number
    expect(Math.floor(Date.now() / 1000) - authTime).toBeGreaterThanOrEqual(3600)
  })

  it('a missing auth_time is refused, and the ID token really lacked it', async () => {
    const flow = await signIn({ ...MFA_SCENARIO, omitAuthTime: true })
    expect(flow.request?.get('max_age')).toBe('600')
    expect(await codeOf(flow.complete())).toBe('AUTH_TIME_MISSING')
    const token = idp.issuedIdTokens.at(-1)
    expect(token?.sub).toBe('user-alice')
    expect(token?.nonce).toBe(flow.pending.nonce)
    expect(token).not.toHaveProperty('auth_time')
  })

  it('a state that does not match the pending login is refused with LOGIN_STATE_INVALID', async () => {
    const flow = await signIn(MFA_SCENARIO)
    const wrongPending = { ...flow.pending, state: 'not-the-state-we-sent' }
    expect(await codeOf(flow.provider.completeLogin(flow.callbackUrl, wrongPending))).toBe(
      'LOGIN_STATE_INVALID',
    )

    const tampered = new URL(flow.callbackUrl)
    tampered.searchParams.set('state', 'tampered')
    expect(await codeOf(flow.provider.completeLogin(tampered, flow.pending))).toBe('LOGIN_STATE_INVALID')
  })

  it('a pending login of another IdP is refused with LOGIN_STATE_INVALID', async () => {
    const flow = await signIn(MFA_SCENARIO)
    const other = { ...flow.pending, idpId: 'other' }
    expect(await codeOf(flow.provider.completeLogin(flow.callbackUrl, other))).toBe('LOGIN_STATE_INVALID')
  })

  it('a replayed callback (code already used) is refused with LOGIN_FAILED', async () => {
    const flow = await signIn(MFA_SCENARIO)
    await flow.complete()
    expect(await codeOf(flow.complete())).toBe('LOGIN_FAILED')
  })

  it('a wrong PKCE verifier is refused with LOGIN_FAILED', async () => {
    const flow = await signIn(MFA_SCENARIO)
    const pending = { ...flow.pending, codeVerifier: 'x'.repeat(43) }
    expect(await codeOf(flow.provider.completeLogin(flow.callbackUrl, pending))).toBe('LOGIN_FAILED')
  })

  it('an error from the IdP in the callback is LOGIN_FAILED with the IdP error', async () => {
    const flow = await signIn(MFA_SCENARIO)
    const denied = new URL(REDIRECT_URI)
    denied.search = new URLSearchParams({
      error: 'access_denied',
      state: flow.pending.state,
      iss: idp.issuer,
    }).toString()
    const error = await flow.provider.completeLogin(denied, flow.pending).catch((e: unknown) => e)
    expect(isKeygateError(error, 'LOGIN_FAILED')).toBe(true)
    expect((error as { details?: Record<string, unknown> }).details).toMatchObject({
      idpError: 'access_denied',
    })
  })

  it('step-up adds prompt=login', async () => {
    const flow = await signIn(MFA_SCENARIO, adapter(), { stepUp: true })
    expect(flow.request?.get('prompt')).toBe('login')
    expect(flow.pending.stepUp).toBe(true)
    expect((await flow.complete()).auth.verdict).toBe('mfa')
  })
})

describe('profiles against what the IdP returned', () => {
  it('okta: 2fa requested but a 1fa acr returned is not mfa', async () => {
    const flow = await signIn(
      { ...PASSWORD_ONLY_SCENARIO, acr: 'urn:okta:loa:1fa:any', amr: ['pwd'] },
      adapter('okta'),
    )
    expect(flow.request?.get('acr_values')).toBe('urn:okta:loa:2fa:any')
    const login = await flow.complete()
    expect(idp.issuedIdTokens.at(-1)?.acr).toBe('urn:okta:loa:1fa:any')
    expect(login.auth).toMatchObject({ verdict: 'single', acr: 'urn:okta:loa:1fa:any' })
  })

  it('okta: a returned 2fa acr is mfa', async () => {
    const login = await (
      await signIn({ ...MFA_SCENARIO, acr: 'urn:okta:loa:2fa:any', amr: ['pwd', 'otp'] }, adapter('okta'))
    ).complete()
    expect(login.auth).toMatchObject({ verdict: 'mfa', acr: 'urn:okta:loa:2fa:any' })
  })

  it('keycloak: an essential acr is requested, and an acr of "0" is not mfa', async () => {
    const flow = await signIn({ ...MFA_SCENARIO, acr: '0', amr: ['pwd', 'otp'] }, adapter('keycloak'))
    expect(JSON.parse(flow.request?.get('claims') ?? '{}')).toEqual({
      id_token: { acr: { essential: true, values: ['2'] } },
    })
    const login = await flow.complete()
    expect(idp.issuedIdTokens.at(-1)?.acr).toBe('0')
    expect(login.auth).toMatchObject({ verdict: 'single', acr: '0' })
  })

  it('keycloak: an acr at the level is mfa', async () => {
    const login = await (await signIn({ ...MFA_SCENARIO, acr: '2' }, adapter('keycloak'))).complete()
    expect(login.auth).toMatchObject({ verdict: 'mfa', acr: '2' })
  })

  it('entra: the auth context comes back in acrs; a group overage leaves no groups, marked incomplete', async () => {
    const flow = await signIn(
      {
        ...MFA_SCENARIO,
        amr: undefined,
        extraClaims: {
          acrs: ['c1'],
          _claim_names: { groups: 'src1' },
          _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/x/getMemberObjects' } },
        },
      },
      adapter('entra', { authContext: 'c1' }),
    )
    expect(JSON.parse(flow.request?.get('claims') ?? '{}')).toEqual({
      id_token: { acrs: { essential: true, value: 'c1' } },
    })
    const login = await flow.complete()
    expect(login.auth).toMatchObject({ verdict: 'mfa', acrs: ['c1'], amr: [] })
    expect(login).toMatchObject({ groups: [], groupsComplete: false })
  })
})

describe('an IdP that cannot be reached', () => {
  it('is IDP_UNAVAILABLE at startLogin, and discovery is retried on the next attempt', async () => {
    const first = await startTestIdp()
    const port = Number(new URL(first.issuer).port)
    const config: IdpConfig = {
      id: 'down',
      displayName: 'Down',
      issuer: first.issuer,
      clientId: first.clientId,
      clientSecret: first.clientSecret,
      profile: 'generic',
      scopes: ['openid'],
      options: {},
    }
    await first.close()
    const provider = new OidcIdentityProvider(config, { timeoutSeconds: 2 })
    const input = { redirectUri: REDIRECT_URI, maxAgeSeconds: 600, stepUp: false }
    expect(await codeOf(provider.startLogin(input))).toBe('IDP_UNAVAILABLE')
    // The IdP comes back where it was: the failed discovery must not have been cached.
    const back = await startTestIdp({ port, clientId: first.clientId, clientSecret: first.clientSecret })
    try {
      const { url } = await provider.startLogin(input)
      expect(new URL(url).origin).toBe(back.issuer)
    } finally {
      await back.close()
    }
  })
})
