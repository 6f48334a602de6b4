// A database outage on the Worker: while the PostgreSQL behind its Hyperdrive binding does not answer,
// requests that need the database get 503 DATABASE_UNAVAILABLE with Retry-After (they hung for
// postgres.js's 30 s connect timeout and then got 500 INTERNAL), and once it answers again the same
// session carries on.
//
// The outage is a loopback relay the test owns in front of a test database on the shared server (never
// the server itself): while "down" it accepts connections and answers nothing, as a partitioned or hung
// database does. Not a stopped server or a closed port: wrangler's local Hyperdrive proxy (in this test
// process) has no error handler on its upstream socket, so a refused connection would crash the test
// runner rather than reach the Worker; real Hyperdrive reports it to the Worker's client.
import { randomBytes } from 'node:crypto'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../src/core/peers/keys.ts'
import type { CookieJar } from '../support/login-driver.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-db.ts'
import { startTestWorker, type TestWorker } from './support/test-worker.ts'

const newPublicKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey

async function codeOf(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code
}

/** Relays to the database while up; while down, holds new connections open without a byte. Never
 *  resets a connection (the Hyperdrive proxy would throw on it). */
async function startRelay(target: URL) {
  let up = true
  const held = new Set<Socket>()
  const open = new Set<Socket>()
  const track = (socket: Socket) => {
    open.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => open.delete(socket))
  }
  const server: Server = createServer((client: Socket) => {
    track(client)
    if (!up) {
      held.add(client)
      return
    }
    const upstream = createConnection(Number(target.port || 5432), target.hostname)
    track(upstream)
    upstream.on('error', () => client.end())
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    url: Object.assign(new URL(target.toString()), { port: String(port) }).toString(),
    setUp(value: boolean) {
      up = value
      if (up) {
        for (const socket of held) socket.end()
        held.clear()
      }
    },
    /** Ends what is still relayed (the proxy keeps idle sockets open), then stops listening. */
    async close() {
      for (const socket of open) socket.end()
      await Promise.race([
        new Promise((resolve) => server.close(resolve)),
        new Promise((resolve) => setTimeout(resolve, 2_000)),
      ])
      for (const socket of open) socket.destroy()
    },
  }
}

describe('the Worker while its database is away', () => {
  let db: TestDatabase
  let relay: Awaited<ReturnType<typeof startRelay>>
  let worker: TestWorker
  let alice: CookieJar

  beforeAll(async () => {
    db = await createTestDatabase()
    relay = await startRelay(new URL(db.databaseUrl!))
    // The Worker's Hyperdrive binding points at the relay.
    worker = await startTestWorker({ database: { ...db, databaseUrl: relay.url } })
    alice = (await worker.login()).jar
  })
  afterAll(async () => {
    await worker?.close()
    relay?.setUp(true)
    await relay?.close()
    await db?.close()
  })

  it('answers 503 DATABASE_UNAVAILABLE with Retry-After while PostgreSQL does not answer, and recovers', async () => {
    expect((await worker.api(alice, '/api/v1/peers')).status).toBe(200)

    relay.setUp(false)
    try {
      for (const request of [
        () => worker.api(alice, '/api/v1/peers'),
        () => worker.api(alice, '/api/v1/peers', { method: 'POST', json: { publicKey: newPublicKey() } }),
        () => worker.api(alice, '/api/v1/peers'),
      ]) {
        const response = await request()
        expect(response.status).toBe(503)
        expect(response.headers.get('retry-after')).toBe('1')
        expect(await codeOf(response)).toBe('DATABASE_UNAVAILABLE')
      }
    } finally {
      relay.setUp(true)
    }

    // The same session, on the database as it was: nothing was lost and requests succeed again.
    let listed: Response | null = null
    for (let attempt = 0; attempt < 20; attempt++) {
      listed = await worker.api(alice, '/api/v1/peers')
      if (listed.status === 200) break
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    expect(listed?.status).toBe(200)
    const issued = await worker.api(alice, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: newPublicKey() },
    })
    expect(issued.status).toBe(201)
  })
})
