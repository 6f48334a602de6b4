// While a replica's LISTEN connection is down, its waiting gateways still learn of another replica's
// change within about a second (the notifier re-reads every waiter's feed each second), not at the poll's
// 25 s timeout; and once LISTEN is back, every waiter re-reads at once, for the notifications it missed.
//
// LISTEN is cut for real: replica one's listener (and its NOTIFY client) reach PostgreSQL through a
// loopback relay the test owns, which drops every connection and refuses new ones while "down". Its
// store, like replica two's, talks to PostgreSQL directly, so only LISTEN is lost. A test database on the
// shared server (dropped afterwards); the server itself is never touched.
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgChangeNotifier } from '../../src/adapters/notify/pg-change-notifier.ts'
import { generateKeyPair } from '../../src/core/peers/keys.ts'
import type { Logger } from '../../src/core/ports.ts'
import { PROTOCOL_VERSION, type SyncResponse } from '../../src/core/sync/protocol.ts'
import { corePolicy } from '../fixtures/policies.ts'
import type { CookieJar } from '../support/login-driver.ts'
import { startTestBroker, type TestBroker } from '../support/test-broker.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-db.ts'
import { MFA_SCENARIO, startTestIdp, type TestIdp } from '../support/test-idp.ts'

// The faults project has no KEYGATE_TEST_DB of its own; LISTEN needs PostgreSQL.
process.env.KEYGATE_TEST_DB = 'postgres'

const newKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Relay {
  port: number
  /** Drops every relayed connection and refuses new ones. */
  down(): void
  up(): void
  close(): Promise<void>
}

async function startRelay(target: URL): Promise<Relay> {
  let open = true
  const sockets = new Set<Socket>()
  const server: Server = createServer((client: Socket) => {
    if (!open) {
      client.destroy()
      return
    }
    const upstream = createConnection(Number(target.port || 5432), target.hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => {
        sockets.delete(socket)
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    down() {
      open = false
      for (const socket of sockets) socket.destroy()
    },
    up() {
      open = true
    },
    close: async () => {
      open = false
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

function viaRelay(databaseUrl: string, relay: Relay): string {
  const url = new URL(databaseUrl)
  url.port = String(relay.port)
  return url.toString()
}

async function until(what: string, check: () => Promise<boolean>, limitMs = 30_000): Promise<void> {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > limitMs) throw new Error(`gave up waiting for ${what}`)
    await sleep(50)
  }
}

describe('a replica whose LISTEN connection is down', () => {
  let db: TestDatabase
  let relay: Relay
  let idp: TestIdp
  let one: TestBroker
  let two: TestBroker
  let alice: CookieJar
  let credential: string

  beforeAll(async () => {
    db = await createTestDatabase()
    relay = await startRelay(new URL(db.databaseUrl!))
    idp = await startTestIdp({ redirectUris: [] })
    // Replica one: store direct (the shared database handle), LISTEN and NOTIFY through the relay.
    one = await startTestBroker({
      policy: corePolicy(),
      idp,
      database: db,
      env: { DATABASE_URL: viaRelay(db.databaseUrl!, relay) },
    })
    two = await startTestBroker({
      policy: corePolicy(),
      idp,
      database: db,
      env: { KEYGATE_SECRET: one.secret },
    })
    idp.setRedirectUris([`${one.origin}/auth/test/callback`, `${two.origin}/auth/test/callback`])
    alice = (await two.login(MFA_SCENARIO)).jar

    const adminToken = (await readFile(`${one.dataDir}/admin-token`, 'utf8')).trim()
    const minted = await one.api(null, '/api/v1/admin/gateways/gw-a/enrollment-token', {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
    })
    const { token } = (await minted.json()) as { token: string }
    const enrolled = await one.api(null, '/api/v1/gateways/enroll', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      json: { protocolVersion: PROTOCOL_VERSION, publicKey: newKey() },
    })
    expect(enrolled.status).toBe(200)
    credential = ((await enrolled.json()) as { credential: string }).credential
  })
  afterAll(async () => {
    relay?.up()
    await one?.close({ keepDatabase: true })
    await two?.close({ keepDatabase: true })
    await idp?.close()
    await relay?.close()
    await db?.close()
  })

  const listenUp = async (broker: TestBroker) => {
    const metrics = await (await broker.api(null, '/metrics')).text()
    return /^keygate_feed_listen_up 1$/m.test(metrics)
  }
  const sync = async (since: number, wait: number) => {
    const response = await one.api(
      null,
      `/api/v1/gateways/sync?since=${since}&wait=${wait}&protocol=${PROTOCOL_VERSION}`,
      { headers: { authorization: `Bearer ${credential}` } },
    )
    expect(response.status).toBe(200)
    return (await response.json()) as SyncResponse
  }

  it("still wakes a held poll for another replica's change within about a second", async () => {
    await until('LISTEN on replica one', () => listenUp(one))
    const head = await sync(0, 0)

    relay.down()
    await until('replica one to see LISTEN lost', async () => !(await listenUp(one)))
    try {
      const held = sync(head.version, 25)
      await sleep(300)
      const key = newKey()
      const issued = await two.api(alice, '/api/v1/peers', { method: 'POST', json: { publicKey: key } })
      expect(issued.status).toBe(201)
      const issuedAt = Date.now()
      const answer = await held
      const tookMs = Date.now() - issuedAt
      expect(answer.upserts.map((u) => u.publicKey)).toContain(key)
      // The NOTIFY from replica two never arrived: the one-second re-read found it. Without that poll
      // the answer comes at the 25 s wait's end (bounded loosely here: the machine is shared).
      expect(tookMs).toBeLessThan(5_000)
      expect(await listenUp(one)).toBe(false)
    } finally {
      relay.up()
    }
    await until('replica one to LISTEN again', () => listenUp(one))
  })
})

describe('the PostgreSQL notifier after LISTEN comes back', () => {
  let db: TestDatabase
  let relay: Relay

  beforeAll(async () => {
    db = await createTestDatabase()
    relay = await startRelay(new URL(db.databaseUrl!))
  })
  afterAll(async () => {
    await relay?.close()
    await db?.close()
  })

  it('wakes every waiter once LISTEN is re-established, and logs the loss and the recovery', async () => {
    const events: string[] = []
    const logger: Logger = {
      debug: () => {},
      info: (event) => events.push(event),
      warn: (event) => events.push(event),
      error: (event) => events.push(event),
    }
    const url = viaRelay(db.databaseUrl!, relay)
    const notifySql = postgres(url, { max: 1, onnotice: () => {}, fetch_types: false })
    // A poll interval longer than the test, so the only wake-up a waiter can get is the recovery's re-read.
    const notifier = createPgChangeNotifier({
      logger,
      notifySql,
      pollIntervalMs: 10 * 60_000,
      openListener: (hooks) =>
        postgres(url, {
          max: 1,
          onnotice: () => {},
          onnotify: hooks.onnotify,
          onclose: hooks.onclose,
          idle_timeout: 0,
          max_lifetime: null,
          fetch_types: false,
          backoff: () => 0.25,
          connect_timeout: 5,
        } as postgres.Options<Record<string, never>>),
    })
    try {
      await notifier.whenListening()
      relay.down()
      await until('the notifier to see LISTEN lost', async () => !notifier.status().listening)
      expect(notifier.status()).toMatchObject({ listening: false, losses: 1 })

      const waiter = notifier.waitForChange('gw-a', 60_000, 0)
      let woken: string | null = null
      void waiter.changed.then((reason) => {
        woken = reason
      })
      // Down for two seconds: nothing wakes the waiter (no poll, no NOTIFY can arrive).
      await sleep(2_000)
      expect(woken).toBeNull()

      relay.up()
      await until('the waiter to be woken', async () => woken !== null)
      expect(woken).toBe('change')
      expect(notifier.status()).toMatchObject({ listening: true, losses: 1, downSince: null })
      expect(events).toContain('feed.listen_lost')
      expect(events).toContain('feed.listen_recovered')
    } finally {
      await notifier.close()
      await notifySql.end({ timeout: 1 })
    }
  })
})
