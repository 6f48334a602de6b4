// The per-gateway change feed on a real database: versions without gaps in commit order, a poller that
// never misses a change (also when a transaction commits late), snapshots, removals, and retention.
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PeerChange, Store } from '../../../src/core/ports.ts'
import { readFeed } from '../../support/store-reads.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-db.ts'
import { HOUR, leaseInput, revokeAudit, signIn, T0 } from './fixtures.ts'

let db: TestDatabase
let store: Store

beforeAll(async () => {
  db = await createTestDatabase({ feedRetentionMs: 24 * HOUR })
  store = db.store
})
afterAll(async () => {
  await db?.close()
})

/** Reads a feed from `since` to its end, page by page, checking each page continues the last. */
async function drain(gateway: string, since: number, now = T0, limit = 7) {
  const changes: Array<PeerChange & { version: number }> = []
  let version = since
  for (;;) {
    const page = await readFeed(store, gateway, version, limit, now)
    expect(page.reset).toBe(false)
    page.changes.forEach((change, i) => {
      changes.push({ ...change, version: version + i + 1 })
    })
    if (page.changes.length > 0) expect(page.version).toBe(version + page.changes.length)
    if (page.version === version) return { version, changes }
    version = page.version
  }
}

describe('gateway feed', () => {
  it('starts with an empty snapshot and sends upserts with the lease overlay addresses', async () => {
    const first = await readFeed(store, 'fresh-gw', 0, 100, T0)
    expect(first).toEqual({ version: 0, reset: true, changes: [] })
    const alice = await signIn(store, 'alice')
    const lease = await store.issueLease(leaseInput(alice, { gateways: ['fresh-gw'] }), T0)
    expect(await store.gatewayFeedVersion('fresh-gw')).toBe(1)
    const page = await readFeed(store, 'fresh-gw', 0, 100, T0)
    expect(page).toEqual({
      version: 1,
      reset: true,
      changes: [
        {
          kind: 'upsert',
          leaseId: lease.id,
          publicKey: lease.publicKey,
          presharedKeyCiphertext: 'sealed-psk',
          allowedIps: [`${lease.addressV4}/32`, `${lease.addressV6}/128`],
          expiresAt: lease.expiresAt,
          // Protocol 2: the prefixes the lease's grants reach through this gateway.
          routes: lease.grants.find((g) => g.gateway === 'fresh-gw')!.routes,
        },
      ],
    })
    // A cursor from the future (a restored database) also gets a snapshot.
    expect((await readFeed(store, 'fresh-gw', 99, 100, T0)).reset).toBe(true)
    // A current cursor gets an empty delta.
    expect(await readFeed(store, 'fresh-gw', 1, 100, T0)).toEqual({
      version: 1,
      reset: false,
      changes: [],
    })
  })

  it('gives each gateway only its own peers', async () => {
    const bob = await signIn(store, 'bob')
    const both = await store.issueLease(leaseInput(bob, { gateways: ['iso-a', 'iso-b'] }), T0)
    const onlyA = await store.issueLease(leaseInput(bob, { gateways: ['iso-a'] }), T0)
    const a = await readFeed(store, 'iso-a', 0, 100, T0)
    const b = await readFeed(store, 'iso-b', 0, 100, T0)
    expect(new Set(a.changes.map((c) => c.leaseId))).toEqual(new Set([both.id, onlyA.id]))
    expect(b.changes.map((c) => c.leaseId)).toEqual([both.id])
    expect(b.version).toBe(1)
  })

  it('sends a removal to every granted gateway on revocation, and the snapshot drops the lease', async () => {
    const carol = await signIn(store, 'carol')
    const lease = await store.issueLease(leaseInput(carol, { gateways: ['rv-1', 'rv-2'] }), T0)
    const before = await store.gatewayFeedVersion('rv-1')
    await store.revokeLease(lease.id, 'user', revokeAudit('carol'), T0 + 1)
    for (const gateway of ['rv-1', 'rv-2']) {
      const { changes } = await drain(gateway, before)
      expect(changes).toEqual([
        { kind: 'remove', leaseId: lease.id, publicKey: lease.publicKey, version: before + 1 },
      ])
      expect((await readFeed(store, gateway, 0, 100, T0 + 1)).changes).toEqual([])
    }
  })

  it('sends upserts with the new expiry on update, and removals to gateways dropped from the grants', async () => {
    const dave = await signIn(store, 'dave')
    const lease = await store.issueLease(leaseInput(dave, { gateways: ['up-1', 'up-2'] }), T0)
    const audit = { ...revokeAudit('dave'), type: 'lease.renewed' as const }
    await store.updateLease(
      lease.id,
      {
        expiresAt: T0 + 9 * HOUR,
        grants: [
          { gateway: 'up-1', routes: [] },
          { gateway: 'up-3', routes: [] },
        ],
      },
      audit,
      T0 + 1,
    )
    // Each feed was at version 1: up-1 and up-2 from the issuance, up-3 from this update.
    const [up1, up2, up3] = await Promise.all(['up-1', 'up-2', 'up-3'].map((g) => drain(g, 1)))
    expect(up3!.version).toBe(1)
    expect(up1!.changes).toEqual([expect.objectContaining({ kind: 'upsert', expiresAt: T0 + 9 * HOUR })])
    expect(up2!.changes).toEqual([expect.objectContaining({ kind: 'remove', leaseId: lease.id })])
    // up-3's feed was created by this update: version 1 is the upsert, which a snapshot also shows.
    expect((await readFeed(store, 'up-3', 0, 10, T0 + 1)).changes).toEqual([
      expect.objectContaining({ kind: 'upsert', leaseId: lease.id, expiresAt: T0 + 9 * HOUR }),
    ])
  })

  it('hands out an upsert whose expiry has passed as a removal', async () => {
    const erin = await signIn(store, 'erin')
    const other = await store.issueLease(leaseInput(erin, { gateways: ['late-gw'] }), T0)
    const lease = await store.issueLease(
      leaseInput(erin, { gateways: ['late-gw'], expiresAt: T0 + HOUR }),
      T0,
    )
    // A gateway at version 1 reads version 2 (the short lease's upsert) only after that lease expired.
    const page = await readFeed(store, 'late-gw', 1, 10, T0 + 2 * HOUR)
    expect(page).toEqual({
      version: 2,
      reset: false,
      changes: [{ kind: 'remove', leaseId: lease.id, publicKey: lease.publicKey }],
    })
    const snapshot = await readFeed(store, 'late-gw', 0, 10, T0 + 2 * HOUR)
    expect(snapshot.changes.map((c) => c.leaseId)).toEqual([other.id])
  })

  it('emits removals when the sweep ends expired leases', async () => {
    const frank = await signIn(store, 'frank')
    const lease = await store.issueLease(leaseInput(frank, { gateways: ['sw-1'], expiresAt: T0 + HOUR }), T0)
    expect(await store.gatewayFeedVersion('sw-1')).toBe(1)
    // The sweep reports the feeds it moved, so the broker wakes exactly those gateways.
    const swept = await store.sweepExpired(T0 + HOUR)
    expect(swept.ended).toBeGreaterThanOrEqual(1)
    expect(swept.gateways).toContain('sw-1')
    const { changes, version } = await drain('sw-1', 1, T0 + HOUR)
    expect(version).toBe(2)
    expect(changes).toEqual([{ kind: 'remove', leaseId: lease.id, publicKey: lease.publicKey, version: 2 }])
  })

  it('numbers versions without gaps under concurrent writers, and a concurrent poller misses nothing', async () => {
    const gina = await signIn(store, 'gina')
    const gateway = 'busy-gw'
    const seed = await store.issueLease(leaseInput(gina, { gateways: [gateway] }), T0)
    const snapshot = await readFeed(store, gateway, 0, 1000, T0)
    expect(snapshot.changes.map((c) => c.leaseId)).toEqual([seed.id])

    let writing = true
    const seen: Array<{ version: number; change: PeerChange }> = []
    const poller = (async () => {
      let since = snapshot.version
      for (;;) {
        const stop = !writing
        const page = await readFeed(store, gateway, since, 16, T0)
        expect(page.reset).toBe(false)
        page.changes.forEach((change, i) => {
          seen.push({ version: since + i + 1, change })
        })
        since = page.version
        if (stop && page.changes.length === 0) return since
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
    })()
    const writers = Array.from({ length: 120 }, async (_, i) => {
      const lease = await store.issueLease(
        leaseInput(gina, { gateways: i % 3 === 0 ? [gateway, 'other-gw'] : [gateway] }),
        T0,
      )
      if (i % 4 === 0) await store.revokeLease(lease.id, 'test', revokeAudit('gina'), T0)
      return lease
    })
    const leases = await Promise.all(writers)
    writing = false
    const last = await poller

    const expectedChanges = 120 + 30
    expect(last).toBe(snapshot.version + expectedChanges)
    expect(seen.map((s) => s.version)).toEqual(
      Array.from({ length: expectedChanges }, (_, i) => snapshot.version + i + 1),
    )
    for (const [i, lease] of leases.entries()) {
      const kinds = seen.filter((s) => s.change.leaseId === lease.id).map((s) => s.change.kind)
      expect(kinds).toEqual(i % 4 === 0 ? ['upsert', 'remove'] : ['upsert'])
    }
  })

  it.runIf(process.env.KEYGATE_TEST_DB === 'postgres')(
    'never lets a reader pass a version whose transaction commits late',
    async () => {
      const hank = await signIn(store, 'hank')
      const gateway = 'slow-gw'
      await store.issueLease(leaseInput(hank, { gateways: [gateway] }), T0)
      const start = await store.gatewayFeedVersion(gateway)
      const sql = postgres(db.databaseUrl!, { max: 1, onnotice: () => {} })
      try {
        let release!: () => void
        const held = new Promise<void>((resolve) => {
          release = resolve
        })
        let bumped!: () => void
        const hasBumped = new Promise<void>((resolve) => {
          bumped = resolve
        })
        // A writer that takes version start+1 and then stalls before committing.
        const slow = sql.begin(async (tx) => {
          const [row] =
            await tx`UPDATE gateway_feeds SET version = version + 1 WHERE gateway = ${gateway} RETURNING version`
          await tx`INSERT INTO gateway_feed_entries (gateway, version, kind, lease_id, public_key, created_at)
                   VALUES (${gateway}, ${row!.version}, 'remove', gen_random_uuid(), 'slow-key', now())`
          bumped()
          await held
        })
        await hasBumped
        // A second writer starts while the first is open: it must wait for the counter, not overtake it.
        let fastDone = false
        const fast = store.issueLease(leaseInput(hank, { gateways: [gateway] }), T0).then((lease) => {
          fastDone = true
          return lease
        })
        await new Promise((resolve) => setTimeout(resolve, 200))
        expect(fastDone).toBe(false)
        // A reader polling now sees nothing new: neither the open version nor anything after it.
        expect(await readFeed(store, gateway, start, 100, T0)).toEqual({
          version: start,
          reset: false,
          changes: [],
        })
        release()
        await slow
        const lease = await fast
        const page = await readFeed(store, gateway, start, 100, T0)
        expect(page.version).toBe(start + 2)
        expect(page.changes.map((c) => c.publicKey)).toEqual(['slow-key', lease.publicKey])
      } finally {
        await sql.end()
      }
    },
  )

  it('prunes entries past the retention; a cursor older than the pruned ones gets a snapshot', async () => {
    const ivan = await signIn(store, 'ivan')
    const gateway = 'old-gw'
    const early = await store.issueLease(
      leaseInput(ivan, { gateways: [gateway], expiresAt: T0 + 100 * HOUR }),
      T0,
    )
    const late = await store.issueLease(
      leaseInput(ivan, { gateways: [gateway], expiresAt: T0 + 100 * HOUR }),
      T0 + 30 * HOUR,
    )
    await store.sweepExpired(T0 + 30 * HOUR)
    // Version 1 (30 h old) is pruned and version 2 kept: the floor is 1, so a cursor at 1 still works.
    const stale = await readFeed(store, gateway, 0, 100, T0 + 30 * HOUR)
    expect(stale.reset).toBe(true)
    expect(stale).toMatchObject({ version: 2, reset: true })
    expect(stale.changes.map((c) => c.leaseId)).toEqual([early.id, late.id])
    const fromOne = await readFeed(store, gateway, 1, 100, T0 + 30 * HOUR)
    expect(fromOne).toMatchObject({ version: 2, reset: false })
    expect(fromOne.changes.map((c) => c.leaseId)).toEqual([late.id])
    // Once version 2 is pruned as well, cursor 1 is below the floor and gets a snapshot; 2 is current.
    await store.sweepExpired(T0 + 60 * HOUR)
    expect((await readFeed(store, gateway, 1, 100, T0 + 60 * HOUR)).reset).toBe(true)
    expect(await readFeed(store, gateway, 2, 100, T0 + 60 * HOUR)).toMatchObject({
      version: 2,
      reset: false,
    })
  })
})
