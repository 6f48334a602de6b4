// Gateway enrollment on a real database: single-use, unexpired tokens, hashed credentials, an overlay
// address from the users' pool, the status agents report, and the feed entries enrollment appends for the
// leases already granted the gateway.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isKeygateError } from '../../../src/core/errors.ts'
import type { AddressPool, Store } from '../../../src/core/ports.ts'
import { gatewayByCredential, readFeed } from '../../support/store-reads.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-db.ts'
import { HOUR, leaseInput, publicKey, revokeAudit, signIn, T0 } from './fixtures.ts'

let db: TestDatabase
let store: Store

beforeAll(async () => {
  db = await createTestDatabase()
  store = db.store
})
afterAll(async () => {
  await db?.close()
})

async function codeOf(promise: Promise<unknown>): Promise<string | null> {
  return promise.then(
    () => null,
    (error: unknown) => (isKeygateError(error) ? error.code : String(error)),
  )
}

const pool: AddressPool = { ipv4: '10.50.0.0/24', ipv6: 'fd50::/64' }

describe('gateway enrollment', () => {
  it('lists a gateway once added, before it enrols', async () => {
    await store.createEnrollment({ gatewayName: 'eu-1', tokenHash: 'hash-eu-1', expiresAt: T0 + HOUR }, T0)
    expect(await store.getGateway('eu-1')).toMatchObject({ name: 'eu-1', publicKey: null, enrolledAt: null })
    expect((await store.listGateways()).map((g) => g.name)).toContain('eu-1')
    expect(await store.getGateway('nope')).toBeNull()
  })

  it('consumes a token exactly once, even when two agents race with it', async () => {
    const key = publicKey()
    const attempts = await Promise.allSettled([
      store.enrollGateway({ tokenHash: 'hash-eu-1', publicKey: key, credentialHash: 'cred-a', pool }, T0 + 1),
      store.enrollGateway({ tokenHash: 'hash-eu-1', publicKey: key, credentialHash: 'cred-b', pool }, T0 + 1),
    ])
    const won = attempts.filter((a) => a.status === 'fulfilled')
    const lost = attempts.filter((a) => a.status === 'rejected')
    expect(won).toHaveLength(1)
    expect(lost).toHaveLength(1)
    expect(isKeygateError((lost[0] as PromiseRejectedResult).reason, 'ENROLLMENT_TOKEN_INVALID')).toBe(true)
    const gateway = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<Store['enrollGateway']>>>).value
    expect(gateway).toMatchObject({
      name: 'eu-1',
      publicKey: key,
      addressV4: '10.50.0.2',
      addressV6: 'fd50::2',
    })
    expect(gateway.enrolledAt).toBe(T0 + 1)
    const credential = gateway.id === (await gatewayByCredential(store, 'cred-a'))?.id ? 'cred-a' : 'cred-b'
    expect(await gatewayByCredential(store, credential)).toEqual(gateway)
    expect(await gatewayByCredential(store, 'cred-unknown')).toBeNull()
    // Many lookups in one statement answer in the hashes' order, misses as null.
    expect(await store.findGatewaysByCredentials(['cred-unknown', credential, 'cred-x', credential])).toEqual(
      [null, gateway, null, gateway],
    )
    // Hashes travel as an array literal: text that would need quoting there is looked up as itself.
    expect(await store.findGatewaysByCredentials(['a"b\\c,{d}', 'NULL', credential])).toEqual([
      null,
      null,
      gateway,
    ])
    const audit = await store.listAudit({ type: 'gateway.enrolled', limit: 10 })
    expect(audit).toHaveLength(1)
    expect(audit[0]?.gatewayId).toBe(gateway.name)
  })

  it('refuses an expired token and an unknown one', async () => {
    await store.createEnrollment({ gatewayName: 'us-1', tokenHash: 'hash-us-1', expiresAt: T0 + HOUR }, T0)
    const input = { tokenHash: 'hash-us-1', publicKey: publicKey(), credentialHash: 'cred-us', pool }
    expect(await codeOf(store.enrollGateway(input, T0 + HOUR))).toBe('ENROLLMENT_TOKEN_INVALID')
    expect(await codeOf(store.enrollGateway({ ...input, tokenHash: 'nope' }, T0))).toBe(
      'ENROLLMENT_TOKEN_INVALID',
    )
    expect(await store.getGateway('us-1')).toMatchObject({ enrolledAt: null, addressV4: null })
  })

  it('keeps the address when a gateway enrols again, and users never get a gateway address', async () => {
    await store.createEnrollment(
      { gatewayName: 'eu-1', tokenHash: 'hash-eu-1-again', expiresAt: T0 + HOUR },
      T0,
    )
    const key = publicKey()
    const again = await store.enrollGateway(
      { tokenHash: 'hash-eu-1-again', publicKey: key, credentialHash: 'cred-c', pool },
      T0 + 2,
    )
    expect(again).toMatchObject({ addressV4: '10.50.0.2', publicKey: key })
    expect(await gatewayByCredential(store, 'cred-c')).toMatchObject({ name: 'eu-1' })
    const user = await signIn(store, 'uma')
    const lease = await store.issueLease(leaseInput(user, { pool }), T0)
    expect(lease.addressV4).toBe('10.50.0.3')
  })

  it('leaves the token unused when the pool has no address for the gateway', async () => {
    const full: AddressPool = { ipv4: '10.51.0.0/24', ipv6: null, size: 1 }
    const user = await signIn(store, 'ulf')
    await store.issueLease(leaseInput(user, { pool: full }), T0)
    await store.createEnrollment({ gatewayName: 'ap-1', tokenHash: 'hash-ap-1', expiresAt: T0 + HOUR }, T0)
    const input = { tokenHash: 'hash-ap-1', publicKey: publicKey(), credentialHash: 'cred-ap', pool: full }
    expect(await codeOf(store.enrollGateway(input, T0))).toBe('ADDRESS_POOL_EXHAUSTED')
    expect(await codeOf(store.enrollGateway({ ...input, pool }, T0))).toBeNull()
  })

  it('moves the feed of a gateway that enrols after leases were granted it: one upsert per live lease', async () => {
    const user = await signIn(store, 'uli')
    const live = await store.issueLease(leaseInput(user, { gateways: ['sa-1', 'eu-1'] }), T0)
    const revoked = await store.issueLease(leaseInput(user, { gateways: ['sa-1'] }), T0)
    await store.revokeLease(revoked.id, 'test', revokeAudit('uli@example.com'), T0 + 1)
    const before = await store.gatewayFeedVersion('sa-1')
    expect(before).toBe(3)
    await store.createEnrollment({ gatewayName: 'sa-1', tokenHash: 'hash-sa-1', expiresAt: T0 + HOUR }, T0)
    const input = { tokenHash: 'hash-sa-1', publicKey: publicKey(), credentialHash: 'cred-sa', pool }
    await store.enrollGateway(input, T0 + 2)
    // A real entry, not a bare bump: a reader at the old cursor gets the live lease again, and only it.
    expect(await store.gatewayFeedVersion('sa-1')).toBe(before + 1)
    const delta = await readFeed(store, 'sa-1', before, 100, T0 + 3)
    expect(delta.reset).toBe(false)
    expect(delta.version).toBe(before + 1)
    expect(delta.changes).toEqual([
      expect.objectContaining({ kind: 'upsert', leaseId: live.id, routes: ['10.10.0.0/16'] }),
    ])
    // A gateway with no live lease granted it starts its feed at 1, as before.
    await store.createEnrollment({ gatewayName: 'sa-2', tokenHash: 'hash-sa-2', expiresAt: T0 + HOUR }, T0)
    await store.enrollGateway({ ...input, tokenHash: 'hash-sa-2', credentialHash: 'cred-sa-2' }, T0 + 2)
    expect(await store.gatewayFeedVersion('sa-2')).toBe(1)
  })

  it('records the status an agent reports', async () => {
    await store.recordGatewayStatus(
      'eu-1',
      { appliedVersion: 7, peerCount: 3, latestHandshakes: { k: T0 } },
      T0 + 9,
    )
    expect(await store.getGateway('eu-1')).toMatchObject({
      lastSeenAt: T0 + 9,
      appliedVersion: 7,
      peerCount: 3,
    })
    expect(await codeOf(store.recordGatewayStatus('ghost', { appliedVersion: 1, peerCount: 0 }, T0))).toBe(
      'GATEWAY_UNKNOWN',
    )
  })
})
