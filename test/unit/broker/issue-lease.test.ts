// issueLease over in-memory ports: what a granted request stores (lease, audit event, feed entries, the
// sealed preshared key), what a refused one stores (its audit event only), the refusals' codes and
// wording, and the Idempotency-Key's replay.
import { beforeEach, describe, expect, it } from 'vitest'
import { keyedRequest } from '../../../src/core/broker/idempotency.ts'
import {
  denialError,
  gatewayCoverage,
  issuedLeaseOf,
  issueLease,
  MAX_REQUESTED_GATEWAYS,
  noGatewayError,
  renderLeaseConfig,
} from '../../../src/core/broker/issue-lease.ts'
import { KeygateError } from '../../../src/core/errors.ts'
import type { Identity } from '../../../src/core/model.ts'
import { encodeBase64 } from '../../../src/core/peers/base64.ts'
import { createFakeBrokerDeps, type FakeBrokerDeps, sessionFor } from '../../support/fake-broker-deps.ts'
import { refusal } from '../../support/refusal.ts'
import { testPublicKey as publicKey } from '../../support/test-public-key.ts'

const HOUR = 3_600_000

let deps: FakeBrokerDeps
let alice: Identity
const GW_EU = publicKey(101)

beforeEach(() => {
  deps = createFakeBrokerDeps()
  alice = deps.store.seedIdentity({
    id: 'alice',
    email: 'alice@example.com',
    emailVerified: true,
    groups: ['engineering'],
  })
  deps.store.seedGateway({
    name: 'eu-1',
    publicKey: GW_EU,
    addressV4: '100.96.255.1',
    addressV6: 'fd7a:115c:a1e0::ff01',
  })
})

describe('issueLease, granted', () => {
  it('stores the lease as the policy decided, with its audit event and feed entry, and wakes the gateway', async () => {
    const now = deps.clock.now()
    const session = sessionFor(deps, alice)
    const key = publicKey(1)
    const issued = await issueLease(deps, session, { publicKey: key, name: '  Laptop  ' })

    expect(issued.lease).toEqual({
      id: 'lease-1',
      identityId: 'alice',
      publicKey: key,
      name: 'Laptop',
      addressV4: '100.96.0.1',
      addressV6: 'fd7a:115c:a1e0::1',
      grants: [{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }],
      createdAt: now,
      expiresAt: now + 8 * HOUR,
      revokedAt: null,
      revokedReason: null,
      auth: session.auth,
      policyHash: deps.policy().hash,
      matchedGrants: ['grants[0]'],
      sessionId: session.sessionId,
    })
    expect(deps.store.leases.get('lease-1')).toEqual(issued.lease)

    const psk = new Uint8Array(32).map((_, i) => i + 1)
    expect(deps.store.presharedKeys.get('lease-1')).toBe(`sealed-hex:${Buffer.from(psk).toString('hex')}`)
    expect(deps.store.audit).toEqual([
      {
        id: expect.any(String),
        at: now,
        type: 'lease.issued',
        identityId: 'alice',
        leaseId: 'lease-1',
        gatewayId: null,
        actor: 'alice@example.com',
        policyHash: deps.policy().hash,
        data: {
          publicKey: key,
          grants: [{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }],
          matchedGrants: ['grants[0]'],
          verdict: 'mfa',
          amr: ['pwd', 'otp'],
          acr: null,
          acrs: [],
          authTime: session.auth.authTime,
          stepUp: null,
        },
      },
    ])
    expect(deps.store.feeds.get('eu-1')).toEqual([
      {
        version: 1,
        change: {
          kind: 'upsert',
          leaseId: 'lease-1',
          publicKey: key,
          presharedKeyCiphertext: deps.store.presharedKeys.get('lease-1'),
          allowedIps: ['100.96.0.1/32', 'fd7a:115c:a1e0::1/128'],
          routes: ['10.10.0.0/16'],
          expiresAt: now + 8 * HOUR,
        },
      },
    ])
    expect(deps.store.idempotencyKeys.size).toBe(0)
    expect(deps.notifier.published).toEqual([['eu-1']])
    expect(deps.logs).toEqual([
      {
        level: 'info',
        event: 'lease.issued',
        fields: { leaseId: 'lease-1', identityId: 'alice', gateways: 1 },
      },
    ])

    expect(issued.gateways).toEqual([
      { name: 'eu-1', endpoint: 'eu-1.vpn.example:51820', routes: ['10.10.0.0/16'], enrolled: true },
    ])
    expect(issued.config).toBe(
      [
        '# Keygate: short-lived WireGuard access. Sign in again when it expires.',
        '# Device: Laptop',
        '[Interface]',
        'PrivateKey = {{PRIVATE_KEY}}',
        'Address = 100.96.0.1/32, fd7a:115c:a1e0::1/128',
        'DNS = 10.10.0.53',
        '',
        '[Peer]',
        `PublicKey = ${GW_EU}`,
        `PresharedKey = ${encodeBase64(psk)}`,
        'Endpoint = eu-1.vpn.example:51820',
        'AllowedIPs = 10.10.0.0/16, 100.96.255.1/32, fd7a:115c:a1e0::ff01/128',
        'PersistentKeepalive = 25',
        '',
      ].join('\n'),
    )
  })

  it('gives only the gateways asked for, and refuses a list that is not one of at most 64 names', async () => {
    const root = deps.store.seedIdentity({ id: 'root', email: 'root@example.com', emailVerified: true })
    deps.store.seedGateway({ name: 'us-1', publicKey: publicKey(102), addressV4: '100.96.255.2' })
    const session = sessionFor(deps, root)
    const issued = await issueLease(deps, session, { publicKey: publicKey(1), gateways: ['us-1'] })
    expect(issued.lease.grants).toEqual([{ gateway: 'us-1', routes: ['10.20.0.0/16'] }])
    expect(issued.lease.expiresAt).toBe(deps.clock.now() + HOUR)
    expect(deps.notifier.published).toEqual([['us-1']])
    expect(issued.config).toContain('AllowedIPs = 10.20.0.0/16, 100.96.255.2/32\n')

    const all = await issueLease(deps, session, { publicKey: publicKey(2), gateways: null })
    expect(all.lease.grants.map((g) => g.gateway)).toEqual(['eu-1', 'us-1'])

    const full = Array.from({ length: MAX_REQUESTED_GATEWAYS }, () => 'us-1')
    await expect(
      issueLease(deps, session, { publicKey: publicKey(3), gateways: full }),
    ).resolves.toBeDefined()
    for (const gateways of ['us-1', [...full, 'us-1'], ['us-1', 7], {}]) {
      const error = await refusal(issueLease(deps, session, { publicKey: publicKey(4), gateways }))
      expect(error.code).toBe('INVALID_REQUEST')
      expect(error.message).toBe('"gateways" must be an array of at most 64 gateway names')
    }
  })

  it('renders a lease without IPv6 with its IPv4 address only', async () => {
    const lease = deps.store.seedLease({
      id: 'l-v4',
      identityId: 'alice',
      addressV4: '100.96.0.9',
      addressV6: null,
      grants: [{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }],
    })
    const { config } = await renderLeaseConfig(deps, deps.policy(), lease, encodeBase64(new Uint8Array(32)))
    expect(config).toContain('Address = 100.96.0.9/32\n')
    expect(config).not.toContain('# Device')
  })
})

describe('issueLease, refused', () => {
  it('a deny rule: POLICY_DENIED naming the decision, a lease.denied event, nothing else stored', async () => {
    const mallory = deps.store.seedIdentity({
      id: 'mallory',
      email: 'mallory@example.com',
      emailVerified: true,
      groups: ['engineering'],
    })
    const session = sessionFor(deps, mallory)
    const error = await refusal(issueLease(deps, session, { publicKey: publicKey(1) }))
    expect(error.code).toBe('POLICY_DENIED')
    expect(error.message).toBe('The policy does not allow this access')
    expect(error.details).toEqual({ decision: 'DENIED_BY_RULE' })
    expect(error.reasons?.map((r) => r.code)).toEqual(['DENIED_BY_RULE'])

    expect(deps.store.leases.size).toBe(0)
    expect(deps.store.feeds.size).toBe(0)
    expect(deps.notifier.published).toEqual([])
    expect(deps.store.audit).toHaveLength(1)
    expect(deps.store.audit[0]).toMatchObject({
      type: 'lease.denied',
      identityId: 'mallory',
      leaseId: null,
      actor: 'mallory@example.com',
      policyHash: deps.policy().hash,
      data: {
        code: 'DENIED_BY_RULE',
        reasons: error.reasons,
        verdict: 'mfa',
        amr: ['pwd', 'otp'],
        acr: null,
        acrs: [],
        authTime: session.auth.authTime,
        stepUp: null,
      },
    })
  })

  it('an unverified email does not count for user: members', async () => {
    const root = deps.store.seedIdentity({ id: 'root', email: 'root@example.com', emailVerified: false })
    const error = await refusal(issueLease(deps, sessionFor(deps, root), { publicKey: publicKey(1) }))
    expect(error.code).toBe('POLICY_DENIED')
  })

  it('a password-only engineer is asked to step up; a password-only admin needs the IdP’s MFA', async () => {
    const single = { verdict: 'single' as const, amr: ['pwd'] }
    const stepUp = await refusal(
      issueLease(deps, sessionFor(deps, alice, { auth: single }), { publicKey: publicKey(1) }),
    )
    expect(stepUp.code).toBe('STEP_UP_REQUIRED')
    expect(stepUp.message).toBe('A stronger or fresher sign-in is required for this access')
    expect(stepUp.details?.stepUp).toMatchObject({ assurance: 'mfa', mfa: true, maxAgeSeconds: 12 * 3600 })

    const root = deps.store.seedIdentity({ id: 'root', email: 'root@example.com', emailVerified: true })
    const mfa = await refusal(
      issueLease(deps, sessionFor(deps, root, { auth: single }), { publicKey: publicKey(2) }),
    )
    expect(mfa.code).toBe('MFA_REQUIRED')
    expect(mfa.message).toBe('This access requires a sign-in with multi-factor authentication')
    expect(mfa.details).toBeUndefined()
    expect(deps.store.audit.map((e) => [e.type, e.data.code])).toEqual([
      ['lease.denied', 'ASSURANCE_UNMET'],
      ['lease.denied', 'ASSURANCE_UNMET'],
    ])
  })

  it('a sign-in too old: AUTH_TOO_OLD, with the step-up demand only where the grant allows one', async () => {
    const old = { authTime: Math.floor(deps.clock.now() / 1000) - 13 * 3600 }
    const eng = await refusal(
      issueLease(deps, sessionFor(deps, alice, { auth: old }), { publicKey: publicKey(1) }),
    )
    expect(eng.code).toBe('AUTH_TOO_OLD')
    expect(eng.message).toBe('Your sign-in is too old for this access; sign in again')
    expect(eng.details?.stepUp?.assurance).toBe('mfa')

    const root = deps.store.seedIdentity({ id: 'root', email: 'root@example.com', emailVerified: true })
    const admin = await refusal(
      issueLease(deps, sessionFor(deps, root, { auth: old }), { publicKey: publicKey(2) }),
    )
    expect(admin.code).toBe('AUTH_TOO_OLD')
    expect(admin.details).toEqual({})
  })

  it('no granted gateway enrolled: NO_GATEWAY_ENROLLED naming them, nothing stored', async () => {
    deps.store.gateways.clear()
    const error = await refusal(issueLease(deps, sessionFor(deps, alice), { publicKey: publicKey(1) }))
    expect(error.code).toBe('NO_GATEWAY_ENROLLED')
    expect(error.message).toBe(
      'No gateway for your access is online yet (eu-1); ask your admin to bring one up',
    )
    expect(error.details).toEqual({ gateways: ['eu-1'] })
    expect(deps.store.leases.size).toBe(0)
    expect(deps.store.audit).toEqual([])
    expect(noGatewayError(['eu-1', 'us-1']).message).toBe(
      'No gateway for your access is online yet (eu-1, us-1); ask your admin to bring one up',
    )
    expect(noGatewayError([]).message).toBe(
      'No gateway for your access is online yet (none granted); ask your admin to bring one up',
    )
  })

  it('a key another person’s live lease holds: PUBLIC_KEY_IN_USE without naming that lease', async () => {
    const bob = deps.store.seedIdentity({
      id: 'bob',
      email: 'bob@x',
      emailVerified: true,
      groups: ['engineering'],
    })
    const key = publicKey(1)
    await issueLease(deps, sessionFor(deps, bob), { publicKey: key })
    const error = await refusal(issueLease(deps, sessionFor(deps, alice), { publicKey: key }))
    expect(error.code).toBe('PUBLIC_KEY_IN_USE')
    expect(error.message).toBe('This key already has a live lease; make a new key pair for this device')
    expect(error.details).toEqual({})
  })

  it('a key the user’s own live lease holds: PUBLIC_KEY_IN_USE naming the lease to renew', async () => {
    const key = publicKey(1)
    const first = await issueLease(deps, sessionFor(deps, alice), { publicKey: key })
    const error = await refusal(issueLease(deps, sessionFor(deps, alice), { publicKey: key }))
    expect(error.code).toBe('PUBLIC_KEY_IN_USE')
    expect(error.message).toBe(
      `This key already has a live lease (${first.lease.id}): renew it, or revoke it first`,
    )
    expect(error.details).toEqual({ leaseId: first.lease.id })
    expect(deps.store.leases.size).toBe(1)
  })

  it('a key whose holder ended meanwhile: PUBLIC_KEY_IN_USE, naming no lease', async () => {
    deps.store.failNext.issueLease = new KeygateError(
      'PUBLIC_KEY_IN_USE',
      'This public key already has a live lease',
    )
    const error = await refusal(issueLease(deps, sessionFor(deps, alice), { publicKey: publicKey(1) }))
    expect(error.code).toBe('PUBLIC_KEY_IN_USE')
    expect(error.message).toBe('This key already has a live lease; make a new key pair for this device')
    expect(error.details).toEqual({})
  })

  it('at the lease limit: LEASE_LIMIT_REACHED naming the live leases, soonest to expire first', async () => {
    const now = deps.clock.now()
    deps.store.seedLease({ id: 'l-late', identityId: 'alice', name: 'desktop', expiresAt: now + 3 * HOUR })
    deps.store.seedLease({ id: 'l-soon', identityId: 'alice', name: null, expiresAt: now + HOUR })
    deps.store.seedLease({ id: 'l-mid', identityId: 'alice', name: 'phone', expiresAt: now + 2 * HOUR })
    deps.store.seedLease({ id: 'l-gone', identityId: 'alice', name: 'old', expiresAt: now - 1 })
    const error = await refusal(issueLease(deps, sessionFor(deps, alice), { publicKey: publicKey(1) }))
    expect(error.code).toBe('LEASE_LIMIT_REACHED')
    expect(error.message).toBe(
      'You already hold 3 live leases, the most the policy allows; revoke one (l-soon, phone, desktop) or let it expire',
    )
    expect(error.details).toEqual({
      limit: 3,
      leases: [
        { id: 'l-soon', name: null, expiresAt: new Date(now + HOUR).toISOString() },
        { id: 'l-mid', name: 'phone', expiresAt: new Date(now + 2 * HOUR).toISOString() },
        { id: 'l-late', name: 'desktop', expiresAt: new Date(now + 3 * HOUR).toISOString() },
      ],
    })
  })

  it('names three leases and an ellipsis when more are live than the message lists', async () => {
    const now = deps.clock.now()
    for (let i = 1; i <= 4; i++)
      deps.store.seedLease({ id: `l${i}`, identityId: 'alice', expiresAt: now + i * HOUR })
    const error = await refusal(issueLease(deps, sessionFor(deps, alice), { publicKey: publicKey(1) }))
    expect(error.message).toBe(
      'You already hold 4 live leases, the most the policy allows; revoke one (l1, l2, l3, …) or let it expire',
    )
  })

  it('any other refusal of the store passes through as it is', async () => {
    const failure = new KeygateError('ADDRESS_POOL_EXHAUSTED', 'no free address')
    deps.store.failNext.issueLease = failure
    await expect(issueLease(deps, sessionFor(deps, alice), { publicKey: publicKey(1) })).rejects.toBe(failure)
  })
})

describe('issueLease with an Idempotency-Key', () => {
  it('stores the key with the lease; a retry gets the same lease and config, nothing written twice', async () => {
    const now = deps.clock.now()
    const session = sessionFor(deps, alice)
    const request = { publicKey: publicKey(1), name: 'laptop', idempotencyKey: 'key-1' }
    const first = await issueLease(deps, session, request)
    expect([...deps.store.idempotencyKeys.values()]).toEqual([
      {
        owner: 'alice',
        key: 'key-1',
        fingerprint: JSON.stringify({ publicKey: request.publicKey, name: 'laptop', gateways: null }),
        expiresAt: now + 24 * HOUR,
        maxPerOwner: 100,
        leaseId: first.lease.id,
      },
    ])
    deps.clock.advance(60_000)
    const again = await issueLease(deps, session, request)
    expect(again).toEqual(first)
    expect(deps.store.leases.size).toBe(1)
    expect(deps.store.audit).toHaveLength(1)
    expect(deps.notifier.published).toEqual([['eu-1']])
  })

  it('the same key with another request is IDEMPOTENCY_KEY_REUSED', async () => {
    const session = sessionFor(deps, alice)
    await issueLease(deps, session, { publicKey: publicKey(1), idempotencyKey: 'key-1' })
    const error = await refusal(
      issueLease(deps, session, { publicKey: publicKey(2), idempotencyKey: 'key-1' }),
    )
    expect(error.code).toBe('IDEMPOTENCY_KEY_REUSED')
    expect(error.message).toBe(
      'This Idempotency-Key was used for a different request; use a new key for a new request',
    )
    expect(deps.store.leases.size).toBe(1)
  })

  it('a retry after the policy changed still gets the first answer, not a new decision', async () => {
    const session = sessionFor(deps, alice)
    const request = { publicKey: publicKey(1), idempotencyKey: 'key-1' }
    const first = await issueLease(deps, session, request)
    deps.store.identities.get('alice')!.groups = []
    const retry = await issueLease(deps, { ...session, groups: [] }, request)
    expect(retry).toEqual(first)
    expect(deps.store.audit.map((e) => e.type)).toEqual(['lease.issued'])
  })

  it('a keyed request refused on a key another person holds: the refusal, not a replay', async () => {
    const bob = deps.store.seedIdentity({
      id: 'bob',
      email: 'bob@x',
      emailVerified: true,
      groups: ['engineering'],
    })
    await issueLease(deps, sessionFor(deps, bob), { publicKey: publicKey(1) })
    const error = await refusal(
      issueLease(deps, sessionFor(deps, alice), { publicKey: publicKey(1), idempotencyKey: 'k' }),
    )
    expect(error.code).toBe('PUBLIC_KEY_IN_USE')
    expect(error.details).toEqual({})
  })

  it('a keyed request that fails with something other than a refusal is not looked up again', async () => {
    let lookups = 0
    const find = deps.store.findIdempotencyKey
    deps.store.findIdempotencyKey = async (...args) => {
      lookups++
      return find(...args)
    }
    const failure = new Error('connection reset')
    deps.store.failNext.issueLease = failure
    await expect(
      issueLease(deps, sessionFor(deps, alice), { publicKey: publicKey(1), idempotencyKey: 'k' }),
    ).rejects.toBe(failure)
    expect(lookups).toBe(1)
  })

  it('a key another identity used is theirs alone: no replay across owners', async () => {
    const bob = deps.store.seedIdentity({
      id: 'bob',
      email: 'bob@x',
      emailVerified: true,
      groups: ['engineering'],
    })
    const mine = await issueLease(deps, sessionFor(deps, alice), {
      publicKey: publicKey(1),
      idempotencyKey: 'k',
    })
    const theirs = await issueLease(deps, sessionFor(deps, bob), {
      publicKey: publicKey(2),
      idempotencyKey: 'k',
    })
    expect(theirs.lease.id).not.toBe(mine.lease.id)
    expect(theirs.lease.identityId).toBe('bob')
  })

  it('a twin request that committed first under the same key: its lease is the answer', async () => {
    const issue = deps.store.issueLease
    // The twin's statement commits (lease and key), then ours is refused on the key it now holds.
    deps.store.issueLease = async (input, now) => {
      deps.store.issueLease = issue
      await issue(input, now)
      throw new KeygateError('PUBLIC_KEY_IN_USE', 'This public key already has a live lease')
    }
    const answer = await issueLease(deps, sessionFor(deps, alice), {
      publicKey: publicKey(1),
      idempotencyKey: 'k',
    })
    expect(answer.lease.id).toBe('lease-1')
    expect(answer.config).toContain(`PresharedKey = ${encodeBase64(new Uint8Array(32).map((_, i) => i + 1))}`)
    expect(deps.store.leases.size).toBe(1)
  })

  it('without a key, the same refusal is the user’s to read', async () => {
    const issue = deps.store.issueLease
    deps.store.issueLease = async (input, now) => {
      deps.store.issueLease = issue
      await issue(input, now)
      throw new KeygateError('PUBLIC_KEY_IN_USE', 'This public key already has a live lease')
    }
    const error = await refusal(issueLease(deps, sessionFor(deps, alice), { publicKey: publicKey(1) }))
    expect(error.code).toBe('PUBLIC_KEY_IN_USE')
    expect(error.details).toEqual({ leaseId: 'lease-1' })
  })

  it('refuses a header that is not 1 to 255 printable ASCII characters without spaces at the ends', async () => {
    const session = sessionFor(deps, alice)
    for (const idempotencyKey of ['', ' k', 'k ', 'ké', 'a'.repeat(256), 42, 'k\n']) {
      const error = await refusal(issueLease(deps, session, { publicKey: publicKey(1), idempotencyKey }))
      expect(error.code).toBe('INVALID_REQUEST')
      expect(error.message).toBe('The Idempotency-Key header must be 1 to 255 printable ASCII characters')
    }
    for (const key of ['a'.repeat(255), 'a b', '!', '~x~']) {
      expect(keyedRequest('alice', key, { op: 1 })).toEqual({ owner: 'alice', key, fingerprint: '{"op":1}' })
    }
    expect(keyedRequest('alice', undefined, {})).toBeNull()
    expect(keyedRequest('alice', null, {})).toBeNull()
    expect(deps.store.audit).toEqual([])
  })
})

describe('a lease’s config again, and the parts issuance is made of', () => {
  it('issuedLeaseOf: the stored preshared key opened again; NOT_FOUND when the lease has none', async () => {
    const issued = await issueLease(deps, sessionFor(deps, alice), { publicKey: publicKey(1) })
    expect(await issuedLeaseOf(deps, issued.lease)).toEqual(issued)
    deps.store.presharedKeys.delete(issued.lease.id)
    const error = await refusal(issuedLeaseOf(deps, issued.lease))
    expect(error.code).toBe('NOT_FOUND')
    expect(error.message).toBe('No lease "lease-1" exists')
  })

  it('renderLeaseConfig: a gateway not enrolled, or no longer in the policy, gets no [Peer]', async () => {
    const lease = deps.store.seedLease({
      id: 'l',
      identityId: 'alice',
      grants: [
        { gateway: 'eu-1', routes: ['10.10.0.0/16'] },
        { gateway: 'us-1', routes: ['10.20.0.0/16'] },
        { gateway: 'gone', routes: ['10.30.0.0/16'] },
      ],
    })
    deps.store.seedGateway({ name: 'gone', publicKey: publicKey(103), addressV4: '100.96.255.3' })
    const { gateways, config } = await renderLeaseConfig(
      deps,
      deps.policy(),
      lease,
      encodeBase64(new Uint8Array(32)),
    )
    expect(gateways).toEqual([
      { name: 'eu-1', endpoint: 'eu-1.vpn.example:51820', routes: ['10.10.0.0/16'], enrolled: true },
      { name: 'us-1', endpoint: 'us-1.vpn.example:51820', routes: ['10.20.0.0/16'], enrolled: false },
      { name: 'gone', endpoint: '', routes: ['10.30.0.0/16'], enrolled: true },
    ])
    expect(config.match(/\[Peer\]/g)).toHaveLength(1)
    expect(config).not.toContain('10.30.0.0/16')
  })

  it('renderLeaseConfig: a gateway with an IPv6 overlay address only is reached on that one', async () => {
    deps.store.gateways.get('eu-1')!.addressV4 = null
    const lease = deps.store.seedLease({
      id: 'l',
      identityId: 'alice',
      grants: [{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }],
    })
    const { config } = await renderLeaseConfig(deps, deps.policy(), lease, encodeBase64(new Uint8Array(32)))
    expect(config).toContain('AllowedIPs = 10.10.0.0/16, fd7a:115c:a1e0::ff01/128\n')
  })

  it('gatewayCoverage splits the grants into enrolled and missing, in grant order', async () => {
    deps.store.seedGateway({ name: 'half', publicKey: null })
    expect(
      await gatewayCoverage(deps, [{ gateway: 'us-1' }, { gateway: 'eu-1' }, { gateway: 'half' }]),
    ).toEqual({ enrolled: ['eu-1'], missing: ['us-1', 'half'] })
  })

  it('denialError: AUTH_TOO_OLD only when every reason is about the sign-in’s age', () => {
    const base = { allow: false as const, code: 'ASSURANCE_UNMET' as const, stepUp: null }
    const age = { code: 'AUTH_TOO_OLD' as const, message: 'old' }
    const missing = { code: 'AUTH_TIME_MISSING' as const, message: 'no auth_time' }
    const mfa = { code: 'MFA_NOT_PROVEN' as const, message: 'mfa' }
    expect(denialError({ ...base, reasons: [age, missing] }).code).toBe('AUTH_TOO_OLD')
    expect(denialError({ ...base, reasons: [missing] }).code).toBe('AUTH_TOO_OLD')
    expect(denialError({ ...base, reasons: [age, mfa] }).code).toBe('MFA_REQUIRED')
    expect(denialError({ ...base, reasons: [] }).code).toBe('MFA_REQUIRED')
    expect(denialError({ ...base, code: 'NO_MATCHING_GRANT', reasons: [age] }).code).toBe('POLICY_DENIED')
    const demand = { assurance: 'mfa', mfa: true, amrAny: null, acrAny: null, maxAgeSeconds: 60 }
    expect(denialError({ ...base, code: 'DENIED_BY_RULE', stepUp: demand, reasons: [mfa] }).code).toBe(
      'POLICY_DENIED',
    )
    expect(denialError({ ...base, stepUp: demand, reasons: [mfa] }).details).toEqual({ stepUp: demand })
    const withReasons = denialError({ ...base, reasons: [mfa] })
    expect(withReasons.reasons).toEqual([mfa])
  })
})
