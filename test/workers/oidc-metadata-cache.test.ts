// The cross-isolate cache of IdP metadata: two OidcIdentityProvider instances stand for two Worker
// isolates (each with empty memory) sharing the real local KV namespace that wrangler gives the Worker.
// The second signs a user in without fetching the discovery document again. (openid-client verifies an
// ID token that came straight from the token endpoint without its JWKS, as OIDC Core 3.1.3.7 allows, so
// the code flow fetches no JWKS at all; the KV copy of the JWKS serves the flows that do.)
import './support/wrangler-offline.ts'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { getPlatformProxy } from 'wrangler'
import { OidcIdentityProvider } from '../../src/adapters/idp/oidc-identity-provider.ts'
import { createKvMetadataCache } from '../../src/adapters/workers/kv-metadata-cache.ts'
import type { KvBinding } from '../../src/adapters/workers/worker-bindings.ts'
import type { IdpConfig } from '../../src/core/identity/index.ts'
import { captureCallbackUrl } from '../support/login-driver.ts'
import { MFA_SCENARIO, startTestIdp, type TestIdp } from '../support/test-idp.ts'

const REDIRECT_URI = 'http://127.0.0.1:9/auth/test/callback'
let idp: TestIdp
let platform: Awaited<ReturnType<typeof getPlatformProxy>>

beforeAll(async () => {
  idp = await startTestIdp({ redirectUris: [REDIRECT_URI], scenario: MFA_SCENARIO })
  platform = await getPlatformProxy({
    configPath: fileURLToPath(new URL('../../wrangler.toml', import.meta.url)),
    persist: false,
  })
})

afterAll(async () => {
  await platform?.dispose()
  await idp?.close()
})

function isolate(kv: KvBinding): OidcIdentityProvider {
  const config: IdpConfig = {
    id: 'test',
    displayName: 'Test IdP',
    issuer: idp.issuer,
    clientId: idp.clientId,
    clientSecret: idp.clientSecret,
    profile: 'generic',
    scopes: ['openid', 'email'],
    options: {},
  }
  return new OidcIdentityProvider(config, { metadataCache: createKvMetadataCache(kv) })
}

async function signIn(provider: OidcIdentityProvider) {
  const { url, pending } = await provider.startLogin({
    redirectUri: REDIRECT_URI,
    maxAgeSeconds: 600,
    stepUp: false,
  })
  const { callbackUrl } = await captureCallbackUrl(url)
  return provider.completeLogin(callbackUrl, pending)
}

it('a fresh isolate reuses the discovery document from KV', async () => {
  const kv = (platform.env as { KEYGATE_CACHE: KvBinding }).KEYGATE_CACHE
  const metadataFetches: string[] = []
  const realFetch = globalThis.fetch
  const spy = vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    if (
      url.origin === idp.issuer &&
      (url.pathname.includes('.well-known') || url.pathname.endsWith('/jwks'))
    ) {
      metadataFetches.push(url.pathname)
    }
    return realFetch(input, init)
  })
  try {
    const first = await signIn(isolate(kv))
    expect(first.auth.verdict).toBe('mfa')
    expect(metadataFetches).toEqual(['/.well-known/openid-configuration'])
    expect(await kv.get(`keygate:oidc:v1:metadata:${idp.issuer}`, 'json')).toMatchObject({
      issuer: idp.issuer,
    })

    metadataFetches.length = 0
    const second = await signIn(isolate(kv))
    expect(second.subject).toBe(MFA_SCENARIO.sub)
    expect(metadataFetches).toEqual([])
  } finally {
    spy.mockRestore()
  }
})
