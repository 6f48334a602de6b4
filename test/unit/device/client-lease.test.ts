// What a client credential can do (client-lease.ts) over in-memory ports: which credentials it accepts for
// which lease, the view of the lease and its renewal advice, the watch, renewal with the lease's own
// sign-in, and `keygate logout`.
import { beforeEach, describe, expect, it } from 'vitest'
import { hashSecret } from '../../../src/core/broker/gateway-feed.ts'
import {
  authenticateClient,
  endClientLease,
  MAX_WATCH_SECONDS,
  renewClientLease,
  viewClientLease,
  watchClientLease,
} from '../../../src/core/device/client-lease.ts'
import type { DeviceDeps } from '../../../src/core/device/device-sign-in.ts'
import type { Identity, Lease } from '../../../src/core/model.ts'
import { createFakeBrokerDeps, type FakeBrokerDeps } from '../../support/fake-broker-deps.ts'
import { createMemoryDeviceStore, type MemoryDeviceStore } from '../../support/memory-device-store.ts'
import { refusal } from '../../support/refusal.ts'
import { testPublicKey } from '../../support/test-public-key.ts'

const HOUR = 3_600_000
const CREDENTIAL = 'kgd_client-credential'

let deps: FakeBrokerDeps & DeviceDeps & { devices: MemoryDeviceStore }
let alice: Identity
let lease: Lease
let now: number

beforeEach(async () => {
  const base = createFakeBrokerDeps()
  deps = Object.assign(base, { devices: createMemoryDeviceStore(base.store) })
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
    grants: [{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }],
    createdAt: now - HOUR,
    expiresAt: now + HOUR,
    auth: {
      verdict: 'mfa',
      amr: ['pwd', 'otp'],
      acr: null,
      acrs: [],
      authTime: now / 1000 - 3600,
      stepUp: null,
    },
  })
  await deps.devices.createClientCredential(
    { tokenHash: hashSecret(CREDENTIAL), leaseId: 'l1', identityId: 'alice' },
    now,
  )
})

describe('authenticateClient', () => {
  it('stands the client in for the lease’s owner, with the lease’s own sign-in facts', async () => {
    const client = await authenticateClient(deps, CREDENTIAL, 'l1')
    expect(client).toEqual({
      lease,
      session: {
        sessionId: 'client:l1',
        identityId: 'alice',
        idpId: alice.idpId,
        issuer: alice.issuer,
        subject: alice.subject,
        email: 'alice@example.com',
        groups: ['engineering'],
        auth: lease.auth,
        expiresAt: lease.expiresAt,
      },
    })
  })

  it('an owner whose email is not verified has none', async () => {
    deps.store.identities.get('alice')!.emailVerified = false
    expect((await authenticateClient(deps, CREDENTIAL, 'l1')).session.email).toBeNull()
  })

  it('refuses an unknown or revoked credential, and names another lease as not yours', async () => {
    const codeAndMessage = async (credential: string, leaseId: string) => {
      const error = await refusal(authenticateClient(deps, credential, leaseId))
      return [error.code, error.message]
    }
    expect(await codeAndMessage('kgd_other', 'l1')).toEqual([
      'CLIENT_CREDENTIAL_INVALID',
      'Unknown client credential',
    ])
    expect(await codeAndMessage(CREDENTIAL, 'l2')).toEqual(['NOT_FOUND', 'No lease "l2" of yours exists'])
    // Even when that other lease exists: a credential opens its own lease only.
    deps.store.seedLease({ id: 'l3', identityId: 'alice', expiresAt: now + HOUR })
    expect(await codeAndMessage(CREDENTIAL, 'l3')).toEqual(['NOT_FOUND', 'No lease "l3" of yours exists'])
    await deps.devices.revokeClientCredentials('l1', now)
    expect(await codeAndMessage(CREDENTIAL, 'l1')).toEqual([
      'CLIENT_CREDENTIAL_INVALID',
      'This client credential has been revoked',
    ])
  })

  it('a lease gone is NOT_FOUND; an owner gone is an invalid credential', async () => {
    deps.store.identities.delete('alice')
    const ownerless = await refusal(authenticateClient(deps, CREDENTIAL, 'l1'))
    expect([ownerless.code, ownerless.message]).toEqual([
      'CLIENT_CREDENTIAL_INVALID',
      'The lease has no owner any more',
    ])
    deps.store.leases.delete('l1')
    const gone = await refusal(authenticateClient(deps, CREDENTIAL, 'l1'))
    expect([gone.code, gone.message]).toEqual(['NOT_FOUND', 'No lease "l1" of yours exists'])
  })

  it('an ended lease is refused, saying why, unless reading an ended lease is allowed', async () => {
    deps.clock.set(lease.expiresAt)
    const expired = await refusal(authenticateClient(deps, CREDENTIAL, 'l1'))
    expect([expired.code, expired.message]).toEqual([
      'CLIENT_CREDENTIAL_INVALID',
      'The lease has ended (expired); sign in again',
    ])
    expect((await authenticateClient(deps, CREDENTIAL, 'l1', { allowEnded: true })).lease.id).toBe('l1')
    Object.assign(deps.store.leases.get('l1')!, { revokedAt: now, revokedReason: 'revoked by an admin' })
    deps.clock.set(now)
    expect((await refusal(authenticateClient(deps, CREDENTIAL, 'l1'))).message).toBe(
      'The lease has ended (revoked by an admin); sign in again',
    )
  })
})

describe('viewClientLease', () => {
  it('shows the lease, its tunnel and until when its sign-in may renew it', async () => {
    const view = await viewClientLease(deps, await authenticateClient(deps, CREDENTIAL, 'l1'))
    expect(view).toEqual({
      state: expect.stringMatching(/^[0-9a-f]{32}$/),
      lease: {
        id: 'l1',
        name: 'laptop',
        publicKey: testPublicKey(1),
        state: 'active',
        expiresAt: new Date(now + HOUR).toISOString(),
        revokedReason: null,
        gateways: [{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }],
      },
      tunnel: {
        addresses: [`${lease.addressV4}/32`],
        dns: ['10.10.0.53'],
        peers: [
          {
            gateway: 'eu-1',
            publicKey: testPublicKey(101),
            endpoint: 'eu-1.vpn.example:51820',
            allowedIps: ['10.10.0.0/16', '100.96.255.1/32'],
          },
        ],
        pending: [],
      },
      // The policy's mfa level allows a 12-hour-old sign-in: the lease's is an hour old.
      renewal: { signInValidUntil: new Date(now + 11 * HOUR).toISOString(), needsSignIn: false },
    })
  })

  it('needs a sign-in when the lease outlives its sign-in, or the sign-in no longer meets the policy', async () => {
    const view = async () =>
      (await viewClientLease(deps, await authenticateClient(deps, CREDENTIAL, 'l1'))).renewal
    deps.store.leases.get('l1')!.expiresAt = now + 11 * HOUR
    expect(await view()).toEqual({
      signInValidUntil: new Date(now + 11 * HOUR).toISOString(),
      needsSignIn: true,
    })
    deps.store.leases.get('l1')!.expiresAt = now + 11 * HOUR - 1
    expect((await view()).needsSignIn).toBe(false)
    deps.store.leases.get('l1')!.auth = { ...lease.auth, verdict: 'single', amr: ['pwd'] }
    expect((await view()).needsSignIn).toBe(true)
  })

  it('its state changes with the lease, not with the clock', async () => {
    const state = async () =>
      (await viewClientLease(deps, await authenticateClient(deps, CREDENTIAL, 'l1', { allowEnded: true })))
        .state
    const first = await state()
    deps.clock.advance(60_000)
    expect(await state()).toBe(first)
    deps.store.leases.get('l1')!.expiresAt = now + 2 * HOUR
    const renewed = await state()
    expect(renewed).not.toBe(first)
    Object.assign(deps.store.leases.get('l1')!, { revokedAt: now, revokedReason: 'x' })
    expect(await state()).not.toBe(renewed)
  })
})

describe('watchClientLease', () => {
  it('answers at once without a wait, or when the client’s state is not the current one', async () => {
    const view = await watchClientLease(deps, CREDENTIAL, 'l1', {})
    expect(view.lease.id).toBe('l1')
    expect(await watchClientLease(deps, CREDENTIAL, 'l1', { since: 'old', wait: '30' })).toEqual(view)
    expect(await watchClientLease(deps, CREDENTIAL, 'l1', { since: view.state, wait: '0' })).toEqual(view)
    expect(await watchClientLease(deps, CREDENTIAL, 'l1', { since: view.state, wait: 'soon' })).toEqual(view)
    expect(deps.notifier.waits.every((w) => w.cancelled)).toBe(true)
    expect(deps.clock.now()).toBe(now)
  })

  it('with the current state, waits on the lease’s gateways from their feed versions, at most 60 s', async () => {
    const view = await watchClientLease(deps, CREDENTIAL, 'l1', {})
    deps.notifier.waits.length = 0
    deps.notifier.nextWake.push(() => {
      Object.assign(deps.store.leases.get('l1')!, { revokedAt: deps.clock.now(), revokedReason: 'revoked' })
      return 'change'
    })
    const after = await watchClientLease(deps, CREDENTIAL, 'l1', { since: view.state, wait: '600' })
    expect(after.lease).toMatchObject({ state: 'revoked', revokedReason: 'revoked' })
    expect(MAX_WATCH_SECONDS).toBe(60)
    expect(deps.notifier.waits).toEqual([
      {
        gateway: 'eu-1',
        timeoutMs: 60_000,
        since: await deps.store.gatewayFeedVersion('eu-1'),
        cancelled: true,
      },
    ])
    // A wait that runs out answers with the lease as it then is.
    const timedOut = await watchClientLease(deps, CREDENTIAL, 'l1', { since: after.state, wait: '5' })
    expect(timedOut.state).toBe(after.state)
  })

  it('an ended lease is answered at once, even with its current state: there is nothing to wait for', async () => {
    deps.clock.set(lease.expiresAt)
    const view = await watchClientLease(deps, CREDENTIAL, 'l1', {})
    expect(view.lease.state).toBe('expired')
    const clock = deps.clock.now()
    expect(await watchClientLease(deps, CREDENTIAL, 'l1', { since: view.state, wait: '30' })).toEqual(view)
    expect(deps.clock.now()).toBe(clock)
  })

  it('a lease with no gateway answers after no wait', async () => {
    deps.store.leases.get('l1')!.grants = []
    const view = await watchClientLease(deps, CREDENTIAL, 'l1', {})
    expect(await watchClientLease(deps, CREDENTIAL, 'l1', { since: view.state, wait: '30' })).toEqual(view)
    expect(deps.notifier.waits).toEqual([])
  })
})

describe('renewClientLease', () => {
  it('renews with the sign-in the lease carries; an ended lease cannot be renewed', async () => {
    deps.clock.advance(HOUR / 2)
    const renewed = await renewClientLease(deps, CREDENTIAL, 'l1')
    // Eight hours from now (the grant's ttl), as the lease's own sign-in still allows it.
    expect(renewed.expiresAt).toBe(deps.clock.now() + 8 * HOUR)
    expect(renewed.auth).toEqual(lease.auth)
    deps.clock.set(renewed.expiresAt)
    expect((await refusal(renewClientLease(deps, CREDENTIAL, 'l1'))).code).toBe('CLIENT_CREDENTIAL_INVALID')
  })
})

describe('endClientLease', () => {
  it('revokes a live lease, audited, wakes its gateways and revokes every credential of it', async () => {
    await deps.devices.createClientCredential(
      { tokenHash: 'second', leaseId: 'l1', identityId: 'alice' },
      now,
    )
    await endClientLease(deps, CREDENTIAL, 'l1')
    expect(deps.store.leases.get('l1')).toMatchObject({
      revokedAt: now,
      revokedReason: 'ended by keygate logout',
    })
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
        data: { reason: 'ended by keygate logout', gateways: ['eu-1'] },
      },
    ])
    expect(deps.notifier.published).toEqual([['eu-1']])
    expect([...deps.devices.credentials.values()].map((c) => c.revokedAt)).toEqual([now, now])
  })

  it('for a lease already ended, only revokes the credentials', async () => {
    Object.assign(deps.store.leases.get('l1')!, { revokedAt: now - 1, revokedReason: 'revoked by an admin' })
    await endClientLease(deps, CREDENTIAL, 'l1')
    expect(deps.store.leases.get('l1')?.revokedReason).toBe('revoked by an admin')
    expect([deps.store.audit, deps.notifier.published]).toEqual([[], []])
    expect(deps.devices.credentials.get(hashSecret(CREDENTIAL))?.revokedAt).toBe(now)
  })
})
