// A Worker deployed with a policy that cannot load refuses every request with 503 and a stable code, says
// nothing of the policy's contents to the client, and never runs with a partial or empty policy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestWorker, type TestWorker } from './support/test-worker.ts'

let worker: TestWorker

beforeAll(async () => {
  worker = await startTestWorker({
    policyModule: new URL('./fixtures/bad-policy.ts', import.meta.url).pathname,
  })
})

afterAll(async () => {
  await worker?.close()
})

describe('a Worker whose bundled policy is invalid', () => {
  it('answers 503 POLICY_INVALID on every route, without the diagnostics', async () => {
    const publicKey = Buffer.from(new Uint8Array(32).fill(9)).toString('base64')
    const requests: Array<[string, RequestInit & { json?: unknown }]> = [
      ['/healthz', {}],
      ['/api/v1/me', {}],
      ['/auth/test/login', {}],
      ['/api/v1/peers', { method: 'POST', json: { publicKey } }],
    ]
    for (const [path, init] of requests) {
      const response = await worker.api(null, path, init)
      expect(response.status, path).toBe(503)
      const body = (await response.json()) as { error: { code: string; message: string } }
      expect(body.error.code, path).toBe('POLICY_INVALID')
      expect(body.error.message).not.toContain('group:nobody')
    }
  })
})
