// Lease issuance on a real database: unique addresses under concurrency, a clear error on a full pool,
// reuse only after a lease ended, updates, and the expiry sweep.
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isKeygateError } from '../../../src/core/errors.ts'
import { addressesAt, offsetOfAddress, planPool } from '../../../src/core/peers/address-pool.ts'
import type { Store } from '../../../src/core/ports.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-db.ts'
import { HOUR, leaseInput, POOL, publicKey, revokeAudit, signIn, T0 } from './fixtures.ts'

let db: TestDatabase
let store: Store

beforeAll(async () => {
  db = await createTestDatabase()
  store = db.store
})
afterAll(async () => {
  await db?.close()
})

async function expectExhausted(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  )
  expect(isKeygateError(error, 'ADDRESS_POOL_EXHAUSTED')).toBe(true)
}

describe('issueLease', () => {
  it('stores the lease with its auth facts and gives IPv4 and IPv6 the same offset', async () => {
    const alice = await signIn(store, 'alice')
    const lease = await store.issueLease(leaseInput(alice, { gateways: ['eu-1', 'us-1'] }), T0)
    const plan = planPool(POOL)
    const offset = offsetOfAddress(plan.ipv4, lease.addressV4)
    expect(offset).not.toBeNull()
    expect(addressesAt(plan, offset!)).toEqual({ ipv4: lease.addressV4, ipv6: lease.addressV6 })
    const stored = await store.getLease(lease.id)
    expect(stored).toEqual(lease)
    expect(stored?.auth).toEqual(leaseInput(alice).auth)
    expect(stored?.matchedGrants).toEqual(['grant-0'])
    const audit = await store.listAudit({ identityId: alice.id, type: 'lease.issued', limit: 10 })
    expect(audit).toHaveLength(1)
    expect(audit[0]).toMatchObject({ leaseId: lease.id, actor: alice.email, policyHash: 'policy-1' })
  })

  it('gives 200 concurrent issuances 200 distinct addresses and stores every lease and audit event', async () => {
    const bob = await signIn(store, 'bob')
    const leases = await Promise.all(
      Array.from({ length: 200 }, () =>
        store.issueLease(leaseInput(bob, { gateways: ['eu-1', 'us-1'] }), T0),
      ),
    )
    expect(new Set(leases.map((l) => l.addressV4)).size).toBe(200)
    expect(new Set(leases.map((l) => l.addressV6)).size).toBe(200)
    const stored = await store.listLeases({ identityId: bob.id }, T0)
    expect(stored).toHaveLength(200)
    const audit = await store.listAudit({ identityId: bob.id, type: 'lease.issued', limit: 1000 })
    expect(audit).toHaveLength(200)
    expect(new Set(audit.map((e) => e.leaseId))).toEqual(new Set(leases.map((l) => l.id)))
  })

  it('gives a pool of 4 addresses four leases, then ADDRESS_POOL_EXHAUSTED, and reuses a revoked address', async () => {
    const carol = await signIn(store, 'carol')
    const pool = { ipv4: '10.200.0.0/24', ipv6: null, size: 4 }
    const leases = await Promise.all(
      Array.from({ length: 4 }, () => store.issueLease(leaseInput(carol, { pool }), T0)),
    )
    expect(leases.map((l) => l.addressV4).sort()).toEqual([
      '10.200.0.2',
      '10.200.0.3',
      '10.200.0.4',
      '10.200.0.5',
    ])
    expect(leases.every((l) => l.addressV6 === null)).toBe(true)
    await expectExhausted(store.issueLease(leaseInput(carol, { pool }), T0))

    const freed = leases[2]!
    expect(await store.revokeLease(freed.id, 'user', revokeAudit('carol'), T0 + 1000)).not.toBeNull()
    const again = await store.issueLease(leaseInput(carol, { pool }), T0 + 2000)
    expect(again.addressV4).toBe(freed.addressV4)
    await expectExhausted(store.issueLease(leaseInput(carol, { pool }), T0 + 3000))
  })

  it('reuses the address of an expired lease only once it has expired', async () => {
    const dave = await signIn(store, 'dave')
    const pool = { ipv4: '10.201.0.0/24', ipv6: 'fd00:201::/64', size: 1 }
    const first = await store.issueLease(leaseInput(dave, { pool, expiresAt: T0 + HOUR }), T0)
    await expectExhausted(store.issueLease(leaseInput(dave, { pool }), T0 + HOUR - 1))
    const second = await store.issueLease(leaseInput(dave, { pool, expiresAt: T0 + 3 * HOUR }), T0 + HOUR)
    expect(second.addressV4).toBe(first.addressV4)
    expect(second.addressV6).toBe('fd00:201::2')
  })

  it('hands out fresh addresses before reusing freed ones', async () => {
    const erin = await signIn(store, 'erin')
    const pool = { ipv4: '10.202.0.0/24', ipv6: null, size: 3 }
    const a = await store.issueLease(leaseInput(erin, { pool }), T0)
    await store.revokeLease(a.id, 'user', revokeAudit('erin'), T0)
    const b = await store.issueLease(leaseInput(erin, { pool }), T0)
    const c = await store.issueLease(leaseInput(erin, { pool }), T0)
    expect([b.addressV4, c.addressV4]).toEqual(['10.202.0.3', '10.202.0.4'])
    const d = await store.issueLease(leaseInput(erin, { pool }), T0)
    expect(d.addressV4).toBe(a.addressV4)
  })

  it('never hands out an address an overlapping pool still holds', async () => {
    const frank = await signIn(store, 'frank')
    const small = { ipv4: '10.203.0.0/24', ipv6: null, size: 2 }
    const held = await store.issueLease(leaseInput(frank, { pool: small }), T0)
    // A wider network that contains the first (the policy changed): its first offsets are taken already.
    const wide = { ipv4: '10.203.0.0/23', ipv6: null }
    const next = await store.issueLease(leaseInput(frank, { pool: wide }), T0)
    expect(next.addressV4).not.toBe(held.addressV4)
  })
})

describe('revokeLease and updateLease', () => {
  it('revokes a live lease once, records why, and returns null for unknown or ended leases', async () => {
    const gina = await signIn(store, 'gina')
    const lease = await store.issueLease(leaseInput(gina), T0)
    const revoked = await store.revokeLease(lease.id, 'lost laptop', revokeAudit('admin@example.com'), T0 + 5)
    expect(revoked).toMatchObject({ id: lease.id, revokedAt: T0 + 5, revokedReason: 'lost laptop' })
    expect(await store.revokeLease(lease.id, 'again', revokeAudit('x'), T0 + 6)).toBeNull()
    expect(
      await store.revokeLease('00000000-0000-4000-8000-000000000000', 'x', revokeAudit('x'), T0),
    ).toBeNull()
    expect(await store.revokeLease('not-a-uuid', 'x', revokeAudit('x'), T0)).toBeNull()
    const expired = await store.issueLease(leaseInput(gina, { expiresAt: T0 + 10 }), T0)
    expect(await store.revokeLease(expired.id, 'late', revokeAudit('x'), T0 + 10)).toBeNull()
    const audit = await store.listAudit({ type: 'lease.revoked', limit: 10 })
    expect(audit.filter((e) => e.leaseId === lease.id)).toHaveLength(1)
  })

  it('moves expiry and grants of a live lease, and refuses ended ones', async () => {
    const hank = await signIn(store, 'hank')
    const lease = await store.issueLease(leaseInput(hank, { gateways: ['eu-1'] }), T0)
    const audit = { ...revokeAudit('hank'), type: 'lease.renewed' as const }
    const renewed = await store.updateLease(
      lease.id,
      {
        expiresAt: T0 + 16 * HOUR,
        grants: [{ gateway: 'us-1', routes: ['10.20.0.0/16'] }],
        policyHash: 'policy-2',
      },
      audit,
      T0 + HOUR,
    )
    expect(renewed).toMatchObject({
      expiresAt: T0 + 16 * HOUR,
      policyHash: 'policy-2',
      addressV4: lease.addressV4,
    })
    expect(renewed?.grants).toEqual([{ gateway: 'us-1', routes: ['10.20.0.0/16'] }])
    expect(renewed?.auth).toEqual(lease.auth)
    const stepped = await store.updateLease(
      lease.id,
      { auth: { ...lease.auth, stepUp: 'totp', acr: null } },
      audit,
      T0 + HOUR,
    )
    expect(stepped?.auth.stepUp).toBe('totp')
    expect(await store.updateLease(lease.id, { expiresAt: T0 }, audit, T0 + 17 * HOUR)).toBeNull()
  })

  it('keeps a renewed lease address held until the new expiry', async () => {
    const ivan = await signIn(store, 'ivan')
    const pool = { ipv4: '10.204.0.0/24', ipv6: null, size: 1 }
    const lease = await store.issueLease(leaseInput(ivan, { pool, expiresAt: T0 + HOUR }), T0)
    await store.updateLease(lease.id, { expiresAt: T0 + 2 * HOUR }, revokeAudit('ivan'), T0 + 10)
    await expectExhausted(store.issueLease(leaseInput(ivan, { pool }), T0 + HOUR + 1))
  })
})

describe('sweepExpired', () => {
  it('records each expired lease once and lists leases by state', async () => {
    const judy = await signIn(store, 'judy')
    const short = await store.issueLease(leaseInput(judy, { expiresAt: T0 + 100 * HOUR }), T0)
    const long = await store.issueLease(leaseInput(judy, { expiresAt: T0 + 200 * HOUR }), T0)
    const now = T0 + 150 * HOUR
    const swept = await store.sweepExpired(now)
    expect(swept.ended).toBeGreaterThanOrEqual(1)
    expect(swept.gateways).toContain('eu-1')
    expect(await store.sweepExpired(now)).toEqual({ ended: 0, gateways: [] })
    const events = await store.listAudit({ identityId: judy.id, type: 'lease.expired', limit: 10 })
    expect(events.map((e) => e.leaseId)).toEqual([short.id])
    const active = await store.listLeases({ identityId: judy.id, state: 'active' }, now)
    expect(active.map((l) => l.id)).toEqual([long.id])
    const endedLeases = await store.listLeases({ identityId: judy.id, state: 'ended' }, now)
    expect(endedLeases.map((l) => l.id)).toEqual([short.id])
    const onGateway = await store.listLeases({ gateway: 'eu-1', identityId: judy.id }, now)
    expect(onGateway).toHaveLength(2)
    expect(await store.listLeases({ gateway: 'nowhere', identityId: judy.id }, now)).toHaveLength(0)
  })
})

describe('one live lease per public key, and at most the limit per identity, under concurrency', () => {
  async function settle(promises: Promise<unknown>[]) {
    const results = await Promise.allSettled(promises)
    const refusals = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
    return { issued: results.filter((r) => r.status === 'fulfilled').length, refusals }
  }

  async function unended(where: string, value: string): Promise<number> {
    const rows = (await db.database.db.execute(
      sql`SELECT count(*)::int AS n FROM leases WHERE ended_at IS NULL AND ${sql.identifier(where)} = ${value}`,
    )) as unknown as { rows?: Array<{ n: number }> } & Array<{ n: number }>
    return Number((rows.rows ?? rows)[0]!.n)
  }

  it('parallel issuances of one public key give exactly one lease', async () => {
    const key = publicKey()
    const people = await Promise.all(Array.from({ length: 20 }, () => signIn(store)))
    const { issued, refusals } = await settle(
      people.map((person) => store.issueLease(leaseInput(person, { publicKey: key }), T0)),
    )
    expect(issued).toBe(1)
    expect(refusals).toHaveLength(19)
    for (const refusal of refusals) expect(isKeygateError(refusal, 'PUBLIC_KEY_IN_USE')).toBe(true)
    expect(await unended('public_key', key)).toBe(1)
  })

  it('parallel issuances by one identity stop at its limit with LEASE_LIMIT_REACHED', async () => {
    const mallory = await signIn(store)
    const { issued, refusals } = await settle(
      Array.from({ length: 40 }, () => store.issueLease(leaseInput(mallory, { maxLiveLeases: 5 }), T0)),
    )
    expect(issued).toBe(5)
    for (const refusal of refusals) expect(isKeygateError(refusal, 'LEASE_LIMIT_REACHED')).toBe(true)
    expect((await store.listLeases({ identityId: mallory.id, state: 'active' }, T0)).length).toBe(5)
    // Revoking one frees one place.
    const [first] = await store.listLeases({ identityId: mallory.id, state: 'active' }, T0)
    await store.revokeLease(first!.id, 'user', revokeAudit('mallory'), T0 + 1)
    await store.issueLease(leaseInput(mallory, { maxLiveLeases: 5 }), T0 + 2)
    await expect(store.issueLease(leaseInput(mallory, { maxLiveLeases: 5 }), T0 + 3)).rejects.toMatchObject({
      code: 'LEASE_LIMIT_REACHED',
    })
  })

  it('a key and a place held by an expired lease whose end is not yet swept are free again', async () => {
    const oscar = await signIn(store)
    const key = publicKey()
    const old = await store.issueLease(leaseInput(oscar, { publicKey: key, maxLiveLeases: 1 }), T0)
    const later = old.expiresAt + 1000
    const again = await store.issueLease(
      leaseInput(oscar, { publicKey: key, maxLiveLeases: 1, expiresAt: later + HOUR }),
      later,
    )
    expect(again.publicKey).toBe(key)
    expect((await store.getLease(old.id))?.expiresAt).toBeLessThan(later)
  })
})
