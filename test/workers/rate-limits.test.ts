// Per-client rate limits on the Worker (issues 10.5 and 11.8), through Cloudflare's rate-limit bindings
// as workerd runs them locally: sign-in starts and callbacks, issuance per identity, and failed gateway
// credentials answer 429 RATE_LIMITED with Retry-After once over their limit, and SCIM requests 429 in
// the SCIM error format.
//
// The bindings count in fixed one-minute windows of the wall clock, so each burst below first makes
// sure it lies inside one window (it waits for the next window when fewer than 15 s are left), and
// asserts only what holds whatever the window counted before: at most `limit` requests pass, and
// the request after them is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MFA_SCENARIO } from '../support/test-idp.ts'
import { startTestWorker, type TestWorker } from './support/test-worker.ts'

const LIMITS = {
  RATE_LIMIT_AUTH: 4,
  RATE_LIMIT_ISSUE: 2,
  RATE_LIMIT_GATEWAY_AUTH_FAILURES: 2,
  RATE_LIMIT_SCIM: 3,
}

function publicKey(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')
}

/** Resolves when at least 15 s of the current one-minute window remain (at once, usually). */
async function roomInWindow(): Promise<number> {
  const left = 60_000 - (Date.now() % 60_000)
  if (left < 15_000) await new Promise((resolve) => setTimeout(resolve, left + 50))
  return Math.floor(Date.now() / 60_000)
}

async function burst(count: number, send: () => Promise<Response>): Promise<Response[]> {
  const window = await roomInWindow()
  const responses: Response[] = []
  for (let i = 0; i < count; i++) responses.push(await send())
  expect(Math.floor(Date.now() / 60_000), 'the burst stayed inside one window').toBe(window)
  return responses
}

async function expectRateLimited(response: Response) {
  expect(response.status).toBe(429)
  expect(((await response.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED')
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0)
}

let worker: TestWorker

beforeAll(async () => {
  worker = await startTestWorker({ rateLimits: LIMITS })
})
afterAll(async () => {
  await worker?.close()
})

describe('rate limits on the Worker', () => {
  it('issuance beyond the per-identity limit answers 429 with Retry-After', async () => {
    await roomInWindow()
    const alice = (await worker.login(MFA_SCENARIO)).jar
    const responses = await burst(LIMITS.RATE_LIMIT_ISSUE + 1, () =>
      worker.api(alice, '/api/v1/peers', { method: 'POST', json: { publicKey: publicKey() } }),
    )
    const passed = responses.filter((r) => r.status === 201).length
    expect(passed).toBeLessThanOrEqual(LIMITS.RATE_LIMIT_ISSUE)
    await expectRateLimited(responses[responses.length - 1] as Response)
  })

  it('sign-in starts beyond the per-client limit answer 429 with Retry-After', async () => {
    const responses = await burst(LIMITS.RATE_LIMIT_AUTH + 1, () => worker.api(null, '/auth/test/login'))
    expect(responses.filter((r) => r.status === 302).length).toBeLessThanOrEqual(LIMITS.RATE_LIMIT_AUTH)
    await expectRateLimited(responses[responses.length - 1] as Response)
  })

  it('failed gateway credentials beyond the limit answer 429 before a lookup', async () => {
    let n = 0
    // The binding refuses the failure after the limit; the isolate then refuses the next request
    // before it reaches the database.
    const responses = await burst(LIMITS.RATE_LIMIT_GATEWAY_AUTH_FAILURES + 2, () =>
      worker.api(null, '/api/v1/gateways/sync?since=0&wait=0', {
        headers: { authorization: `Bearer kgc_guess-${n++}` },
      }),
    )
    expect(responses.filter((r) => r.status === 401).length).toBeLessThanOrEqual(
      LIMITS.RATE_LIMIT_GATEWAY_AUTH_FAILURES + 1,
    )
    await expectRateLimited(responses[responses.length - 1] as Response)
  })

  it('SCIM requests beyond the per-client limit answer 429 in the SCIM error format with Retry-After', async () => {
    const responses = await burst(LIMITS.RATE_LIMIT_SCIM + 1, () =>
      worker.api(null, '/scim/v2/Users', { headers: { authorization: 'Bearer kgs_guess' } }),
    )
    expect(responses.filter((r) => r.status === 401).length).toBeLessThanOrEqual(LIMITS.RATE_LIMIT_SCIM)
    const refused = responses[responses.length - 1] as Response
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(refused.headers.get('content-type')).toContain('application/scim+json')
    expect(await refused.json()).toMatchObject({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '429',
    })
  })
})
