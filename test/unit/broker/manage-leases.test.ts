// Listing, revoking and renewing leases over in-memory ports: ownership (others' leases are NOT_FOUND),
// what each act stores (lease fields, audit event, feed entries) and wakes, revocation's idempotence,
// the Idempotency-Key's replay and concurrent twin, renewal's re-check with the IdP.
import { beforeEach, describe, expect, it } from 'vitest'
import {
  listOwnLeases,
  ownLeaseConfig,
  renewOwnLease,
  revokeLeaseAsAdmin,
  revokeOwnLease,
  viewLease,
} from '../../../src/core/broker/manage-leases.ts'
import { KeygateError } from '../../../src/core/errors.ts'
import type { Identity, Lease } from '../../../src/core/model.ts'
import { createFakeBrokerDeps, type FakeBrokerDeps, sessionFor } from '../../support/fake-broker-deps.ts'
import {
  createFakeIdentityProvider,
  type FakeIdentityProvider,
} from '../../support/fake-identity-provider.ts'
import { refusal } from '../../support/refusal.ts'
import { testPublicKey } from '../../support/test-public-key.ts'

const HOUR = 3_600_000

let deps: FakeBrokerDeps
let alice: Identity
let lease: Lease
let now: number

beforeEach(() => {
  deps = createFakeBrokerDeps()
  now = deps.clock.now()
  alice = deps.store.seedIdentity({
    id: 'alice',
    email: 'alice@example.com',
    emailVerified: true,
    groups: ['engineering'],
  })
  deps.store.seedGateway({ name: 'eu-1', publicKey: testPublicKey(101), addressV4: '100.96.255.1' })
  lease = deps.store.seedLease({
    id: 'l1',
    identityId: 'alice',
    publicKey: testPublicKey(1),
    name: 'laptop',
    createdAt: now - HOUR,
    expiresAt: now + HOUR,
    grants: [
      { gateway: 'eu-1', routes: ['10.10.0.0/16'] },
      { gateway: 'us-1', routes: ['10.20.0.0/16'] },
    ],
    sessionId: 'session-of-alice',
  })
})

describe('viewLease and listOwnLeases', () => {
  it('shows a lease as the API answers it', () => {
    expect(viewLease(lease, now)).toEqual({
      id: 'l1',
      name: 'laptop',
      publicKey: testPublicKey(1),
      addresses: [lease.addressV4],
      gateways: lease.grants,
      state: 'active',
      createdAt: new Date(now - HOUR).toISOString(),
      expiresAt: new Date(now + HOUR).toISOString(),
      revokedAt: null,
      revokedReason: null,
      verdict: 'mfa',
      stepUp: null,
    })
    const ended = {
      ...lease,
      addressV6: 'fd7a::5',
      revokedAt: now,
      revokedReason: 'gone',
      auth: { ...lease.auth, stepUp: 'totp' },
    }
    expect(viewLease(ended, now)).toMatchObject({
      addresses: [lease.addressV4, 'fd7a::5'],
      state: 'revoked',
      revokedAt: new Date(now).toISOString(),
      revokedReason: 'gone',
      stepUp: 'totp',
    })
    expect(viewLease(lease, now + HOUR).state).toBe('expired')
  })

  it('lists the session’s own leases only, ended ones too', async () => {
    deps.store.seedLease({ id: 'l-old', identityId: 'alice', expiresAt: now - 1, createdAt: now - 2 * HOUR })
    deps.store.seedLease({ id: 'l-bob', identityId: 'bob' })
    const listed = await listOwnLeases(deps, sessionFor(deps, alice))
    expect(listed.map((l) => l.id)).toEqual(['l1', 'l-old'])
  })
})

describe('revokeOwnLease', () => {
  it('revokes: the lease ended with its reason, a lease.revoked event, removals on each gateway, a wake-up', async () => {
    const outcome = await revokeOwnLease(deps, sessionFor(deps, alice), 'l1')
    expect(outcome.alreadyEnded).toBe(false)
    expect(outcome.lease).toMatchObject({ id: 'l1', revokedAt: now, revokedReason: 'revoked by its owner' })
    expect(deps.store.audit).toEqual([
      {
        id: expect.any(String),
        at: now,
        type: 'lease.revoked',
        identityId: 'alice',
        leaseId: 'l1',
        gatewayId: null,
        actor: 'alice@example.com',
        policyHash: deps.policy().hash,
        data: { reason: 'revoked by its owner', gateways: ['eu-1', 'us-1'] },
      },
    ])
    const removal = { kind: 'remove', leaseId: 'l1', publicKey: testPublicKey(1) }
    expect(deps.store.feeds.get('eu-1')).toEqual([{ version: 1, change: removal }])
    expect(deps.store.feeds.get('us-1')).toEqual([{ version: 1, change: removal }])
    expect(deps.notifier.published).toEqual([['eu-1', 'us-1']])
    expect(deps.logs).toEqual([
      { level: 'info', event: 'lease.revoked', fields: { leaseId: 'l1', reason: 'revoked by its owner' } },
    ])
    // The owner's revocation leaves the session alone (only an admin's ends it).
    expect(deps.store.idempotencyKeys.size).toBe(0)
  })

  it('someone else’s lease, or none: NOT_FOUND, and nothing happens', async () => {
    const bob = deps.store.seedIdentity({ id: 'bob' })
    for (const [who, id] of [
      [bob, 'l1'],
      [alice, 'nope'],
    ] as const) {
      const error = await refusal(revokeOwnLease(deps, sessionFor(deps, who), id))
      expect(error.code).toBe('NOT_FOUND')
      expect(error.message).toBe(`No lease "${id}" of yours exists`)
    }
    expect(deps.store.audit).toEqual([])
    expect(deps.store.leases.get('l1')?.revokedAt).toBeNull()
  })

  it('a lease already ended is the answer as it is, with alreadyEnded, and nothing is written', async () => {
    deps.clock.set(now + HOUR)
    const revoke = deps.store.revokeLease
    deps.store.revokeLease = async () => {
      throw new Error('an ended lease is not sent to the store')
    }
    const expired = await revokeOwnLease(deps, sessionFor(deps, alice), 'l1')
    expect(expired).toEqual({ lease: { ...lease }, alreadyEnded: true })
    deps.clock.set(now)
    deps.store.revokeLease = revoke
    await revokeOwnLease(deps, sessionFor(deps, alice), 'l1')
    const again = await revokeOwnLease(deps, sessionFor(deps, alice), 'l1')
    expect(again.alreadyEnded).toBe(true)
    expect(again.lease.revokedReason).toBe('revoked by its owner')
    expect(deps.store.audit).toHaveLength(1)
    expect(deps.notifier.published).toHaveLength(1)
  })

  it('a lease that ended between the read and the write: alreadyEnded, as stored now', async () => {
    const revoke = deps.store.revokeLease
    deps.store.revokeLease = async (id, _reason, audit, at) => {
      deps.store.revokeLease = revoke
      await revoke(id, 'swept meanwhile', audit, at)
      return null
    }
    const outcome = await revokeOwnLease(deps, sessionFor(deps, alice), 'l1')
    expect(outcome.alreadyEnded).toBe(true)
    expect(outcome.lease.revokedReason).toBe('swept meanwhile')
    expect(deps.logs).toEqual([])
  })

  it('with an Idempotency-Key: the key stored with the revocation; a retry answers as the first did', async () => {
    const session = sessionFor(deps, alice)
    const first = await revokeOwnLease(deps, session, 'l1', 'rk')
    expect([...deps.store.idempotencyKeys.values()]).toEqual([
      {
        owner: 'alice',
        key: 'rk',
        fingerprint: '{"operation":"revoke","leaseId":"l1"}',
        expiresAt: now + 24 * HOUR,
        maxPerOwner: 100,
        leaseId: 'l1',
      },
    ])
    const retry = await revokeOwnLease(deps, session, 'l1', 'rk')
    expect(retry).toEqual({ lease: first.lease, alreadyEnded: false })
    expect(deps.store.audit).toHaveLength(1)

    deps.store.seedLease({ id: 'l2', identityId: 'alice' })
    const reused = await refusal(revokeOwnLease(deps, session, 'l2', 'rk'))
    expect(reused.code).toBe('IDEMPOTENCY_KEY_REUSED')
    expect(deps.store.leases.get('l2')?.revokedAt).toBeNull()
  })

  it('a twin under the same key that revoked first: its revocation is the answer, whichever way it shows', async () => {
    const session = sessionFor(deps, alice)
    const revoke = deps.store.revokeLease
    // The twin commits, then our statement is refused on its key row.
    deps.store.revokeLease = async (...args) => {
      deps.store.revokeLease = revoke
      await revoke(...args)
      throw new KeygateError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used concurrently')
    }
    const refused = await revokeOwnLease(deps, session, 'l1', 'rk')
    expect(refused).toMatchObject({
      alreadyEnded: false,
      lease: { id: 'l1', revokedReason: 'revoked by its owner' },
    })

    // The twin commits and our statement finds nothing left to revoke.
    const l2 = deps.store.seedLease({ id: 'l2', identityId: 'alice' })
    deps.store.revokeLease = async (...args) => {
      deps.store.revokeLease = revoke
      await revoke(...args)
      return null
    }
    const nothingLeft = await revokeOwnLease(deps, session, 'l2', 'rk2')
    expect(nothingLeft).toMatchObject({ alreadyEnded: false, lease: { id: 'l2', revokedAt: now } })

    // The twin commits between our key check and our read: the lease is ended when we see it.
    deps.store.seedLease({ id: 'l3', identityId: 'alice' })
    const find = deps.store.findIdempotencyKey
    deps.store.findIdempotencyKey = async (..._args) => {
      deps.store.findIdempotencyKey = find
      await revoke('l3', 'revoked by its owner', { ...deps.store.audit[0]! }, now, {
        owner: 'alice',
        key: 'rk3',
        fingerprint: '{"operation":"revoke","leaseId":"l3"}',
        expiresAt: now + HOUR,
        maxPerOwner: 100,
      })
      return null
    }
    const ended = await revokeOwnLease(deps, session, 'l3', 'rk3')
    expect(ended).toMatchObject({ alreadyEnded: false, lease: { id: 'l3', revokedAt: now } })
    expect(l2.revokedAt).toBeNull()
  })

  it('a store failure without a key is not mistaken for a twin', async () => {
    const failure = new KeygateError('DATABASE_UNAVAILABLE', 'down')
    deps.store.failNext.revokeLease = failure
    await expect(revokeOwnLease(deps, sessionFor(deps, alice), 'l1')).rejects.toBe(failure)
  })
})

describe('revokeLeaseAsAdmin', () => {
  it('revokes anyone’s lease and ends the session that minted it, with both events', async () => {
    const outcome = await revokeLeaseAsAdmin(deps, 'root@example.com', 'l1')
    expect(outcome).toMatchObject({
      alreadyEnded: false,
      lease: { revokedReason: 'revoked by an administrator' },
    })
    expect(deps.store.audit.map(({ id: _id, ...e }) => e)).toEqual([
      {
        at: now,
        type: 'lease.revoked',
        identityId: 'alice',
        leaseId: 'l1',
        gatewayId: null,
        actor: 'root@example.com',
        policyHash: deps.policy().hash,
        data: { reason: 'revoked by an administrator', gateways: ['eu-1', 'us-1'] },
      },
      {
        at: now,
        type: 'session.ended',
        identityId: 'alice',
        leaseId: 'l1',
        gatewayId: null,
        actor: 'root@example.com',
        policyHash: null,
        data: { reason: 'an administrator revoked a lease this session made' },
      },
    ])
  })

  it('ends the session in the store', async () => {
    deps.store.sessions.set('session-of-alice', {
      id: 'session-of-alice',
      identityId: 'alice',
      expiresAt: now + HOUR,
      endedAt: null,
      idpSid: null,
      refreshTokenCiphertext: null,
      claims: sessionFor(deps, alice),
    })
    await revokeLeaseAsAdmin(deps, 'root@example.com', 'l1')
    expect(deps.store.sessions.get('session-of-alice')?.endedAt).toBe(now)
  })

  it('a lease without a session, or already ended: no session.ended', async () => {
    deps.store.seedLease({ id: 'l-nosession', identityId: 'alice', sessionId: null })
    await revokeLeaseAsAdmin(deps, 'root@example.com', 'l-nosession')
    deps.clock.set(now + HOUR)
    const ended = await revokeLeaseAsAdmin(deps, 'root@example.com', 'l1')
    expect(ended.alreadyEnded).toBe(true)
    expect(deps.store.audit.map((e) => e.type)).toEqual(['lease.revoked'])
  })

  it('an unknown lease is NOT_FOUND', async () => {
    const error = await refusal(revokeLeaseAsAdmin(deps, 'root@example.com', 'nope'))
    expect(error.code).toBe('NOT_FOUND')
    expect(error.message).toBe('No lease "nope" exists')
  })

  it('a retry under the admin’s key answers with the lease, without ending anything again', async () => {
    const key = { owner: 'local-cli', key: 'admin-1' }
    await revokeLeaseAsAdmin(deps, 'local-cli', 'l1', key)
    expect(deps.store.idempotencyKeys.get('local-cli admin-1')?.leaseId).toBe('l1')
    const retry = await revokeLeaseAsAdmin(deps, 'local-cli', 'l1', key)
    expect(retry).toMatchObject({ alreadyEnded: false, lease: { id: 'l1' } })
    expect(deps.store.audit.map((e) => e.type)).toEqual(['lease.revoked', 'session.ended'])
  })
})

describe('renewOwnLease', () => {
  it('moves the expiry to what the policy gives now, with the session’s sign-in, and wakes every gateway once', async () => {
    deps.clock.advance(HOUR / 2)
    const at = deps.clock.now()
    const session = sessionFor(deps, alice, { auth: { stepUp: 'totp' } })
    const renewed = await renewOwnLease(deps, session, 'l1')
    expect(renewed).toEqual({
      ...lease,
      expiresAt: at + 8 * HOUR,
      grants: [{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }],
      matchedGrants: ['grants[0]'],
      auth: session.auth,
      policyHash: deps.policy().hash,
    })
    expect(deps.store.audit).toEqual([
      {
        id: expect.any(String),
        at,
        type: 'lease.renewed',
        identityId: 'alice',
        leaseId: 'l1',
        gatewayId: null,
        actor: 'alice@example.com',
        policyHash: deps.policy().hash,
        data: {
          previousExpiresAt: now + HOUR,
          expiresAt: at + 8 * HOUR,
          verdict: 'mfa',
          amr: ['pwd', 'otp'],
          acr: null,
          acrs: [],
          authTime: session.auth.authTime,
          stepUp: 'totp',
        },
      },
    ])
    expect(deps.store.feeds.get('us-1')?.map((e) => e.change.kind)).toEqual(['remove'])
    expect(deps.store.feeds.get('eu-1')?.map((e) => e.change.kind)).toEqual(['upsert'])
    expect(deps.notifier.published).toEqual([['eu-1', 'us-1']])
  })

  it('never shortens: a lease already running longer keeps its expiry, and the event says that value', async () => {
    deps.store.leases.get('l1')!.expiresAt = now + 10 * HOUR
    const renewed = await renewOwnLease(deps, sessionFor(deps, alice), 'l1')
    expect(renewed.expiresAt).toBe(now + 10 * HOUR)
    expect(deps.store.audit[0]?.data).toMatchObject({
      previousExpiresAt: now + 10 * HOUR,
      expiresAt: now + 10 * HOUR,
    })
  })

  it('a lease of someone else is NOT_FOUND; an ended one is LEASE_NOT_ACTIVE', async () => {
    const bob = deps.store.seedIdentity({ id: 'bob' })
    expect((await refusal(renewOwnLease(deps, sessionFor(deps, bob), 'l1'))).code).toBe('NOT_FOUND')
    deps.clock.set(now + HOUR)
    const ended = await refusal(renewOwnLease(deps, sessionFor(deps, alice), 'l1'))
    expect(ended.code).toBe('LEASE_NOT_ACTIVE')
    expect(ended.message).toBe('Lease "l1" has ended; request a new one')
    expect(deps.store.audit).toEqual([])
  })

  it('a sign-in the policy no longer accepts is the denial, and nothing changes', async () => {
    const session = sessionFor(deps, alice, { auth: { verdict: 'single', amr: ['pwd'] } })
    const error = await refusal(renewOwnLease(deps, session, 'l1'))
    expect(error.code).toBe('STEP_UP_REQUIRED')
    expect(deps.store.leases.get('l1')?.expiresAt).toBe(now + HOUR)
    expect(deps.notifier.published).toEqual([])
  })

  it('a lease that ended between the read and the write is LEASE_NOT_ACTIVE', async () => {
    deps.store.updateLease = async () => null
    const error = await refusal(renewOwnLease(deps, sessionFor(deps, alice), 'l1'))
    expect(error.code).toBe('LEASE_NOT_ACTIVE')
    expect(error.message).toBe('Lease "l1" has ended; request a new one')
  })

  it('with an Idempotency-Key: renewed once; a retry answers with the lease as it is', async () => {
    const session = sessionFor(deps, alice)
    const first = await renewOwnLease(deps, session, 'l1', 'nk')
    expect(deps.store.idempotencyKeys.get('alice nk')).toMatchObject({
      fingerprint: '{"operation":"renew","leaseId":"l1"}',
      leaseId: 'l1',
    })
    deps.clock.advance(HOUR)
    const retry = await renewOwnLease(deps, session, 'l1', 'nk')
    expect(retry).toEqual(first)
    expect(deps.store.audit).toHaveLength(1)
  })

  it('a retry after the lease ended, or the policy changed, still answers with the first renewal', async () => {
    const session = sessionFor(deps, alice)
    const first = await renewOwnLease(deps, session, 'l1', 'nk')
    deps.clock.set(first.expiresAt + 1)
    expect(await renewOwnLease(deps, session, 'l1', 'nk')).toEqual(first)
    deps.clock.set(now)
    const refused = sessionFor(deps, alice, { auth: { verdict: 'single', amr: ['pwd'] } })
    expect(await renewOwnLease(deps, refused, 'l1', 'nk')).toEqual(first)
  })

  it('an ended lease is LEASE_NOT_ACTIVE before the sign-in is judged or the IdP asked', async () => {
    const idp = createFakeIdentityProvider('test')
    deps.idps.set('test', idp)
    deps.store.sessions.set('session-of-alice', {
      id: 'session-of-alice',
      identityId: 'alice',
      expiresAt: now + 2 * HOUR,
      endedAt: null,
      idpSid: null,
      refreshTokenCiphertext: 'sealed:rt-1',
      claims: sessionFor(deps, alice),
    })
    deps.clock.set(now + HOUR)
    const session = sessionFor(deps, alice, { auth: { verdict: 'single', amr: ['pwd'] } })
    expect((await refusal(renewOwnLease(deps, session, 'l1'))).code).toBe('LEASE_NOT_ACTIVE')
    expect(idp.calls.refresh).toEqual([])
  })

  it('a twin renewal under the same key that committed first is the answer; without a key the error stands', async () => {
    const session = sessionFor(deps, alice)
    const update = deps.store.updateLease
    deps.store.updateLease = async (...args) => {
      deps.store.updateLease = update
      await update(...args)
      throw new KeygateError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used concurrently')
    }
    const answer = await renewOwnLease(deps, session, 'l1', 'nk')
    expect(answer.expiresAt).toBe(now + 8 * HOUR)

    const failure = new KeygateError('DATABASE_UNAVAILABLE', 'down')
    deps.store.failNext.updateLease = failure
    await expect(renewOwnLease(deps, session, 'l1')).rejects.toBe(failure)
  })

  it('ownLeaseConfig: the owner’s config again; NOT_FOUND for anyone else', async () => {
    const config = await ownLeaseConfig(deps, sessionFor(deps, alice), 'l1')
    expect(config.lease.id).toBe('l1')
    expect(config.config).toContain(`PublicKey = ${testPublicKey(101)}`)
    const bob = deps.store.seedIdentity({ id: 'bob' })
    expect((await refusal(ownLeaseConfig(deps, sessionFor(deps, bob), 'l1'))).code).toBe('NOT_FOUND')
  })
})

describe('renewal re-checks the sign-in with the IdP when it left a refresh token', () => {
  let idp: FakeIdentityProvider

  beforeEach(() => {
    idp = createFakeIdentityProvider('test')
    deps.idps.set('test', idp)
    deps.store.sessions.set('session-of-alice', {
      id: 'session-of-alice',
      identityId: 'alice',
      expiresAt: now + HOUR,
      endedAt: null,
      idpSid: null,
      refreshTokenCiphertext: 'sealed:rt-1',
      claims: sessionFor(deps, alice),
    })
  })

  it('the IdP still agrees: renewed; a rotated refresh token is sealed and kept', async () => {
    idp.refreshAnswer = { ok: true, refreshToken: 'rt-2' }
    await renewOwnLease(deps, sessionFor(deps, alice), 'l1')
    expect(idp.calls.refresh).toEqual(['rt-1'])
    expect(deps.store.sessions.get('session-of-alice')?.refreshTokenCiphertext).toBe('sealed:rt-2')
  })

  it('the same or no refresh token back leaves the stored one alone', async () => {
    for (const refreshToken of ['rt-1', null]) {
      idp.refreshAnswer = { ok: true, refreshToken }
      deps.store.setSessionRefreshToken = async () => {
        throw new Error('must not be written')
      }
      await renewOwnLease(deps, sessionFor(deps, alice), 'l1')
    }
    expect(idp.calls.refresh).toEqual(['rt-1', 'rt-1'])
  })

  it('the IdP refuses: the lease is revoked, the session ended, both audited, and UNAUTHENTICATED', async () => {
    idp.refreshAnswer = { ok: false, reason: 'invalid_grant' }
    const error = await refusal(renewOwnLease(deps, sessionFor(deps, alice), 'l1'))
    const reason = 'the identity provider refused to refresh the sign-in (invalid_grant)'
    expect(error.code).toBe('UNAUTHENTICATED')
    expect(error.message).toBe('The identity provider no longer accepts this sign-in; sign in again')
    expect(error.reasons).toEqual([{ code: 'IDP_REFRESH_REFUSED', message: reason }])
    expect(deps.store.leases.get('l1')).toMatchObject({ revokedAt: now, revokedReason: reason })
    expect(deps.store.sessions.get('session-of-alice')?.endedAt).toBe(now)
    expect(deps.store.audit.map(({ id: _id, at: _at, ...e }) => e)).toEqual([
      {
        type: 'lease.revoked',
        identityId: 'alice',
        leaseId: 'l1',
        gatewayId: null,
        actor: 'idp',
        policyHash: deps.policy().hash,
        data: { reason, gateways: ['eu-1', 'us-1'] },
      },
      {
        type: 'session.ended',
        identityId: 'alice',
        leaseId: 'l1',
        gatewayId: null,
        actor: 'idp',
        policyHash: null,
        data: { reason },
      },
    ])
    expect(deps.notifier.published).toEqual([['eu-1', 'us-1']])
  })

  it('an IdP that cannot be reached refuses the renewal and leaves the lease to run out', async () => {
    idp.refreshAnswer = new KeygateError('IDP_UNAVAILABLE', 'unreachable')
    expect((await refusal(renewOwnLease(deps, sessionFor(deps, alice), 'l1'))).code).toBe('IDP_UNAVAILABLE')
    expect(deps.store.leases.get('l1')?.revokedAt).toBeNull()
    expect(deps.store.leases.get('l1')?.expiresAt).toBe(now + HOUR)
  })

  it('no refresh token, or an IdP no longer configured: no call', async () => {
    deps.store.sessions.get('session-of-alice')!.refreshTokenCiphertext = null
    await renewOwnLease(deps, sessionFor(deps, alice), 'l1')
    deps.store.sessions.get('session-of-alice')!.refreshTokenCiphertext = 'sealed:rt-1'
    deps.idps.delete('test')
    await renewOwnLease(deps, sessionFor(deps, alice), 'l1')
    const other = sessionFor(deps, alice, { sessionId: 'no-such-session' })
    deps.idps.set('test', idp)
    await renewOwnLease(deps, other, 'l1')
    expect(idp.calls.refresh).toEqual([])
  })
})
