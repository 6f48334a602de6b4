// One issuance waking many held gateway polls at once, over HTTP on both databases: the woken polls'
// feed reads go to the store together (gateway-feed-reads.ts), and still every granted gateway gets
// exactly the new peer with its own routes and its own next version, while gateways the lease is not
// granted on stay held and get nothing.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import type { GatewayFeedRequest } from '../../../src/core/ports.ts'
import { PROTOCOL_VERSION, type SyncResponse } from '../../../src/core/sync/protocol.ts'
import { type EnrolledGateway, enrollGateway } from '../../support/gateway-enrollment.ts'
import type { CookieJar } from '../../support/login-driver.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-db.ts'
import { MFA_SCENARIO } from '../../support/test-idp.ts'

const GATEWAYS = 24
const GRANTED = 16
const name = (i: number) => `fan-${String(i).padStart(2, '0')}`
const routeOf = (i: number) => `10.60.${i}.0/24`

/** Every gateway has a route of its own; the grant reaches the first GRANTED of them only. */
function fanOutPolicy(): string {
  const gateways = Array.from(
    { length: GATEWAYS },
    (_, i) =>
      `"${name(i)}": { "endpoint": "198.18.0.${i + 1}:51820", "routes": { "prod": ["${routeOf(i)}"] } }`,
  )
  const granted = Array.from({ length: GRANTED }, (_, i) => `"${name(i)}:*"`)
  return `{
  "network": { "ipv4": "100.96.0.0/16" },
  "gateways": { ${gateways.join(',\n')} },
  "groups": { "group:eng": ["idp:*:engineering"] },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "1h" } },
  "grants": [ { "src": ["group:eng"], "dst": [${granted.join(', ')}], "assurance": "mfa", "ttl": "8h" } ],
}`
}

/** The test database with every batch of feed reads the broker sends recorded. */
function recordingDatabase(db: TestDatabase, batches: GatewayFeedRequest[][]): TestDatabase {
  const store = new Proxy(db.store, {
    get(target, property) {
      if (property === 'readGatewayFeeds') {
        const read: typeof target.readGatewayFeeds = (requests, limit, now) => {
          batches.push([...requests])
          return target.readGatewayFeeds(requests, limit, now)
        }
        return read
      }
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { ...db, store, database: { ...db.database, store } }
}

describe('one issuance waking many gateways', () => {
  let db: TestDatabase
  let broker: TestBroker
  let alice: CookieJar
  const gateways: EnrolledGateway[] = []
  const batches: GatewayFeedRequest[][] = []

  beforeAll(async () => {
    db = await createTestDatabase()
    broker = await startTestBroker({
      policy: fanOutPolicy(),
      enrolGateways: false,
      database: recordingDatabase(db, batches),
    })
    alice = (await broker.login(MFA_SCENARIO)).jar
    for (let i = 0; i < GATEWAYS; i++) gateways.push(await enrollGateway(broker, name(i)))
  })
  afterAll(async () => {
    await broker?.close()
    await db?.close()
  })

  const sync = async (gateway: EnrolledGateway, since: number, wait: number) => {
    const response = await broker.api(
      null,
      `/api/v1/gateways/sync?since=${since}&wait=${wait}&protocol=${PROTOCOL_VERSION}`,
      { headers: { authorization: `Bearer ${gateway.credential}` } },
    )
    expect(response.status).toBe(200)
    return (await response.json()) as SyncResponse
  }
  const held = async () =>
    Number(/keygate_sync_waiting (\d+)/.exec(await (await broker.api(null, '/metrics')).text())?.[1] ?? -1)

  it('gives each woken gateway exactly the new peer with its own routes, and the others nothing', async () => {
    const start = await Promise.all(gateways.map((g) => sync(g, 0, 0)))
    const polls = gateways.map((g, i) => sync(g, start[i]!.version, i < GRANTED ? 20 : 3))
    while ((await held()) < GATEWAYS) await new Promise((r) => setTimeout(r, 20))
    batches.length = 0

    const client = generateKeyPair((n) => new Uint8Array(randomBytes(n)))
    const issued = await broker.api(alice, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: client.publicKey },
    })
    expect(issued.status).toBe(201)
    const answers = await Promise.all(polls)

    answers.forEach((answer, i) => {
      if (i >= GRANTED) {
        // Not granted: held to its own 3 s deadline, then "nothing new".
        expect(answer).toMatchObject({ version: start[i]!.version, reset: false, upserts: [], removals: [] })
        return
      }
      expect(answer.reset).toBe(false)
      expect(answer.version).toBe(start[i]!.version + 1)
      expect(answer.removals).toEqual([])
      expect(answer.upserts).toHaveLength(1)
      expect(answer.upserts[0]).toMatchObject({ publicKey: client.publicKey, routes: [routeOf(i)] })
    })
    // One preshared key for the lease, the same on every gateway.
    expect(new Set(answers.slice(0, GRANTED).map((a) => a.upserts[0]!.presharedKey)).size).toBe(1)
    // The wake-up's re-reads went to the store together: one batch held every granted gateway.
    const granted = gateways.slice(0, GRANTED).map((g) => g.gateway)
    expect(batches.some((batch) => granted.every((g) => batch.some((r) => r.gateway === g)))).toBe(true)
  })
})
