// Many gateways' feeds read in one statement (Store.readGatewayFeeds), as a wake-up of many held polls
// does: each request gets exactly its own gateway's entries after its own cursor, none of another
// gateway's, none dropped, in the requests' order; cursors that need a snapshot get one; and a request
// that names its gateway's id gets null once that gateway is removed or replaced.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GatewayFeedRequest, Store } from '../../../src/core/ports.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-db.ts'
import { HOUR, leaseInput, publicKey, revokeAudit, signIn, T0 } from './fixtures.ts'

let db: TestDatabase
let store: Store

beforeAll(async () => {
  db = await createTestDatabase({ feedRetentionMs: 24 * HOUR })
  store = db.store
})
afterAll(async () => {
  await db?.close()
})

const GATEWAYS = Array.from({ length: 12 }, (_, i) => `batch-gw-${i}`)
/** A route of each gateway's own, so an entry read for the wrong gateway cannot look right. */
const routeOf = (gateway: string) => `10.77.${GATEWAYS.indexOf(gateway)}.0/24`
/** What each feed must hold, written down as the leases are issued and revoked. */
const expected = new Map<string, Array<{ version: number; kind: string; publicKey: string }>>(
  GATEWAYS.map((g) => [g, []]),
)

describe('reading many gateway feeds in one statement', () => {
  it('gives every request exactly its own entries after its own cursor, in order', async () => {
    const erin = await signIn(store, 'erin')
    const record = async (gateways: string[], kind: 'upsert' | 'remove', key: string) => {
      for (const g of gateways)
        expected.get(g)!.push({ version: await store.gatewayFeedVersion(g), kind, publicKey: key })
    }
    // Overlapping grant sets: gateway i gets leases j where (i + j) % 3 !== 0, so no two feeds match.
    for (let j = 0; j < 9; j++) {
      const on = GATEWAYS.filter((_, i) => (i + j) % 3 !== 0)
      const lease = await store.issueLease(
        {
          ...leaseInput(erin, { gateways: on }),
          grants: on.map((gateway) => ({ gateway, routes: [routeOf(gateway)] })),
        },
        T0,
      )
      await record(on, 'upsert', lease.publicKey)
      if (j % 4 === 1) {
        await store.revokeLease(lease.id, 'test', revokeAudit('erin'), T0)
        await record(on, 'remove', lease.publicKey)
      }
    }

    // Every gateway twice with different cursors (its start, its middle), and a few at their head.
    const requests: GatewayFeedRequest[] = []
    for (const g of GATEWAYS) {
      const feed = expected.get(g)!
      requests.push({ gateway: g, since: 1 })
      requests.push({ gateway: g, since: feed[Math.floor(feed.length / 2)]!.version })
    }
    requests.push({ gateway: GATEWAYS[3]!, since: expected.get(GATEWAYS[3]!)!.at(-1)!.version })
    // Shuffled, so the answer's order is the requests', not the names'.
    requests.sort((a, b) => ((a.since * 7 + a.gateway.length) % 5) - ((b.since * 7 + b.gateway.length) % 5))

    const pages = await store.readGatewayFeeds(requests, 1000, T0)
    expect(pages).toHaveLength(requests.length)
    requests.forEach(({ gateway, since }, i) => {
      const page = pages[i]!
      const want = expected.get(gateway)!.filter((e) => e.version > since)
      expect(page.reset).toBe(false)
      expect(page.version).toBe(want.at(-1)?.version ?? since)
      expect(page.changes.map((c) => ({ kind: c.kind, publicKey: c.publicKey }))).toEqual(
        want.map((e) => ({ kind: e.kind, publicKey: e.publicKey })),
      )
      for (const change of page.changes)
        if (change.kind === 'upsert') expect(change.routes).toEqual([routeOf(gateway)])
    })
  })

  it('pages each feed to the limit on its own', async () => {
    const pages = await store.readGatewayFeeds(
      GATEWAYS.map((gateway) => ({ gateway, since: 1 })),
      2,
      T0,
    )
    GATEWAYS.forEach((gateway, i) => {
      const want = expected
        .get(gateway)!
        .filter((e) => e.version > 1)
        .slice(0, 2)
      expect(want).toHaveLength(2)
      expect(pages[i]!.version).toBe(want[1]!.version)
      expect(pages[i]!.changes.map((c) => c.publicKey)).toEqual(want.map((e) => e.publicKey))
    })
  })

  it('answers a snapshot to the cursors that need one, beside the deltas', async () => {
    const g = GATEWAYS[2]!
    const head = await store.gatewayFeedVersion(g)
    const pages = await store.readGatewayFeeds(
      [
        { gateway: g, since: 0 },
        { gateway: 'batch-gw-never', since: 5 },
        { gateway: g, since: head + 50 },
        { gateway: g, since: head },
      ],
      1000,
      T0,
    )
    expect(pages[0]).toMatchObject({ version: head, reset: true })
    expect(pages[1]).toEqual({ version: 0, reset: true, changes: [] })
    expect(pages[2]).toEqual(pages[0])
    expect(pages[3]).toEqual({ version: head, reset: false, changes: [] })
    // The snapshot holds the gateway's live leases, every one with this gateway's route.
    const live = pages[0]!.changes
    expect(live.length).toBeGreaterThan(0)
    for (const change of live) expect(change).toMatchObject({ kind: 'upsert', routes: [routeOf(g)] })
  })

  it("answers null to a request whose gateway was removed or replaced, and the others' pages as usual", async () => {
    const pool = { ipv4: '10.51.0.0/24', ipv6: null }
    const enrol = async (name: string, n: number) => {
      await store.createEnrollment(
        { gatewayName: name, tokenHash: `batch-${name}-${n}`, expiresAt: T0 + HOUR },
        T0,
      )
      return store.enrollGateway(
        {
          tokenHash: `batch-${name}-${n}`,
          publicKey: publicKey(),
          credentialHash: `batch-cred-${name}-${n}`,
          pool,
        },
        T0,
      )
    }
    const kept = await enrol('batch-kept', 1)
    const gone = await enrol('batch-gone', 1)
    const replaced = await enrol('batch-replaced', 1)
    await store.removeGateway(gone.name, T0)
    await store.removeGateway(replaced.name, T0)
    const again = await enrol('batch-replaced', 2)
    expect(again.id).not.toBe(replaced.id)

    const pages = await store.readGatewayFeeds(
      [
        { gateway: kept.name, since: 1, gatewayId: kept.id },
        { gateway: gone.name, since: 1, gatewayId: gone.id },
        { gateway: replaced.name, since: 1, gatewayId: replaced.id },
        { gateway: again.name, since: 1, gatewayId: again.id },
        // Another gateway's id under this name is not this gateway.
        { gateway: kept.name, since: 1, gatewayId: again.id },
      ],
      1000,
      T0,
    )
    expect(pages).toEqual([
      { version: 1, reset: false, changes: [] },
      null,
      null,
      { version: 1, reset: false, changes: [] },
      null,
    ])
  })

  it('carries names that need quoting in the statement exactly, however many requests there are', async () => {
    // The requests travel as array literals: quotes, backslashes, commas, braces, spaces and NULL-like
    // text must reach the database as themselves, never split or unescaped into another gateway's name.
    const odd = ['odd "gw", \\{1}', 'NULL', 'odd gw', 'odd\\']
    const erin = await signIn(store, 'erin-odd')
    const lease = await store.issueLease(
      { ...leaseInput(erin, { gateways: odd }), grants: odd.map((gateway) => ({ gateway, routes: [] })) },
      T0,
    )
    for (const batch of [odd, odd.slice(0, 1)]) {
      const pages = await store.readGatewayFeeds(
        [...batch.map((gateway) => ({ gateway, since: 0 })), { gateway: 'odd', since: 0 }],
        1000,
        T0,
      )
      expect(pages.map((p) => p!.changes.map((c) => c.publicKey))).toEqual([
        ...batch.map(() => [lease.publicKey]),
        [],
      ])
    }
  })
})
