// Per-client rate limits (issues 10.5, 11.8 and 13): sign-in starts and callbacks, issuance per identity,
// failed gateway credentials and SCIM requests answer 429 with Retry-After once over their limit, and a
// client over its gateway-credential limit costs no database query.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { corePolicy } from '../../fixtures/policies.ts'
import { createScimToken, ERROR_SCHEMA, scimClient } from '../../support/scim-client.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { MFA_SCENARIO } from '../../support/test-idp.ts'

const newKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey

/**
 * A limit whose fixed window (aligned to the epoch) does not end during the test: windows of a
 * thousand hours or more, the first whose boundary is at least ten minutes away. No test here can then
 * see its counters reset by the clock.
 */
function farWindow(limit: number): string {
  for (let hours = 1000; ; hours++) {
    const windowMs = hours * 3_600_000
    if (windowMs - (Date.now() % windowMs) > 600_000) return `${limit}/${hours}h`
  }
}

async function codeOf(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code
}

function expectRetryAfter(response: Response) {
  const retryAfter = Number(response.headers.get('retry-after'))
  expect(Number.isInteger(retryAfter)).toBe(true)
  expect(retryAfter).toBeGreaterThan(0)
}

describe('rate limits', () => {
  let broker: TestBroker

  beforeAll(async () => {
    broker = await startTestBroker({
      policy: corePolicy(),
      env: {
        KEYGATE_RATE_LIMIT_AUTH: farWindow(6),
        KEYGATE_RATE_LIMIT_ISSUE: farWindow(3),
        KEYGATE_RATE_LIMIT_GATEWAY_AUTH_FAILURES: farWindow(3),
        KEYGATE_RATE_LIMIT_SCIM: farWindow(4),
      },
    })
  })
  afterAll(async () => {
    await broker?.close()
  })

  it('issuance beyond the per-identity limit is refused with 429 and Retry-After, other identities unaffected', async () => {
    // One sign-in: two /auth requests (start and callback) of the six.
    const alice = (await broker.login(MFA_SCENARIO)).jar
    for (let i = 0; i < 3; i++) {
      const issued = await broker.api(alice, '/api/v1/peers', {
        method: 'POST',
        json: { publicKey: newKey() },
      })
      expect(issued.status).toBe(201)
    }
    const refused = await broker.api(alice, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: newKey() },
    })
    expect(refused.status).toBe(429)
    expect(await codeOf(refused)).toBe('RATE_LIMITED')
    expectRetryAfter(refused)
    // Reading is not issuing.
    expect((await broker.api(alice, '/api/v1/peers')).status).toBe(200)

    const carol = (await broker.login({ ...MFA_SCENARIO, sub: 'user-carol', email: 'carol@example.com' })).jar
    const other = await broker.api(carol, '/api/v1/peers', { method: 'POST', json: { publicKey: newKey() } })
    expect(other.status).toBe(201)
  })

  it('sign-in starts and callbacks beyond the per-client limit are refused with 429 and Retry-After', async () => {
    // Two sign-ins above used four of the six; two more requests pass, the next is refused.
    expect((await broker.api(null, '/auth/test/login')).status).toBe(302)
    expect((await broker.api(null, '/auth/test/callback?code=x&state=y')).status).toBe(400)
    const refused = await broker.api(null, '/auth/test/login')
    expect(refused.status).toBe(429)
    expect(await codeOf(refused)).toBe('RATE_LIMITED')
    expectRetryAfter(refused)
    const callback = await broker.api(null, '/auth/test/callback?code=x&state=y')
    expect(callback.status).toBe(429)
  })

  it('failed gateway credentials beyond the limit are refused before any database lookup', async () => {
    const store = broker.server.broker.store
    const original = store.findGatewaysByCredentials.bind(store)
    let lookups = 0
    store.findGatewaysByCredentials = (hashes) => {
      lookups += hashes.length
      return original(hashes)
    }
    try {
      const attempt = (n: number) =>
        broker.api(null, '/api/v1/gateways/sync?since=0&wait=0', {
          headers: { authorization: `Bearer kgc_guess-${n}` },
        })
      for (let n = 0; n < 3; n++) {
        const response = await attempt(n)
        expect(response.status).toBe(401)
        expect(await codeOf(response)).toBe('GATEWAY_CREDENTIAL_INVALID')
      }
      expect(lookups).toBe(3)
      for (let n = 3; n < 20; n++) {
        const response = await attempt(n)
        expect(response.status).toBe(429)
        expect(await codeOf(response)).toBe('RATE_LIMITED')
        expectRetryAfter(response)
      }
      // Seventeen more guesses, no further query.
      expect(lookups).toBe(3)
    } finally {
      store.findGatewaysByCredentials = original
    }
  })

  it('SCIM requests beyond the per-client limit answer 429 in the SCIM error format with Retry-After', async () => {
    const scim = scimClient(broker.origin, await createScimToken(broker.origin, broker.dataDir, 'test'))
    const guess = scimClient(broker.origin, 'kgs_guess')
    // Four requests pass (a wrong token counts as well), the fifth is refused whatever its token.
    for (let i = 0; i < 3; i++) expect((await scim('GET', '/Users')).status).toBe(200)
    expect((await guess('GET', '/Users')).status).toBe(401)
    const response = await fetch(`${broker.origin}/scim/v2/Users`, {
      headers: { authorization: 'Bearer kgs_guess', accept: 'application/scim+json' },
    })
    expect(response.status).toBe(429)
    expectRetryAfter(response)
    expect(response.headers.get('content-type')).toContain('application/scim+json')
    expect(await response.json()).toMatchObject({ schemas: [ERROR_SCHEMA], status: '429' })
    const refused = await scim('POST', '/Users', { userName: 'late@example.com' })
    expect(refused.status).toBe(429)
    expect(
      (await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "late@example.com"')}`)).status,
    ).toBe(429)
    // Other routes keep their own budgets.
    expect((await broker.api(null, '/healthz')).status).toBe(200)
  })
})
