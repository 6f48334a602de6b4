// `Idempotency-Key` on the Worker (issue 11, item 7): the same mechanism as on Node, through the
// request-scoped Hyperdrive store. A retried issuance, renewal and revocation answer as the first did and
// act once (one audit event each); the same key on another request is 422 IDEMPOTENCY_KEY_REUSED.
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CookieJar } from '../support/login-driver.ts'
import { startTestWorker, type TestWorker } from './support/test-worker.ts'

function publicKey(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')
}

let worker: TestWorker
let alice: CookieJar
let sql: postgres.Sql

beforeAll(async () => {
  worker = await startTestWorker()
  alice = (await worker.login()).jar
  sql = postgres(worker.db.databaseUrl as string, { max: 1, onnotice: () => {} })
})
afterAll(async () => {
  await sql?.end()
  await worker?.close()
})

async function events(type: string, leaseId: string): Promise<number> {
  const [row] =
    await sql`SELECT count(*)::int AS n FROM audit_events WHERE type = ${type} AND lease_id = ${leaseId}`
  return (row as { n: number }).n
}

describe('Idempotency-Key on the Worker', () => {
  it('a retried issuance, renewal and revocation answer as the first and act once', async () => {
    const send = (path: string, method: string, key: string, json?: unknown) =>
      worker.api(alice, path, {
        method,
        headers: { 'Idempotency-Key': key },
        ...(json === undefined ? {} : { json }),
      })

    const issueKey = crypto.randomUUID()
    const body = { publicKey: publicKey() }
    const issued = await send('/api/v1/peers', 'POST', issueKey, body)
    expect(issued.status).toBe(201)
    const lease = (await issued.json()) as { id: string }
    const reissued = await send('/api/v1/peers', 'POST', issueKey, body)
    expect(reissued.status).toBe(201)
    expect(await reissued.json()).toEqual(lease)
    expect(await events('lease.issued', lease.id)).toBe(1)

    const renewKey = crypto.randomUUID()
    const renewed = await send(`/api/v1/peers/${lease.id}/renew`, 'POST', renewKey)
    expect(renewed.status).toBe(200)
    const renewedBody = await renewed.json()
    const rerenewed = await send(`/api/v1/peers/${lease.id}/renew`, 'POST', renewKey)
    expect(rerenewed.status).toBe(200)
    expect(await rerenewed.json()).toEqual(renewedBody)
    expect(await events('lease.renewed', lease.id)).toBe(1)

    const reused = await send(`/api/v1/peers/${lease.id}`, 'DELETE', renewKey)
    expect(reused.status).toBe(422)
    expect(((await reused.json()) as { error: { code: string } }).error.code).toBe('IDEMPOTENCY_KEY_REUSED')

    const revokeKey = crypto.randomUUID()
    const revoked = await send(`/api/v1/peers/${lease.id}`, 'DELETE', revokeKey)
    expect(revoked.status).toBe(200)
    const revokedBody = await revoked.json()
    const rerevoked = await send(`/api/v1/peers/${lease.id}`, 'DELETE', revokeKey)
    expect(rerevoked.status).toBe(200)
    expect(await rerevoked.json()).toEqual(revokedBody)
    expect(await events('lease.revoked', lease.id)).toBe(1)
  })
})
