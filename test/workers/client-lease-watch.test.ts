// On Workers a client's lease watch re-reads its gateways' feed versions each second (polling-notifier.ts):
// nothing else can wake it. A gateway enrolling after the lease was issued (its feed already held the
// lease) must therefore move its feed version, or the client learns of its new peer only when its wait
// runs out. The client asks for 25 s (client-cli.ts); a wake-up is bounded well below that.
//
// The watch must be waiting before the enrollment, or it would answer the changed lease at once and prove
// nothing. The Worker offers no hook for that, so the test watches PostgreSQL instead: the watch's own
// version re-reads, at least one poll interval after the reads that subscribed it, mean it is waiting.
import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../src/core/peers/keys.ts'
import { PROTOCOL_VERSION } from '../../src/core/sync/protocol.ts'
import { decideDevice } from '../support/device-approval.ts'
import type { TestIdpScenario } from '../support/test-idp.ts'
import { startTestWorker, type TestWorker } from './support/test-worker.ts'

const ROOT_SCENARIO: TestIdpScenario = {
  sub: 'user-root',
  email: 'root@example.com',
  groups: [],
  amr: ['pwd', 'otp'],
}
/** The terminal client's watch (client-cli.ts's WATCH_SECONDS). */
const CLIENT_WAIT_SECONDS = 25
const WOKEN_WITHIN_MS = 10_000
const newPublicKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely; the test asserts its fields
type Json = Record<string, any>

let worker: TestWorker
let sql: postgres.Sql

beforeAll(async () => {
  worker = await startTestWorker({
    policyModule: new URL('./fixtures/watch-policy.ts', import.meta.url).pathname,
    enrolGateways: ['eu-1'],
  })
  sql = postgres(worker.db.databaseUrl as string, { max: 1, onnotice: () => {} })
})

afterAll(async () => {
  await sql?.end()
  await worker?.close()
})

/** Resolves once a feed-version read started at least `spanMs` after the first one seen since `since`. */
async function versionReadsSpan(since: Date, spanMs: number): Promise<void> {
  const starts: number[] = []
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    const rows = await sql<{ started: Date }[]>`
      SELECT query_start AS started FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid()
        AND query LIKE 'SELECT version FROM gateway_feeds%' AND query_start >= ${since}`
    for (const row of rows) starts.push(row.started.getTime())
    if (starts.length > 0 && Math.max(...starts) - Math.min(...starts) >= spanMs) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('the watch never re-read its feed versions')
}

describe('a client watching its lease on the Worker', () => {
  it('learns of a newly enrolled gateway well before its wait runs out', async () => {
    const { jar: alice } = await worker.login()
    const started = await worker.api(null, '/api/v1/device/authorize', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ public_key: newPublicKey(), name: 'watching laptop' }),
    })
    expect(started.status, await started.clone().text()).toBe(200)
    const device = (await started.json()) as Json
    expect((await decideDevice(worker.origin, alice, device.user_code, 'approve')).status).toBe(200)
    const collected = await worker.api(null, '/api/v1/device/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: device.device_code,
      }),
    })
    expect(collected.status, await collected.clone().text()).toBe(200)
    const { access_token: credential, lease } = (await collected.json()) as Json
    const auth = { authorization: `Bearer ${credential}` }
    const watch = (since: string, wait: number) =>
      worker.api(null, `/api/v1/peers/${lease.id}/watch?since=${since}&wait=${wait}`, { headers: auth })

    const before = (await (await watch('none', 0)).json()) as Json
    expect(before.tunnel.pending).toEqual(['eu-2'])

    const { jar: root } = await worker.login(ROOT_SCENARIO)
    const tokenResponse = await worker.api(root, '/api/v1/admin/gateways/eu-2/enrollment-token', {
      method: 'POST',
    })
    expect(tokenResponse.status, await tokenResponse.clone().text()).toBe(201)
    const { token } = (await tokenResponse.json()) as Json

    const [clock] = await sql<{ now: Date }[]>`SELECT now()`
    const sent = Date.now()
    const waiting = watch(before.state, CLIENT_WAIT_SECONDS)
    await versionReadsSpan(clock?.now ?? new Date(0), 900)
    const enrolled = await worker.api(null, '/api/v1/gateways/enroll', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      json: { protocolVersion: PROTOCOL_VERSION, publicKey: newPublicKey() },
    })
    expect(enrolled.status, await enrolled.clone().text()).toBe(200)
    const response = await waiting
    const elapsed = Date.now() - sent
    expect(response.status).toBe(200)
    const after = (await response.json()) as Json
    expect(elapsed).toBeLessThan(WOKEN_WITHIN_MS)
    expect(after.tunnel.peers.map((p: Json) => p.gateway).sort()).toEqual(['eu-1', 'eu-2'])
    expect(after.tunnel.pending).toEqual([])
  })
})
