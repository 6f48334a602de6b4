// Two broker replicas on a PostgreSQL cluster of the test's own, which the test stops and starts again
// under them: a NOTIFY for a change touching 1,000 long gateway names reaches the other replica; while
// the database is away requests get 503 DATABASE_UNAVAILABLE with Retry-After (never a hang or a 500)
// and /readyz says so; afterwards issuance works again and the LISTEN connection is re-established, so
// cross-replica wake-ups keep working without a restart.
import { randomBytes } from 'node:crypto'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/adapters/storage/open-database.ts'
import { generateKeyPair } from '../../src/core/peers/keys.ts'
import { PROTOCOL_VERSION, type SyncResponse } from '../../src/core/sync/protocol.ts'
import {
  farGatewayName,
  manyGatewaysPolicy as manyGatewaysPolicyOf,
} from '../fixtures/many-gateways-policy.ts'
import { enrollGateway } from '../support/gateway-enrollment.ts'
import type { CookieJar } from '../support/login-driver.ts'
import { type PgCluster, startPgCluster } from '../support/pg-cluster.ts'
import { startTestBroker, type TestBroker } from '../support/test-broker.ts'
import { openTestDatabaseAt } from '../support/test-db.ts'
import { MFA_SCENARIO, startTestIdp, type TestIdp } from '../support/test-idp.ts'

const GATEWAYS = 1_000
const gatewayName = farGatewayName
const manyGatewaysPolicy = () => manyGatewaysPolicyOf(GATEWAYS)

const newKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey

async function sync(broker: TestBroker, credential: string, since: number, wait: number) {
  const response = await broker.api(
    null,
    `/api/v1/gateways/sync?since=${since}&wait=${wait}&protocol=${PROTOCOL_VERSION}`,
    {
      headers: { authorization: `Bearer ${credential}` },
    },
  )
  expect(response.status, await response.clone().text()).toBe(200)
  return (await response.json()) as SyncResponse
}

/** Waits, request by request, until `check` passes (an event seen through the API, not a sleep). */
async function until(check: () => Promise<boolean>, what: string, limitMs = 30_000): Promise<void> {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > limitMs) throw new Error(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('a PostgreSQL outage under two replicas', () => {
  let cluster: PgCluster
  let idp: TestIdp
  let one: TestBroker
  let two: TestBroker
  let alice: CookieJar
  let last: string

  beforeAll(async () => {
    cluster = await startPgCluster()
    const migrator = await openDatabase({ databaseUrl: cluster.url })
    await migrator.migrate()
    await migrator.close()
    idp = await startTestIdp({ redirectUris: [] })
    const policy = manyGatewaysPolicy()
    one = await startTestBroker({ policy, idp, database: await openTestDatabaseAt(cluster.url) })
    const secret = one.secret
    two = await startTestBroker({
      policy,
      idp,
      database: await openTestDatabaseAt(cluster.url),
      env: { KEYGATE_SECRET: secret },
    })
    idp.setRedirectUris([`${one.origin}/auth/test/callback`, `${two.origin}/auth/test/callback`])
    alice = (await one.login(MFA_SCENARIO)).jar
    last = (await enrollGateway(one, gatewayName(GATEWAYS - 1))).credential
  })
  afterAll(async () => {
    await one?.close()
    await two?.close()
    await one?.db.close()
    await two?.db.close()
    await idp?.close()
    await cluster?.remove()
  })

  it('wakes a gateway on the other replica for a change touching 1,000 long gateway names', async () => {
    const first = await sync(two, last, 0, 0)
    const started = Date.now()
    const waiting = sync(two, last, first.version, 25)
    const key = newKey()
    const issued = await one.api(alice, '/api/v1/peers', { method: 'POST', json: { publicKey: key } })
    expect(issued.status, await issued.clone().text()).toBe(201)
    expect(((await issued.clone().json()) as { gateways: unknown[] }).gateways).toHaveLength(GATEWAYS)
    const change = await waiting
    expect(change.upserts.map((u) => u.publicKey)).toContain(key)
    // Woken by the NOTIFY, not by the 25 s wait running out (a lost NOTIFY answers at 25 s).
    expect(Date.now() - started).toBeLessThan(12_000)
  })

  it('answers 503 DATABASE_UNAVAILABLE while the database is away, and recovers LISTEN after it', async () => {
    await cluster.stop('fast')
    const refused = await one.api(alice, '/api/v1/peers', { method: 'POST', json: { publicKey: newKey() } })
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('DATABASE_UNAVAILABLE')
    const ready = await two.api(null, '/readyz')
    expect(ready.status).toBe(503)
    const checks = ((await ready.json()) as { checks: Record<string, { ok: boolean }> }).checks
    expect(checks.database?.ok).toBe(false)
    await until(async () => {
      const body = (await (await two.api(null, '/readyz')).json()) as {
        checks: Record<string, { ok: boolean }>
      }
      return body.checks.feedListener?.ok === false
    }, 'the lost LISTEN to show in /readyz')

    // Issuance under load across the restart: every answer is a 201 or a 503, never a hang or a 500.
    const statuses: number[] = []
    let stop = false
    const load = Array.from({ length: 8 }, async () => {
      while (!stop) {
        const response = await one.api(alice, '/api/v1/peers', {
          method: 'POST',
          json: { publicKey: newKey() },
        })
        statuses.push(response.status)
        if (response.status === 503) await new Promise((r) => setTimeout(r, 100))
        if (response.status === 201) return
      }
    })
    await cluster.start()
    await Promise.race([Promise.all(load), new Promise((r) => setTimeout(r, 30_000))])
    stop = true
    await Promise.all(load)
    expect(statuses).toContain(201)
    expect(statuses.filter((s) => s !== 201 && s !== 503)).toEqual([])

    await until(async () => (await two.api(null, '/readyz')).status === 200, 'replica two to be ready')
    const metrics = await (await two.api(null, '/metrics')).text()
    expect(metrics).toMatch(/keygate_feed_listen_up 1/)
    expect(metrics).toMatch(/keygate_feed_listen_losses_total [1-9]/)

    // LISTEN is back on replica two: an issuance through one wakes its waiting gateway at once again.
    const current = await sync(two, last, 0, 0)
    const started = Date.now()
    const waiting = sync(two, last, current.version, 25)
    const key = newKey()
    const issued = await one.api(alice, '/api/v1/peers', { method: 'POST', json: { publicKey: key } })
    expect(issued.status).toBe(201)
    // An issuance the load above was answered 503 for can still commit once the database is back (its
    // statement was already on the wire; that is what Idempotency-Key is for), so the first wake may
    // carry that lease: read on from each answer until this one arrives.
    let page = await waiting
    const seen = page.upserts.map((u) => u.publicKey)
    while (!seen.includes(key) && Date.now() - started < 12_000) {
      page = await sync(two, last, page.version, 25)
      seen.push(...page.upserts.map((u) => u.publicKey))
    }
    expect(seen).toContain(key)
    expect(Date.now() - started).toBeLessThan(12_000)
  })
})

// A connection reset while a new connection starts up (PostgreSQL going down just after the pool
// reconnected) must be an ordinary refused call, never a crash: with postgres.js's type-catalogue fetch,
// the reset rejected a promise nobody handled, which ends `keygate serve`. A loopback relay in front of
// the test's own cluster resets the first connection as soon as its first query arrives, after startup.
describe('a connection reset right after connecting', () => {
  let cluster: PgCluster
  let relay: Server
  const unhandled: unknown[] = []
  const record = (reason: unknown) => unhandled.push(reason)

  beforeAll(async () => {
    cluster = await startPgCluster()
    const migrator = await openDatabase({ databaseUrl: cluster.url })
    await migrator.migrate()
    await migrator.close()
    let resets = 0
    relay = createServer((client: Socket) => {
      const upstream = createConnection({ host: '127.0.0.1', port: cluster.port })
      const reset = resets++ === 0
      let chunks = 0
      client.on('data', (chunk) => {
        // The first chunk is the startup packet; the next one is the connection's first query.
        if (reset && ++chunks === 2) {
          client.resetAndDestroy()
          upstream.destroy()
          return
        }
        upstream.write(chunk)
      })
      upstream.on('data', (chunk) => client.writable && client.write(chunk))
      upstream.on('error', () => client.destroy())
      client.on('error', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
      client.on('close', () => upstream.destroy())
    })
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
    process.on('unhandledRejection', record)
  })
  afterAll(async () => {
    process.off('unhandledRejection', record)
    await new Promise((resolve) => relay?.close(resolve))
    await cluster?.remove()
  })

  it('refuses that call with DATABASE_UNAVAILABLE, leaves nothing unhandled, and the next call works', async () => {
    const address = relay.address() as { port: number }
    const database = await openDatabase({
      databaseUrl: `postgres://postgres@127.0.0.1:${address.port}/postgres`,
    })
    try {
      const refused = await database.store.listGateways().then(
        () => null,
        (error: unknown) => error,
      )
      expect((refused as { code?: unknown } | null)?.code).toBe('DATABASE_UNAVAILABLE')
      // An unhandled rejection is reported once the microtask queue drains after the event that caused it.
      await new Promise((r) => setImmediate(r))
      await new Promise((r) => setImmediate(r))
      expect(unhandled).toEqual([])
      expect(await database.store.listGateways()).toEqual([])
    } finally {
      await database.close()
    }
  })
})
