/**
 * A real OpenID provider (oidc-provider 9) for tests, on its own node:http server on 127.0.0.1 and a
 * random free port, whose next sign-ins follow a controllable scenario: who signs in, with which
 * `amr`/`acr`, when (`auth_time` backdated), and whether the ID token carries `auth_time` at all.
 *
 * Misbehaviour is produced the way real IdPs misbehave, not by forging tokens:
 * - `omitAuthTime`: the IdP ignores `max_age` (and `prompt=login`), as some do, so oidc-provider has no
 *   reason to add `auth_time`. The ID tokens it issues are recorded so a test can show the claim is absent.
 * - `acr`: the IdP reports the acr it has, whatever was requested. For the essential `acr` that Keygate's
 *   keycloak profile sends, the login prompt's essential-acr checks are removed, like a Keycloak that
 *   returns "0" after SSO; a test that wants the strict behaviour sets `enforceEssentialAcr`.
 *
 * The sign-in page has one button (the scenario's user); `login-driver.ts` presses it.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { decodeJwt, importJWK, type JWK, type JWTPayload, SignJWT } from 'jose'
import type { Configuration } from 'oidc-provider'
import { interactionPolicy } from 'oidc-provider'
import {
  createOidcProviderHost,
  generateSigningJwk,
  type OidcProviderHost,
} from '../../src/adapters/idp/oidc-provider-host.ts'
import { type CookieJar, requestWithJar } from './login-driver.ts'

export interface TestIdpScenario {
  sub: string
  email: string
  name?: string
  groups: string[]
  amr?: string[]
  acr?: string
  /** auth_time this many seconds in the past (the sign-in itself happens now). */
  authTimeOffsetSeconds?: number
  /** The IdP ignores max_age and prompt=login, so the ID token has no auth_time. */
  omitAuthTime?: boolean
  /** Any further ID token claims, e.g. `{ acrs: ['c1'] }` or an Entra overage `_claim_names`. */
  extraClaims?: Record<string, unknown>
}

export interface TestIdp {
  issuer: string
  clientId: string
  clientSecret: string
  /** The scenario for the sign-ins from now on. */
  setScenario(scenario: TestIdpScenario): void
  /** Registers the client's redirect URIs (rebuilds the provider; sign-ins in flight are lost). */
  setRedirectUris(uris: string[]): void
  /** Signs the browser with `jar` out at the IdP (RP-initiated logout, confirmed), which sends the
   *  back-channel logout token when the IdP was started with `backchannelLogout`. */
  logoutAtIdp(jar: CookieJar): Promise<void>
  /** Signs a JWT with the IdP's own key (to make logout tokens the IdP never would: replays, a nonce). */
  sign(claims: Record<string, unknown>): Promise<string>
  /** Revokes every grant (and so every refresh token) the IdP issued for this subject. */
  revokeGrants(sub: string): Promise<number>
  /** Payloads of every ID token issued, oldest first (decoded after signing, as sent). */
  readonly issuedIdTokens: JWTPayload[]
  /** Query parameters of every authorization request received, oldest first, as the client sent them. */
  readonly authorizationRequests: URLSearchParams[]
  close(): Promise<void>
}

export interface StartTestIdpOptions {
  redirectUris?: string[]
  clientId?: string
  clientSecret?: string
  scenario?: TestIdpScenario
  /** Keep oidc-provider's essential-acr login checks (off by default, see the header). */
  enforceEssentialAcr?: boolean
  /** Listen on this port (an IdP coming back where it was); a free one by default. */
  port?: number
  /** Register `.../backchannel-logout` next to each redirect URI's `/callback` and send logout tokens. */
  backchannelLogout?: boolean
  /** Issue refresh tokens with each sign-in. */
  refreshTokens?: boolean
}

export const MFA_SCENARIO: TestIdpScenario = {
  sub: 'user-alice',
  email: 'alice@example.com',
  name: 'Alice',
  groups: ['engineering'],
  amr: ['pwd', 'otp'],
}

export const PASSWORD_ONLY_SCENARIO: TestIdpScenario = {
  sub: 'user-bob',
  email: 'bob@example.com',
  name: 'Bob',
  groups: ['engineering'],
  amr: ['pwd'],
}

// acr values tests use; oidc-provider drops `acr` entirely when this list is empty.
const ACR_VALUES = [
  'urn:okta:loa:1fa:any',
  'urn:okta:loa:1fa:pwd',
  'urn:okta:loa:2fa:any',
  'phr',
  'phrh',
  '0',
  '1',
  '2',
  '3',
  'urn:test:mfa',
  'urn:test:pwd',
]

export async function startTestIdp(options: StartTestIdpOptions = {}): Promise<TestIdp> {
  const clientId = options.clientId ?? 'keygate-test'
  const clientSecret = options.clientSecret ?? `test-secret-${randomBytes(12).toString('hex')}`
  const jwks = { keys: [generateSigningJwk()] }
  let scenario: TestIdpScenario = options.scenario ?? MFA_SCENARIO
  const issuedIdTokens: JWTPayload[] = []
  const authorizationRequests: URLSearchParams[] = []
  const refreshTokens: string[] = []

  let host: OidcProviderHost | null = null
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (url.pathname === '/auth') {
      authorizationRequests.push(new URLSearchParams(url.searchParams))
      if (scenario.omitAuthTime === true) {
        url.searchParams.delete('max_age')
        const prompt = (url.searchParams.get('prompt') ?? '')
          .split(' ')
          .filter((p) => p !== '' && p !== 'login')
        if (prompt.length > 0) url.searchParams.set('prompt', prompt.join(' '))
        else url.searchParams.delete('prompt')
        req.url = `${url.pathname}${url.search}`
      }
    }
    if (host === null) {
      res.statusCode = 503
      res.end()
      return
    }
    host.handle(req, res)
  })
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const build = (redirectUris: string[]) => {
    const built = createOidcProviderHost({
      issuer,
      clients: [
        {
          clientId,
          clientSecret,
          redirectUris,
          ...(options.refreshTokens === true ? { refreshTokens: true } : {}),
          ...(options.backchannelLogout === true && redirectUris[0] !== undefined
            ? { backchannelLogoutUri: redirectUris[0].replace(/\/callback$/, '/backchannel-logout') }
            : {}),
        },
      ],
      users: () => [
        {
          sub: scenario.sub,
          email: scenario.email,
          name: scenario.name ?? scenario.email,
          groups: scenario.groups,
          ...(scenario.extraClaims === undefined ? {} : { extraClaims: scenario.extraClaims }),
        },
      ],
      loginFor: () => ({
        ...(scenario.amr === undefined ? {} : { amr: scenario.amr }),
        ...(scenario.acr === undefined ? {} : { acr: scenario.acr }),
        ts: Math.floor(Date.now() / 1000) - (scenario.authTimeOffsetSeconds ?? 0),
      }),
      acrValues: ACR_VALUES,
      jwks,
      title: 'Keygate test IdP',
      configure: (configuration: Configuration) => {
        if (options.enforceEssentialAcr === true) return
        const policy = interactionPolicy.base()
        const login = policy.get('login')
        login?.checks.remove('essential_acr')
        login?.checks.remove('essential_acrs')
        configuration.interactions = { ...(configuration.interactions as object), policy }
      },
    })
    built.provider.on('backchannel.error', (...args: unknown[]) => {
      process.stderr.write(`test IdP: back-channel logout failed: ${String(args[1])}\n`)
    })
    // Record every ID token the token endpoint returns, exactly as signed.
    built.provider.use(async (ctx, next) => {
      await next()
      const body = ctx.body as { id_token?: unknown; refresh_token?: unknown } | undefined
      if (ctx.oidc?.route === 'token' && typeof body?.id_token === 'string') {
        issuedIdTokens.push(decodeJwt(body.id_token))
      }
      if (ctx.oidc?.route === 'token' && typeof body?.refresh_token === 'string') {
        refreshTokens.push(body.refresh_token)
      }
    })
    return built
  }
  // oidc-provider needs at least one redirect URI per client; this one is never reachable.
  host = build(options.redirectUris ?? ['http://127.0.0.1:9/auth/unset/callback'])

  return {
    issuer,
    clientId,
    clientSecret,
    setScenario(next) {
      scenario = next
    },
    setRedirectUris(uris) {
      host = build(uris)
    },
    issuedIdTokens,
    authorizationRequests,
    async logoutAtIdp(jar) {
      const page = await requestWithJar(`${issuer}/session/end`, jar)
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(await page.text())?.[1]
      if (xsrf === undefined) throw new Error(`no logout form at the IdP (HTTP ${page.status})`)
      const done = await requestWithJar(`${issuer}/session/end/confirm`, jar, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
      })
      if (done.status >= 400) throw new Error(`logout at the IdP failed: HTTP ${done.status}`)
    },
    async sign(claims) {
      const jwk = jwks.keys[0] as Record<string, unknown>
      const key = await importJWK(jwk as JWK, 'RS256')
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: String(jwk.kid), typ: 'logout+jwt' })
        .sign(key)
    },
    async revokeGrants(sub) {
      const provider = host?.provider
      if (provider === undefined) return 0
      let revoked = 0
      for (const value of refreshTokens) {
        const token = await provider.RefreshToken.find(value)
        if (token === undefined || token.accountId !== sub) continue
        const grant = token.grantId === undefined ? undefined : await provider.Grant.find(token.grantId)
        await grant?.destroy()
        await token.destroy()
        revoked += 1
      }
      return revoked
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()))
        server.closeAllConnections()
      }),
  }
}
