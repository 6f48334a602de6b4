// The terminal client's sign-in (device-sign-in.ts, RFC 8628's shape) over in-memory ports: what starting
// stores and answers, finding a request by its user code, approving (issue or renew) and refusing, and
// every answer a token poll can get, down to the credential and preshared key a collection hands out.
import { beforeEach, describe, expect, it } from 'vitest'
import { hashSecret } from '../../../src/core/broker/gateway-feed.ts'
import {
  approveDevice,
  DEVICE_CODE_GRANT_TYPE,
  type DeviceDeps,
  findPendingAuthorization,
  isNewerSignIn,
  pollDeviceToken,
  refuseDevice,
  requireNewerSignIn,
  startDeviceAuthorization,
  summarize,
} from '../../../src/core/device/device-sign-in.ts'
import { normalizeUserCode } from '../../../src/core/device/user-code.ts'
import type { Identity, Lease } from '../../../src/core/model.ts'
import { createFakeBrokerDeps, type FakeBrokerDeps, sessionFor } from '../../support/fake-broker-deps.ts'
import { createMemoryDeviceStore, type MemoryDeviceStore } from '../../support/memory-device-store.ts'
import { refusal } from '../../support/refusal.ts'
import { testPublicKey } from '../../support/test-public-key.ts'

const HOUR = 3_600_000
const KEY = testPublicKey(7)
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

let deps: FakeBrokerDeps & DeviceDeps & { devices: MemoryDeviceStore }
let alice: Identity

beforeEach(() => {
  const base = createFakeBrokerDeps()
  deps = Object.assign(base, { devices: createMemoryDeviceStore(base.store) })
  alice = deps.store.seedIdentity({
    id: 'alice',
    email: 'alice@example.com',
    emailVerified: true,
    groups: ['engineering'],
  })
  deps.store.seedGateway({ name: 'eu-1', publicKey: testPublicKey(101), addressV4: '100.96.255.1' })
})

function start(input: Partial<Parameters<typeof startDeviceAuthorization>[1]> = {}) {
  return startDeviceAuthorization(deps, {
    publicKey: KEY,
    name: 'laptop',
    clientAddress: '192.0.2.7',
    baseUrl: 'https://vpn.example',
    ...input,
  })
}

/** The stored authorization a user code names. */
function stored(userCode: string) {
  return [...deps.devices.authorizations.values()].find((a) => a.userCode === normalizeUserCode(userCode))!
}

const poll = (deviceCode: unknown) =>
  pollDeviceToken(deps, { grant_type: DEVICE_CODE_GRANT_TYPE, device_code: deviceCode })

describe('startDeviceAuthorization', () => {
  it('stores a pending request under the device code’s hash and answers RFC 8628’s fields', async () => {
    const now = deps.clock.now()
    const answer = await start({ name: '  laptop  ' })
    expect(answer).toEqual({
      device_code: expect.stringMatching(/^kgdc_[A-Za-z0-9_-]{43}$/),
      user_code: expect.stringMatching(/^[B-Z]{4}-[B-Z]{4}$/),
      verification_uri: 'https://vpn.example/device',
      verification_uri_complete: `https://vpn.example/device?user_code=${answer.user_code}`,
      expires_in: 600,
      interval: 1,
    })
    const authorization = stored(answer.user_code)
    expect(authorization).toEqual({
      id: expect.stringMatching(UUID_V4),
      deviceCodeHash: hashSecret(answer.device_code),
      userCode: answer.user_code.replace('-', ''),
      purpose: 'issue',
      publicKey: KEY,
      deviceName: 'laptop',
      clientAddress: '192.0.2.7',
      leaseId: null,
      status: 'pending',
      identityId: null,
      decidedAt: null,
      denialReason: null,
      intervalSeconds: 1,
      lastPolledAt: null,
      createdAt: now,
      expiresAt: now + 10 * 60_000,
    })
    expect(deps.store.audit.map((e) => [e.type, e.identityId, e.leaseId, e.at, e.data])).toEqual([
      [
        'device.authorization_started',
        null,
        null,
        now,
        { authorization: authorization.id, publicKey: KEY, name: 'laptop', clientAddress: '192.0.2.7' },
      ],
    ])
  })

  it('a renewal names the lease, keeps its name unless given one, and must bring the lease’s key', async () => {
    const lease = deps.store.seedLease({ id: 'l1', identityId: 'alice', publicKey: KEY, name: 'desk' })
    const answer = await start({ name: undefined, renewal: lease })
    expect(stored(answer.user_code)).toMatchObject({ purpose: 'renew', leaseId: 'l1', deviceName: 'desk' })
    expect(deps.store.audit[0]).toMatchObject({ identityId: 'alice', leaseId: 'l1' })
    const renamed = await start({ name: 'tower', renewal: lease })
    expect(stored(renamed.user_code).deviceName).toBe('tower')
    const other = await refusal(start({ publicKey: testPublicKey(8), renewal: lease }))
    expect([other.code, other.message]).toEqual([
      'INVALID_REQUEST',
      'The public key is not the one of the lease to renew',
    ])
  })

  it('a request without a name stores none; a blank name is none', async () => {
    for (const name of [undefined, null, '   ']) {
      const answer = await start({ name })
      expect(stored(answer.user_code).deviceName).toBeNull()
    }
  })

  it.each([
    ['too long', 'x'.repeat(65)],
    ['not a string', 42],
    ['with a character outside the set', 'laptop;rm'],
  ])('refuses a name %s', async (_, name) => {
    const error = await refusal(start({ name }))
    expect([error.code, error.message]).toEqual([
      'INVALID_REQUEST',
      '"name" must be at most 64 letters, digits, spaces and . _ @ \' ( ) + -',
    ])
    expect(deps.devices.authorizations.size).toBe(0)
  })

  it('accepts a name of 64 characters from the whole set', async () => {
    const name = `Zoë's laptop (2) a.b_c@d+e-f${'x'.repeat(36)}`
    expect(name).toHaveLength(64)
    expect(stored((await start({ name })).user_code).deviceName).toBe(name)
  })

  it('refuses a key that is not a WireGuard public key, storing nothing', async () => {
    expect((await refusal(start({ publicKey: 'not-a-key' }))).code).toBe('INVALID_PUBLIC_KEY')
    expect(deps.devices.authorizations.size).toBe(0)
  })

  it('draws another user code while the one drawn is in use, up to six draws', async () => {
    const create = deps.devices.createDeviceAuthorization.bind(deps.devices)
    let refusals = 5
    const drawn: string[] = []
    deps.devices.createDeviceAuthorization = async (input, now) => {
      drawn.push(input.userCode)
      return refusals-- > 0 ? false : create(input, now)
    }
    const answer = await start()
    expect(drawn).toHaveLength(6)
    expect(answer.user_code.replace('-', '')).toBe(drawn[5])

    refusals = Number.POSITIVE_INFINITY
    const error = await refusal(start())
    expect([error.code, error.message]).toEqual(['INTERNAL', 'Could not draw a free user code'])
    expect(drawn).toHaveLength(12)
    expect(deps.store.audit).toHaveLength(1)
  })
})

describe('findPendingAuthorization', () => {
  it('finds the pending request by the user code as people type it', async () => {
    const answer = await start()
    const session = sessionFor(deps, alice)
    const found = await findPendingAuthorization(deps, session, ` ${answer.user_code.toLowerCase()} `)
    expect(found?.id).toBe(stored(answer.user_code).id)
    expect(deps.store.audit.map((e) => e.type)).toEqual(['device.authorization_started'])
  })

  it('audits a miss, saying whether what was typed could be a code', async () => {
    const answer = await start()
    const session = sessionFor(deps, alice)
    expect(await findPendingAuthorization(deps, session, 'BCDF-GHJK')).toBeNull()
    expect(await findPendingAuthorization(deps, session, 'hello')).toBeNull()
    deps.clock.advance(10 * 60_000)
    expect(await findPendingAuthorization(deps, session, answer.user_code)).toBeNull()
    expect(deps.store.audit.slice(1).map((e) => [e.type, e.identityId, e.actor, e.data])).toEqual([
      ['device.user_code_rejected', 'alice', 'alice@example.com', { wellFormed: true }],
      ['device.user_code_rejected', 'alice', 'alice@example.com', { wellFormed: false }],
      ['device.user_code_rejected', 'alice', 'alice@example.com', { wellFormed: true }],
    ])
  })
})

describe('approveDevice', () => {
  it('issues the lease for the device’s key and name with the approving session, and marks the request', async () => {
    const answer = await start()
    const id = stored(answer.user_code).id
    deps.clock.advance(30_000)
    const session = sessionFor(deps, alice)
    const { authorization, lease } = await approveDevice(deps, session, id)
    expect(authorization.id).toBe(id)
    expect(lease).toMatchObject({ identityId: 'alice', publicKey: KEY, name: 'laptop' })
    expect(stored(answer.user_code)).toMatchObject({
      status: 'approved',
      identityId: 'alice',
      leaseId: lease.id,
      decidedAt: deps.clock.now(),
    })
    expect(deps.store.audit.at(-1)).toMatchObject({
      type: 'device.approved',
      at: deps.clock.now(),
      identityId: 'alice',
      leaseId: lease.id,
      actor: 'alice@example.com',
      data: {
        authorization: id,
        purpose: 'issue',
        verdict: 'mfa',
        amr: ['pwd', 'otp'],
        acr: null,
        acrs: [],
        authTime: session.auth.authTime,
        stepUp: null,
      },
    })
  })

  it('a refusal the person can act on leaves the request pending; any other refusal denies it', async () => {
    const answer = await start()
    const id = stored(answer.user_code).id
    const single = sessionFor(deps, alice, { auth: { verdict: 'single', amr: ['pwd'] } })
    expect((await refusal(approveDevice(deps, single, id))).code).toBe('STEP_UP_REQUIRED')
    expect(stored(answer.user_code).status).toBe('pending')

    const mallory = deps.store.seedIdentity({
      id: 'mallory',
      email: 'mallory@example.com',
      emailVerified: true,
      groups: ['engineering'],
    })
    expect((await refusal(approveDevice(deps, sessionFor(deps, mallory), id))).code).toBe('POLICY_DENIED')
    expect(stored(answer.user_code)).toMatchObject({
      status: 'denied',
      identityId: 'mallory',
      denialReason: 'POLICY_DENIED',
    })
    expect(deps.store.audit.at(-1)).toMatchObject({
      type: 'device.refused',
      identityId: 'mallory',
      actor: 'mallory@example.com',
      data: { authorization: id, reason: 'POLICY_DENIED' },
    })
    expect((await poll(answer.device_code)).ok).toBe(false)
    expect(await poll(answer.device_code)).toMatchObject({
      error: 'access_denied',
      description: 'The sign-in was refused: POLICY_DENIED',
    })
  })

  it('an unknown, malformed, expired or decided request is NOT_FOUND', async () => {
    const message = 'This sign-in request is no longer pending; start again on the device'
    const session = sessionFor(deps, alice)
    for (const id of ['not-a-uuid', '00000000-0000-4000-8000-000000000000']) {
      const error = await refusal(approveDevice(deps, session, id))
      expect([error.code, error.message]).toEqual(['NOT_FOUND', message])
    }
    const answer = await start()
    const id = stored(answer.user_code).id
    deps.clock.advance(10 * 60_000 - 1)
    await approveDevice(deps, sessionFor(deps, alice), id)
    expect((await refusal(approveDevice(deps, sessionFor(deps, alice), id))).message).toBe(message)
    const late = await start({ publicKey: testPublicKey(9) })
    deps.clock.advance(10 * 60_000)
    const leases = deps.store.leases.size
    const expired = await refusal(approveDevice(deps, sessionFor(deps, alice), stored(late.user_code).id))
    expect([expired.code, expired.message]).toEqual(['NOT_FOUND', message])
    expect(deps.store.leases.size).toBe(leases)
  })

  it('a password-only admin is asked for the IdP’s MFA, and the request stays pending', async () => {
    const root = deps.store.seedIdentity({ id: 'root', email: 'root@example.com', emailVerified: true })
    const answer = await start()
    const single = sessionFor(deps, root, { auth: { verdict: 'single', amr: ['pwd'] } })
    expect((await refusal(approveDevice(deps, single, stored(answer.user_code).id))).code).toBe(
      'MFA_REQUIRED',
    )
    expect(stored(answer.user_code).status).toBe('pending')
  })

  it('ids are version 4 UUIDs made from the Random port', async () => {
    deps.random = { bytes: (n) => new Uint8Array(n) }
    const answer = await start()
    expect(stored(answer.user_code).id).toBe('00000000-0000-4000-8000-000000000000')
    expect(DEVICE_CODE_GRANT_TYPE).toBe('urn:ietf:params:oauth:grant-type:device_code')
  })

  it('a request decided while the lease was being issued is NOT_FOUND, and no approval is audited', async () => {
    const answer = await start()
    const id = stored(answer.user_code).id
    const decide = deps.devices.decideDeviceAuthorization.bind(deps.devices)
    deps.devices.decideDeviceAuthorization = async (...args) => {
      await decide(id, { status: 'denied', identityId: 'alice', denialReason: 'refused' }, deps.clock.now())
      return decide(...args)
    }
    const error = await refusal(approveDevice(deps, sessionFor(deps, alice), id))
    expect([error.code, error.message]).toEqual(['NOT_FOUND', 'This sign-in request is no longer pending'])
    expect(deps.store.audit.map((e) => e.type)).not.toContain('device.approved')
  })

  it('a renewal renews the named lease, only with a newer sign-in than the lease’s', async () => {
    const now = deps.clock.now()
    const lease = deps.store.seedLease({
      id: 'l1',
      identityId: 'alice',
      publicKey: KEY,
      grants: [{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }],
      createdAt: now - HOUR,
      expiresAt: now + HOUR,
      auth: {
        verdict: 'mfa',
        amr: ['pwd'],
        acr: null,
        acrs: [],
        authTime: Math.floor(now / 1000) - 60,
        stepUp: null,
      },
    })
    const answer = await start({ renewal: lease })
    const id = stored(answer.user_code).id
    const same = await refusal(approveDevice(deps, sessionFor(deps, alice), id))
    expect([same.code, same.message, same.reasons]).toEqual([
      'AUTH_TOO_OLD',
      'Keeping this device connected needs a newer sign-in than the one it has',
      [
        {
          code: 'AUTH_TOO_OLD',
          message: 'Keeping this device connected needs a newer sign-in than the one it has',
        },
      ],
    ])
    expect(stored(answer.user_code).status).toBe('pending')
    deps.clock.advance(1000)
    const { lease: renewed } = await approveDevice(deps, sessionFor(deps, alice), id)
    expect(renewed.id).toBe('l1')
    expect(renewed.expiresAt).toBe(deps.clock.now() + 8 * HOUR)
    expect(stored(answer.user_code)).toMatchObject({ status: 'approved', leaseId: 'l1' })
    expect(deps.store.audit.at(-1)).toMatchObject({ type: 'device.approved', data: { purpose: 'renew' } })
  })
})

describe('requireNewerSignIn and isNewerSignIn', () => {
  it('needs a lease of the session’s own identity', async () => {
    deps.store.seedLease({ id: 'l-bob', identityId: 'bob' })
    for (const id of ['l-bob', 'nope']) {
      const error = await refusal(requireNewerSignIn(deps, sessionFor(deps, alice), id))
      expect([error.code, error.message]).toEqual(['NOT_FOUND', `No lease "${id}" of yours exists`])
    }
  })

  it('a sign-in is newer only when it is known and later than the lease’s (or the lease has none)', () => {
    expect(isNewerSignIn(100, 99)).toBe(true)
    expect(isNewerSignIn(100, 100)).toBe(false)
    expect(isNewerSignIn(100, null)).toBe(true)
    expect(isNewerSignIn(null, null)).toBe(false)
    expect(isNewerSignIn(null, 5)).toBe(false)
  })
})

describe('refuseDevice', () => {
  it('denies the request as refused, audited; it is then no longer pending', async () => {
    const answer = await start()
    const id = stored(answer.user_code).id
    const session = sessionFor(deps, alice)
    const refused = await refuseDevice(deps, session, id)
    expect(refused.id).toBe(id)
    expect(stored(answer.user_code)).toMatchObject({
      status: 'denied',
      identityId: 'alice',
      denialReason: 'refused',
      leaseId: null,
      decidedAt: deps.clock.now(),
    })
    expect(deps.store.audit.at(-1)).toMatchObject({
      type: 'device.refused',
      at: deps.clock.now(),
      identityId: 'alice',
      leaseId: null,
      actor: 'alice@example.com',
      data: { authorization: id, reason: 'refused' },
    })
    expect((await refusal(refuseDevice(deps, session, id))).code).toBe('NOT_FOUND')
    expect(await poll(answer.device_code)).toEqual({
      ok: false,
      error: 'access_denied',
      description: 'The sign-in was refused in the portal',
    })
  })

  it('a renewal refused names its lease in the audit event', async () => {
    const lease = deps.store.seedLease({ id: 'l1', identityId: 'alice', publicKey: KEY })
    const answer = await start({ renewal: lease })
    await refuseDevice(deps, sessionFor(deps, alice), stored(answer.user_code).id)
    expect(deps.store.audit.at(-1)).toMatchObject({ type: 'device.refused', leaseId: 'l1' })
  })

  it('a request that was decided between the read and the write is NOT_FOUND', async () => {
    const answer = await start()
    const id = stored(answer.user_code).id
    deps.devices.decideDeviceAuthorization = async () => false
    const error = await refusal(refuseDevice(deps, sessionFor(deps, alice), id))
    expect([error.code, error.message]).toEqual(['NOT_FOUND', 'This sign-in request is no longer pending'])
    expect(deps.store.audit.map((e) => e.type)).toEqual(['device.authorization_started'])
  })
})

describe('pollDeviceToken', () => {
  it('refuses a missing or foreign grant type, and a missing, empty or overlong device code', async () => {
    expect(await pollDeviceToken(deps, { device_code: 'x' })).toEqual({
      ok: false,
      error: 'invalid_request',
      description: `grant_type must be ${DEVICE_CODE_GRANT_TYPE}`,
    })
    expect(await pollDeviceToken(deps, { grant_type: 'password', device_code: 'x' })).toMatchObject({
      error: 'unsupported_grant_type',
      description: `grant_type must be ${DEVICE_CODE_GRANT_TYPE}`,
    })
    for (const code of [undefined, 7, '', 'x'.repeat(129)]) {
      expect(await poll(code)).toEqual({
        ok: false,
        error: 'invalid_request',
        description: 'device_code is missing',
      })
    }
    expect(await poll('x'.repeat(128))).toEqual({
      ok: false,
      error: 'invalid_grant',
      description: 'Unknown device code',
    })
  })

  it('while pending: authorization_pending, and slow_down with the raised interval when polled too fast', async () => {
    const answer = await start()
    expect(await poll(answer.device_code)).toEqual({
      ok: false,
      error: 'authorization_pending',
      description: 'Waiting for approval in the portal',
    })
    expect(await poll(answer.device_code)).toEqual({
      ok: false,
      error: 'slow_down',
      description: 'Poll at most every 6 s',
      interval: 6,
    })
    deps.clock.advance(10 * 60_000)
    expect(await poll(answer.device_code)).toEqual({
      ok: false,
      error: 'expired_token',
      description: 'The device code expired; start again',
    })
  })

  it('once approved, hands out a fresh credential (only its hash kept), the lease, its tunnel and preshared key', async () => {
    const answer = await start()
    const { lease } = await approveDevice(deps, sessionFor(deps, alice), stored(answer.user_code).id)
    deps.clock.advance(2000)
    const result = await poll(answer.device_code)
    if (!result.ok) throw new Error(`not collected: ${result.error}`)
    const { body } = result
    expect(body).toEqual({
      access_token: expect.stringMatching(/^kgd_[A-Za-z0-9_-]{43}$/),
      token_type: 'Bearer',
      lease: summarize(lease),
      tunnel: {
        addresses: [`${lease.addressV4}/32`, `${lease.addressV6}/128`],
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
      preshared_key: expect.stringMatching(/^[A-Za-z0-9+/]{43}=$/),
    })
    const sealed = deps.store.presharedKeys.get(lease.id)!
    expect(body.preshared_key).toBe(Buffer.from(await deps.sealer.open(sealed)).toString('base64'))
    expect([...deps.devices.credentials.entries()]).toEqual([
      [
        hashSecret(body.access_token),
        { leaseId: lease.id, identityId: 'alice', createdAt: deps.clock.now(), revokedAt: null },
      ],
    ])
    expect(deps.store.audit.at(-1)).toMatchObject({
      type: 'device.token_issued',
      at: deps.clock.now(),
      identityId: 'alice',
      leaseId: lease.id,
      data: { authorization: stored(answer.user_code).id, purpose: 'issue' },
    })
    expect(JSON.stringify(deps.store.audit)).not.toContain(body.access_token)

    // The device code is single-use: a second poll is refused and audited.
    expect(await poll(answer.device_code)).toEqual({
      ok: false,
      error: 'invalid_grant',
      description: 'This device code has already been used',
    })
    expect(deps.store.audit.at(-1)).toMatchObject({
      type: 'device.code_reused',
      identityId: 'alice',
      leaseId: lease.id,
      data: { authorization: stored(answer.user_code).id },
    })
  })

  it('a renewal’s collection replaces the lease’s credential and hands out no preshared key', async () => {
    const now = deps.clock.now()
    const lease = deps.store.seedLease({
      id: 'l1',
      identityId: 'alice',
      publicKey: KEY,
      grants: [{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }],
      expiresAt: now + HOUR,
    })
    await deps.devices.createClientCredential({ tokenHash: 'old', leaseId: 'l1', identityId: 'alice' }, now)
    const answer = await start({ renewal: lease })
    deps.clock.advance(1000)
    await approveDevice(deps, sessionFor(deps, alice), stored(answer.user_code).id)
    const result = await poll(answer.device_code)
    if (!result.ok) throw new Error(`not collected: ${result.error}`)
    expect(result.body.preshared_key).toBeUndefined()
    expect(result.body.lease.id).toBe('l1')
    expect(deps.devices.credentials.get('old')?.revokedAt).toBe(deps.clock.now())
    expect(deps.devices.credentials.get(hashSecret(result.body.access_token))?.revokedAt).toBeNull()
    expect(deps.store.audit.at(-1)?.data).toEqual({
      authorization: stored(answer.user_code).id,
      purpose: 'renew',
    })
  })

  it('an approved lease that ended before collection is LEASE_NOT_ACTIVE, and no credential is made', async () => {
    const answer = await start()
    const { lease } = await approveDevice(deps, sessionFor(deps, alice), stored(answer.user_code).id)
    deps.store.leases.get(lease.id)!.expiresAt = deps.clock.now()
    const error = await refusal(poll(answer.device_code))
    expect([error.code, error.message]).toEqual(['LEASE_NOT_ACTIVE', 'The approved lease has already ended'])
    expect(deps.devices.credentials.size).toBe(0)
  })

  it('an approved lease that is gone is LEASE_NOT_ACTIVE', async () => {
    const answer = await start()
    const { lease } = await approveDevice(deps, sessionFor(deps, alice), stored(answer.user_code).id)
    deps.store.leases.delete(lease.id)
    expect((await refusal(poll(answer.device_code))).code).toBe('LEASE_NOT_ACTIVE')
  })

  it('a new lease without a stored preshared key is an INTERNAL error', async () => {
    const answer = await start()
    const { lease } = await approveDevice(deps, sessionFor(deps, alice), stored(answer.user_code).id)
    deps.store.presharedKeys.delete(lease.id)
    const error = await refusal(poll(answer.device_code))
    expect([error.code, error.message]).toEqual(['INTERNAL', 'The lease has no preshared key'])
  })

  it('a denial without a reason says denied', async () => {
    const answer = await start()
    const authorization = stored(answer.user_code)
    authorization.status = 'denied'
    expect(await poll(answer.device_code)).toMatchObject({ description: 'The sign-in was refused: denied' })
  })
})

describe('summarize', () => {
  it('is the lease’s id, key, name and expiry as ISO text', () => {
    const lease = { id: 'l1', publicKey: KEY, name: null, expiresAt: Date.UTC(2030, 0, 2, 3, 4, 5) } as Lease
    expect(summarize(lease)).toEqual({
      id: 'l1',
      publicKey: KEY,
      name: null,
      expiresAt: '2030-01-02T03:04:05.000Z',
    })
  })
})
