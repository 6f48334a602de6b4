// The broker's side of the gateway protocol over HTTP: one-time enrollment, the long-polled feed that
// answers as soon as a lease for the gateway changes, only the gateway's own peers, status reports,
// and (on PostgreSQL) a wake-up across two broker processes through LISTEN/NOTIFY.
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sweepExpiredLeases } from '../../../src/core/broker/sweep-leases.ts'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { PROTOCOL_VERSION, type SyncResponse } from '../../../src/core/sync/protocol.ts'
import { corePolicy } from '../../fixtures/policies.ts'
import { type EnrolledGateway, enrollGateway } from '../../support/gateway-enrollment.ts'
import type { CookieJar } from '../../support/login-driver.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { testDatabaseKind } from '../../support/test-db.ts'
import { MFA_SCENARIO } from '../../support/test-idp.ts'

const newKeys = () => generateKeyPair((n) => new Uint8Array(randomBytes(n)))

function sync(broker: TestBroker, credential: string, since: number, wait = 0) {
  return broker.api(null, `/api/v1/gateways/sync?since=${since}&wait=${wait}&protocol=${PROTOCOL_VERSION}`, {
    headers: { authorization: `Bearer ${credential}` },
  })
}

describe('gateway sync over HTTP', () => {
  let broker: TestBroker
  let alice: CookieJar
  let gwA: EnrolledGateway

  beforeAll(async () => {
    broker = await startTestBroker({ policy: corePolicy(), enrolGateways: false })
    alice = (await broker.login(MFA_SCENARIO)).jar
    gwA = await enrollGateway(broker, 'gw-a')
  })
  afterAll(async () => {
    await broker?.close()
  })

  it('an enrollment token works once; a bad credential is refused', async () => {
    const reuse = await broker.api(null, '/api/v1/gateways/enroll', {
      method: 'POST',
      headers: { authorization: `Bearer ${gwA.token}` },
      json: { protocolVersion: PROTOCOL_VERSION, publicKey: newKeys().publicKey },
    })
    expect(reuse.status).toBe(401)
    expect(((await reuse.json()) as { error: { code: string } }).error.code).toBe('ENROLLMENT_TOKEN_INVALID')
    const bad = await sync(broker, 'kgc_not-a-credential', 0)
    expect(bad.status).toBe(401)
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('GATEWAY_CREDENTIAL_INVALID')
    const unknown = await broker.api(null, '/api/v1/admin/gateways/gw-zz/enrollment-token', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${(await readFile(`${broker.dataDir}/admin-token`, 'utf8')).trim()}`,
      },
    })
    expect(unknown.status).toBe(404)
    expect(gwA.addressV4).toMatch(/^100\.96\./)
  })

  it('wakes a waiting gateway with the new peer, then with its removal', async () => {
    const first = (await (await sync(broker, gwA.credential, 0)).json()) as SyncResponse
    expect(first.reset).toBe(true)

    const started = performance.now()
    const waiting = sync(broker, gwA.credential, first.version, 20)
    await new Promise((r) => setTimeout(r, 200))
    const client = newKeys()
    const issued = await broker.api(alice, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: client.publicKey },
    })
    const lease = (await issued.json()) as {
      id: string
      addresses: string[]
      expiresAt: string
      config: string
      gateways: Array<{ name: string; enrolled: boolean }>
    }
    const change = (await (await waiting).json()) as SyncResponse
    // Answered on the change, not at the end of the 20 s wait.
    expect(performance.now() - started).toBeLessThan(5_000)
    expect(change.reset).toBe(false)
    expect(change.version).toBeGreaterThan(first.version)
    expect(change.upserts).toHaveLength(1)
    expect(change.upserts[0]).toMatchObject({
      publicKey: client.publicKey,
      allowedIps: [`${lease.addresses[0]}/32`, `${lease.addresses[1]}/128`],
      // Protocol v2: what this lease may reach through gw-a (the union of its granted routes there).
      routes: ['10.10.0.0/16', '192.168.10.0/24'],
      expiresAt: Date.parse(lease.expiresAt),
    })
    expect(change.network).toEqual({ ipv4: '100.96.0.0/20', ipv6: 'fd7a:115c:a1e0::/64' })
    expect(change.upserts[0]!.presharedKey).toMatch(/^[A-Za-z0-9+/]{43}=$/)
    // The config names the same preshared key for gw-a, which enrolled; gw-b has not, so it is absent.
    expect(lease.config).toContain(`PresharedKey = ${change.upserts[0]!.presharedKey}`)
    expect(lease.config).toContain(`PublicKey = ${gwA.keys.publicKey}`)
    expect(lease.gateways.find((g) => g.name === 'gw-b')?.enrolled).toBe(false)

    const waitingRemoval = sync(broker, gwA.credential, change.version, 20)
    await new Promise((r) => setTimeout(r, 200))
    expect((await broker.api(alice, `/api/v1/peers/${lease.id}`, { method: 'DELETE' })).status).toBe(200)
    const removal = (await (await waitingRemoval).json()) as SyncResponse
    expect(removal.removals).toEqual([client.publicKey])
    expect(removal.upserts).toEqual([])
  })

  it("wakes an idle gateway at once when the expiry sweep ends a lease (the sweep's wake-up)", async () => {
    const client = newKeys()
    const issued = await broker.api(alice, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: client.publicKey },
    })
    expect(issued.status).toBe(201)
    const { expiresAt } = (await issued.json()) as { expiresAt: string }
    const current = (await (await sync(broker, gwA.credential, 0)).json()) as SyncResponse
    const started = performance.now()
    const waiting = sync(broker, gwA.credential, current.version, 20)
    // Held, per the broker's own count, before the sweep runs.
    while ((await (await broker.api(null, '/metrics')).text()).match(/keygate_sync_waiting 0\b/) !== null) {
      await new Promise((r) => setTimeout(r, 20))
    }
    // The sweep as the broker runs it, on a clock past the lease's expiry.
    const broker2 = broker.server.broker
    const ended = await sweepExpiredLeases({
      ...broker2,
      clock: { now: () => Date.parse(expiresAt) + 1_000 },
    })
    expect(ended).toBeGreaterThanOrEqual(1)
    const removal = (await (await waiting).json()) as SyncResponse
    expect(removal.removals).toContain(client.publicKey)
    // Answered on the sweep's wake-up, not at the end of the 20 s wait.
    expect(performance.now() - started).toBeLessThan(10_000)
  })

  it('a gateway sees only peers granted through it', async () => {
    const gwB = await enrollGateway(broker, 'gw-b')
    const admin = (
      await broker.login({ sub: 'user-root', email: 'root@example.com', groups: [], amr: ['pwd', 'hwk'] })
    ).jar
    const rootKey = newKeys().publicKey
    expect(
      (await broker.api(admin, '/api/v1/peers', { method: 'POST', json: { publicKey: rootKey } })).status,
    ).toBe(201)
    const a = (await (await sync(broker, gwA.credential, 0)).json()) as SyncResponse
    const b = (await (await sync(broker, gwB.credential, 0)).json()) as SyncResponse
    expect(a.upserts.map((u) => u.publicKey)).toContain(rootKey)
    // A snapshot carries the routes too.
    expect(a.upserts.find((u) => u.publicKey === rootKey)?.routes).toEqual([
      '10.10.0.0/16',
      '192.168.10.0/24',
    ])
    // root's grant is gw-a only.
    expect(b.upserts.map((u) => u.publicKey)).not.toContain(rootKey)
  })

  it('records status reports and shows them to admins', async () => {
    const state = (await (await sync(broker, gwA.credential, 0)).json()) as SyncResponse
    const report = await broker.api(null, '/api/v1/gateways/status', {
      method: 'POST',
      headers: { authorization: `Bearer ${gwA.credential}` },
      json: {
        protocolVersion: PROTOCOL_VERSION,
        appliedVersion: state.version,
        peerCount: state.upserts.length,
        latestHandshakes: {},
        enforcement: 'off',
      },
    })
    expect(report.status).toBe(204)
    const adminToken = (await readFile(`${broker.dataDir}/admin-token`, 'utf8')).trim()
    const view = (await (
      await broker.api(null, '/api/v1/admin/gateways', { headers: { authorization: `Bearer ${adminToken}` } })
    ).json()) as {
      gateways: Array<{ name: string; appliedVersion: number; peerCount: number; healthy: boolean }>
    }
    expect(view.gateways.find((g) => g.name === 'gw-a')).toMatchObject({
      appliedVersion: state.version,
      peerCount: state.upserts.length,
      healthy: true,
      enforcement: 'off',
    })
  })

  it('refuses a v1 agent clearly, and never serves it peers', async () => {
    const old = await broker.api(null, '/api/v1/gateways/sync?since=0&wait=0', {
      headers: { authorization: `Bearer ${gwA.credential}` },
    })
    expect(old.status).toBe(426)
    const body = (await old.json()) as { error: { code: string; message: string; supported: number[] } }
    expect(body.error.code).toBe('GATEWAY_PROTOCOL_UNSUPPORTED')
    expect(body.error.message).toMatch(/upgrade/)
    expect(body.error.supported).toEqual([PROTOCOL_VERSION])
    const oldStatus = await broker.api(null, '/api/v1/gateways/status', {
      method: 'POST',
      headers: { authorization: `Bearer ${gwA.credential}` },
      json: { protocolVersion: 1, appliedVersion: 1, peerCount: 0, latestHandshakes: {} },
    })
    expect(oldStatus.status).toBe(426)
  })
})

describe.runIf(testDatabaseKind() === 'postgres')('two broker processes on one PostgreSQL', () => {
  let one: TestBroker
  let two: TestBroker

  beforeAll(async () => {
    one = await startTestBroker({ policy: corePolicy(), enrolGateways: false })
    two = await startTestBroker({
      policy: corePolicy(),
      database: one.db,
      idp: one.idp,
      env: { KEYGATE_SECRET: one.secret },
    })
  })
  afterAll(async () => {
    await two?.close()
    await one?.close()
  })

  it('a gateway waiting on one replica wakes on an issuance through the other (LISTEN/NOTIFY)', async () => {
    const gateway = await enrollGateway(one, 'gw-a')
    const first = (await (await sync(two, gateway.credential, 0)).json()) as SyncResponse
    const started = performance.now()
    const waiting = sync(two, gateway.credential, first.version, 20)
    await new Promise((r) => setTimeout(r, 300))
    one.idp.setRedirectUris([`${one.origin}/auth/test/callback`, `${two.origin}/auth/test/callback`])
    const jar = (await one.login(MFA_SCENARIO)).jar
    const key = newKeys().publicKey
    expect((await one.api(jar, '/api/v1/peers', { method: 'POST', json: { publicKey: key } })).status).toBe(
      201,
    )
    const change = (await (await waiting).json()) as SyncResponse
    expect(change.upserts.map((u) => u.publicKey)).toEqual([key])
    expect(performance.now() - started).toBeLessThan(5_000)
  })
})
