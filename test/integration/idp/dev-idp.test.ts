// The built-in development IdP: refused in production and off loopback; mounted under /dev-idp on a
// server it shares (as the Node entrypoint mounts it), its demo users sign in with the verdicts they claim.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDevIdp, type DevIdp } from '../../../src/adapters/idp/dev-idp.ts'
import { OidcIdentityProvider } from '../../../src/adapters/idp/oidc-identity-provider.ts'
import { isKeygateError } from '../../../src/core/errors.ts'
import { CookieJar, captureCallbackUrl, requestWithJar } from '../../support/login-driver.ts'

const base = {
  issuer: 'http://localhost:8080/dev-idp',
  clientId: 'keygate',
  clientSecret: 'dev-secret',
  redirectUris: ['http://localhost:8080/auth/dev/callback'],
}

function refusal(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    if (isKeygateError(error, 'CONFIG_INVALID')) return error.message
    throw error
  }
  throw new Error('expected CONFIG_INVALID')
}

describe('the development IdP refuses to run where it would be dangerous', () => {
  it('with NODE_ENV=production', () => {
    expect(refusal(() => createDevIdp({ ...base, env: { NODE_ENV: 'production' } }))).toContain(
      'NODE_ENV=production',
    )
  })

  it('with an issuer that is not loopback', () => {
    expect(
      refusal(() => createDevIdp({ ...base, issuer: 'http://vpn.example.com/dev-idp', env: {} })),
    ).toContain('loopback issuer')
    expect(
      refusal(() => createDevIdp({ ...base, issuer: 'http://0.0.0.0:8080/dev-idp', env: {} })),
    ).toContain('loopback issuer')
  })

  it('with a KEYGATE_URL that is not loopback', () => {
    expect(
      refusal(() => createDevIdp({ ...base, env: { KEYGATE_URL: 'https://vpn.example.com' } })),
    ).toContain('loopback KEYGATE_URL')
  })

  it('runs on localhost, 127.0.0.1 and ::1 in development', () => {
    for (const issuer of [
      'http://localhost:8080/dev-idp',
      'http://127.0.0.1:8080/dev-idp',
      'http://[::1]:8080/dev-idp',
    ]) {
      const idp = createDevIdp({
        ...base,
        issuer,
        env: { NODE_ENV: 'development', KEYGATE_URL: 'http://127.0.0.1:8080' },
      })
      expect(idp.config).toMatchObject({ id: 'dev', profile: 'generic', issuer })
      expect(idp.mountPath).toBe('/dev-idp')
    }
  })
})

describe('the development IdP mounted under /dev-idp', () => {
  let server: Server
  let devIdp: DevIdp
  let origin: string

  beforeAll(async () => {
    // Routes by path prefix before anything else, as the Node entrypoint does before Hono.
    server = createServer((req, res) => {
      if (req.url === devIdp.mountPath || req.url?.startsWith(`${devIdp.mountPath}/`))
        return devIdp.handle(req, res)
      res.statusCode = 404
      res.end('broker')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    devIdp = createDevIdp({
      issuer: `${origin}/dev-idp`,
      clientId: 'keygate',
      clientSecret: 'dev-secret',
      redirectUris: [`${origin}/auth/dev/callback`],
      env: { KEYGATE_URL: origin },
    })
  })

  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it('serves discovery under the mount path with endpoints under it', async () => {
    const metadata = (await (
      await fetch(`${origin}/dev-idp/.well-known/openid-configuration`)
    ).json()) as Record<string, string>
    expect(metadata.issuer).toBe(`${origin}/dev-idp`)
    expect(metadata.authorization_endpoint).toBe(`${origin}/dev-idp/auth`)
    expect(metadata.token_endpoint).toBe(`${origin}/dev-idp/token`)
  })

  it.each([
    ['alice@example.com', 'mfa', ['pwd', 'otp'], ['engineering']],
    ['bob@example.com', 'single', ['pwd'], []],
    ['root@example.com', 'mfa', ['pwd', 'hwk'], ['admins']],
    ['carol@contractor.example', 'mfa', ['pwd', 'otp'], ['engineering']],
  ])('%s signs in with verdict %s', async (email, verdict, amr, groups) => {
    const provider = new OidcIdentityProvider(devIdp.config)
    const { url, pending } = await provider.startLogin({
      redirectUri: `${origin}/auth/dev/callback`,
      maxAgeSeconds: 3600,
      stepUp: false,
    })
    const { callbackUrl } = await captureCallbackUrl(url, { user: email })
    const login = await provider.completeLogin(callbackUrl, pending)
    expect(login).toMatchObject({ email, emailVerified: true, groups, auth: { verdict, amr } })
    expect(login.auth.authTime).not.toBeNull()
  })

  it('lists every demo user on its sign-in page', async () => {
    const provider = new OidcIdentityProvider(devIdp.config)
    const { url } = await provider.startLogin({
      redirectUri: `${origin}/auth/dev/callback`,
      maxAgeSeconds: 60,
      stepUp: false,
    })
    const jar = new CookieJar()
    const redirect = await requestWithJar(url, jar)
    const page = await requestWithJar(new URL(redirect.headers.get('location') ?? '', url), jar)
    const html = await page.text()
    for (const user of devIdp.users) expect(html).toContain(user.email)
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
  })
})
