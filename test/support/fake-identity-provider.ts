// An IdentityProvider for unit tests of core's sign-in, renewal and logout use cases: each answer is a
// value the test sets (the login it vouches for, what a refresh says, the logout token it verifies), and
// every call is recorded. No HTTP, no keys: the real IdP adapter has its own tests over oidc-provider.
import { KeygateError } from '../../src/core/errors.ts'
import type { IdentityProvider, LogoutToken, PendingLogin, VerifiedLogin } from '../../src/core/ports.ts'

export interface FakeIdentityProvider extends IdentityProvider {
  login: VerifiedLogin
  /** What the next `refresh` answers; an Error is thrown instead. */
  refreshAnswer: { ok: false; reason: string } | { ok: true; refreshToken: string | null } | Error
  logoutToken: LogoutToken | null
  calls: {
    startLogin: Array<{ redirectUri: string; maxAgeSeconds: number; stepUp: boolean }>
    completeLogin: number
    refresh: string[]
    verifyLogoutToken: string[]
  }
}

export function createFakeIdentityProvider(id = 'test', nowSeconds = 1_800_000_000): FakeIdentityProvider {
  const idp: FakeIdentityProvider = {
    id,
    displayName: `IdP ${id}`,
    login: {
      issuer: 'https://idp.example',
      subject: 'sub-alice',
      email: 'alice@example.com',
      emailVerified: true,
      name: 'Alice',
      groups: ['engineering'],
      auth: {
        verdict: 'mfa',
        amr: ['pwd', 'otp'],
        acr: null,
        acrs: [],
        authTime: nowSeconds - 60,
        stepUp: null,
      },
      sid: 'idp-sid-1',
      refreshToken: null,
    },
    refreshAnswer: { ok: true, refreshToken: null },
    logoutToken: null,
    calls: { startLogin: [], completeLogin: 0, refresh: [], verifyLogoutToken: [] },
    async startLogin(input) {
      idp.calls.startLogin.push(input)
      const pending: PendingLogin = {
        idpId: id,
        state: `state-${idp.calls.startLogin.length}`,
        nonce: 'nonce',
        codeVerifier: 'verifier',
        maxAgeSeconds: input.maxAgeSeconds,
        stepUp: input.stepUp,
        returnTo: '/',
      }
      return { url: `https://idp.example/authorize?state=${pending.state}`, pending }
    },
    async completeLogin() {
      idp.calls.completeLogin += 1
      return { ...idp.login, groups: [...idp.login.groups], auth: { ...idp.login.auth } }
    },
    async verifyLogoutToken(token) {
      idp.calls.verifyLogoutToken.push(token)
      if (idp.logoutToken === null)
        throw new KeygateError('INVALID_REQUEST', 'logout token signature invalid')
      return idp.logoutToken
    },
    async refresh(refreshToken) {
      idp.calls.refresh.push(refreshToken)
      if (idp.refreshAnswer instanceof Error) throw idp.refreshAnswer
      return idp.refreshAnswer
    },
  }
  return idp
}
