// The broker's side of the gateway protocol over in-memory ports: enrollment tokens and enrollment,
// credentials, the long-polled feed (its deadline, wake-ups, shutdown, a removal while waiting, pages) and
// status reports; the directory of enrolled gateways and what administrators see of them.
import { beforeEach, describe, expect, it } from 'vitest'
import { auditEvent } from '../../../src/core/audit-event.ts'
import type { GatewayDirectory } from '../../../src/core/broker/gateway-directory.ts'
import {
  authenticateGateway,
  createEnrollmentToken,
  ENROLLMENT_TOKEN_TTL_MS,
  enrollGateway,
  hashSecret,
  recordGatewayStatus,
  removeGateway,
  syncGateway,
} from '../../../src/core/broker/gateway-feed.ts'
import { FEED_PAGE_LIMIT } from '../../../src/core/broker/gateway-feed-reads.ts'
import { describeGateways, GATEWAY_HEALTHY_WITHIN_MS } from '../../../src/core/broker/gateway-health.ts'
import type { Gateway } from '../../../src/core/model.ts'
import { encodeBase64 } from '../../../src/core/peers/base64.ts'
import { createFakeBrokerDeps, type FakeBrokerDeps } from '../../support/fake-broker-deps.ts'
import { refusal } from '../../support/refusal.ts'
import { testPublicKey } from '../../support/test-public-key.ts'

const HOUR = 3_600_000
const PSK = new Uint8Array(32).fill(7)
const SEALED_PSK = `sealed-hex:${Buffer.from(PSK).toString('hex')}`
const SYNC = { protocol: '2' }

let deps: FakeBrokerDeps
let gateway: Gateway
let now: number

function addLease(id: string, seed: number, gateways = ['eu-1']) {
  return deps.store.seedLease(
    {
      id,
      identityId: 'alice',
      publicKey: testPublicKey(seed),
      addressV4: `100.96.0.${seed}`,
      expiresAt: now + HOUR,
      grants: gateways.map((g) => ({ gateway: g, routes: ['10.10.0.0/16'] })),
    },
    SEALED_PSK,
  )
}

/** A feed entry for the lease on each of its gateways (an update that changes nothing). */
async function touch(id: string): Promise<void> {
  await deps.store.updateLease(id, {}, auditEvent('lease.updated'), deps.clock.now())
}

beforeEach(() => {
  deps = createFakeBrokerDeps()
  now = deps.clock.now()
  gateway = deps.store.seedGateway(
    { name: 'eu-1', publicKey: testPublicKey(101), addressV4: '100.96.255.1' },
    'cred-hash',
  )
})

describe('enrollment', () => {
  it('hashSecret is the SHA-256 of the text, in hex', () => {
    expect(hashSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  it('createEnrollmentToken: a kge_ token for a declared gateway; its hash stored, an event written', async () => {
    const { token, expiresAt } = await createEnrollmentToken(deps, 'us-1', 'root@example.com')
    const bytes = new Uint8Array(32).map((_, i) => i + 1)
    expect(token).toBe(
      `kge_${encodeBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`,
    )
    expect(expiresAt).toBe(now + ENROLLMENT_TOKEN_TTL_MS)
    expect(ENROLLMENT_TOKEN_TTL_MS).toBe(HOUR)
    expect(deps.store.enrollments.get(hashSecret(token))).toEqual({
      gatewayName: 'us-1',
      expiresAt,
      used: false,
    })
    expect(deps.store.audit).toMatchObject([
      {
        type: 'gateway.enrollment_created',
        gatewayId: 'us-1',
        actor: 'root@example.com',
        data: { expiresAt },
      },
    ])
  })

  it('createEnrollmentToken refuses a gateway the policy does not declare, naming those it does', async () => {
    const error = await refusal(createEnrollmentToken(deps, 'mars-1', 'root'))
    expect(error.code).toBe('GATEWAY_UNKNOWN')
    expect(error.message).toBe('Gateway "mars-1" is not declared in the policy\'s "gateways"')
    expect(error.details).toEqual({ known: ['eu-1', 'us-1'] })
    expect(deps.store.enrollments.size).toBe(0)
  })

  it('enrollGateway: the token spent, a credential whose hash is stored, an address, a wake-up', async () => {
    const { token } = await createEnrollmentToken(deps, 'us-1', 'root')
    let invalidated = 0
    const directory = deps.gateways
    deps.gateways = { ...directory, invalidate: () => void invalidated++ }
    const key = testPublicKey(102)
    const answer = await enrollGateway(deps, token, { protocolVersion: 2, publicKey: key })
    expect(answer).toEqual({
      protocolVersion: 2,
      gateway: 'us-1',
      credential: expect.stringMatching(/^kgc_[A-Za-z0-9_-]{43}$/),
      addressV4: '100.96.0.1',
      addressV6: 'fd7a:115c:a1e0::1',
    })
    expect(deps.store.gateways.get('us-1')).toMatchObject({
      publicKey: key,
      credentialHash: hashSecret(answer.credential),
    })
    expect(await authenticateGateway(deps, answer.credential)).toMatchObject({ name: 'us-1', publicKey: key })
    expect(invalidated).toBe(1)
    expect(deps.notifier.published).toEqual([['us-1']])
    expect(deps.logs).toEqual([{ level: 'info', event: 'gateway.enrolled', fields: { gateway: 'us-1' } }])
    expect((await refusal(enrollGateway(deps, token, { protocolVersion: 2, publicKey: key }))).code).toBe(
      'ENROLLMENT_TOKEN_INVALID',
    )
  })

  it('enrollGateway without a token refuses before reading anything', async () => {
    const error = await refusal(
      enrollGateway(deps, null, { protocolVersion: 2, publicKey: testPublicKey(3) }),
    )
    expect(error.code).toBe('ENROLLMENT_TOKEN_INVALID')
    expect(error.message).toBe('Send the one-time enrollment token as a Bearer token')
  })

  it('authenticateGateway: a missing or unknown credential is GATEWAY_CREDENTIAL_INVALID', async () => {
    for (const credential of [null, 'kgc_unknown']) {
      const error = await refusal(authenticateGateway(deps, credential))
      expect(error.code).toBe('GATEWAY_CREDENTIAL_INVALID')
      expect(error.message).toBe('Unknown or revoked gateway credential')
    }
  })
})

describe('syncGateway', () => {
  it('since 0: the snapshot at once, preshared keys opened, no wait', async () => {
    addLease('l1', 1)
    addLease('l2', 2, ['us-1'])
    const response = await syncGateway(deps, gateway, { ...SYNC, since: '0', wait: '25' })
    expect(response).toEqual({
      protocolVersion: 2,
      version: 0,
      reset: true,
      upserts: [
        {
          publicKey: testPublicKey(1),
          presharedKey: encodeBase64(PSK),
          allowedIps: ['100.96.0.1/32'],
          routes: ['10.10.0.0/16'],
          expiresAt: now + HOUR,
        },
      ],
      removals: [],
      serverTime: now,
      more: false,
      network: { ipv4: '100.96.0.0/16', ipv6: 'fd7a:115c:a1e0::/64' },
    })
    expect(deps.notifier.waits).toEqual([{ gateway: 'eu-1', timeoutMs: 25_000, since: 0, cancelled: true }])
  })

  it('a gateway behind gets the changes after its version at once', async () => {
    addLease('l1', 1)
    await touch('l1')
    await deps.store.revokeLease('l1', 'r', auditEvent('lease.revoked'), now)
    const response = await syncGateway(deps, gateway, { ...SYNC, since: '1', wait: '25' })
    expect(response).toMatchObject({ version: 2, reset: false, upserts: [], removals: [testPublicKey(1)] })
    expect(deps.notifier.waits).toEqual([{ gateway: 'eu-1', timeoutMs: 25_000, since: 1, cancelled: true }])
    expect(deps.clock.now()).toBe(now)
  })

  it('an up-to-date gateway is held until the deadline, then told nothing changed', async () => {
    addLease('l1', 1)
    const feedVersion = await deps.store.gatewayFeedVersion('eu-1')
    expect(feedVersion).toBe(0)
    await touch('l1')
    let reads = 0
    const read = deps.store.readGatewayFeed
    deps.store.readGatewayFeed = async (...args) => {
      reads++
      return read(...args)
    }
    const response = await syncGateway(deps, gateway, { ...SYNC, since: '1', wait: '5' })
    expect(response).toMatchObject({ version: 1, reset: false, upserts: [], removals: [], more: false })
    expect(response.serverTime).toBe(now + 5_000)
    expect(deps.notifier.waits).toEqual([{ gateway: 'eu-1', timeoutMs: 5_000, since: 1, cancelled: false }])
    expect(reads).toBe(2)
  })

  it('a new gateway on an empty feed gets its empty snapshot at once', async () => {
    const response = await syncGateway(deps, gateway, { ...SYNC, since: '0', wait: '25' })
    expect(response).toMatchObject({ version: 0, reset: true, upserts: [], removals: [] })
    expect(deps.notifier.waits.map((w) => w.cancelled)).toEqual([true])
    expect(deps.clock.now()).toBe(now)
  })

  it('an answer given without waiting costs no lookup of the gateway', async () => {
    deps.store.getGateway = async () => {
      throw new Error('not asked when the poll did not wait')
    }
    addLease('l1', 1)
    await expect(syncGateway(deps, gateway, { ...SYNC, since: '0', wait: '25' })).resolves.toMatchObject({
      reset: true,
    })
  })

  it('without wait, answers at once even with nothing new', async () => {
    const response = await syncGateway(deps, gateway, { ...SYNC, since: '0', wait: '0' })
    expect(response.version).toBe(0)
    expect(deps.notifier.waits).toEqual([])
  })

  it('the runtime’s cap on a held sync wins over the agent’s wait', async () => {
    deps.maxSyncWaitMs = 200
    addLease('l1', 1)
    await touch('l1')
    await syncGateway(deps, gateway, { ...SYNC, since: '1', wait: '30' })
    expect(deps.notifier.waits.map((w) => w.timeoutMs)).toEqual([200])
    expect(deps.clock.now()).toBe(now + 200)
  })

  it('a wake-up with news answers with it; a spurious one waits again for what is left', async () => {
    addLease('l1', 1)
    await touch('l1')
    deps.notifier.nextWake.push(
      () => {
        deps.clock.advance(1_000)
        return 'change'
      },
      () => {
        deps.clock.advance(1_000)
        deps.store.leases.get('l1')!.revokedAt = null
        void deps.store.revokeLease(
          'l1',
          'r',
          {
            type: 'lease.revoked',
            identityId: null,
            leaseId: null,
            gatewayId: null,
            actor: null,
            policyHash: null,
            data: {},
          },
          deps.clock.now(),
        )
        return 'change'
      },
    )
    const response = await syncGateway(deps, gateway, { ...SYNC, since: '1', wait: '10' })
    expect(deps.notifier.waits.map((w) => [w.timeoutMs, w.cancelled])).toEqual([
      [10_000, false],
      [9_000, false],
      [8_000, true],
    ])
    expect(response).toMatchObject({ version: 2, reset: false, upserts: [], removals: [testPublicKey(1)] })
  })

  it('a broker shutting down answers "nothing new" from the gateway’s own version, without reading again', async () => {
    addLease('l1', 1)
    await touch('l1')
    deps.notifier.nextWake.push('shutdown')
    let reads = 0
    const read = deps.store.readGatewayFeed
    deps.store.readGatewayFeed = async (...args) => {
      reads++
      return read(...args)
    }
    const response = await syncGateway(deps, gateway, { ...SYNC, since: '1', wait: '10' })
    expect(response).toMatchObject({ version: 1, reset: false, upserts: [], removals: [], more: false })
    expect(reads).toBe(1)
  })

  it('a gateway removed (or enrolled again) while its poll waited gets nothing more', async () => {
    addLease('l1', 1)
    await touch('l1')
    deps.notifier.nextWake.push(() => {
      deps.store.gateways.delete('eu-1')
      return 'change'
    })
    const removed = await refusal(syncGateway(deps, gateway, { ...SYNC, since: '1', wait: '10' }))
    expect(removed.code).toBe('GATEWAY_CREDENTIAL_INVALID')
    expect(removed.message).toBe('This gateway was removed')

    deps.store.seedGateway({ name: 'eu-1' })
    gateway = { ...gateway, id: 'the-first-enrolment' }
    const reenrolled = await refusal(syncGateway(deps, gateway, { ...SYNC, since: '1', wait: '1' }))
    expect(reenrolled.code).toBe('GATEWAY_CREDENTIAL_INVALID')
  })

  it('a full page of changes says more; one short of it does not', async () => {
    for (const size of [FEED_PAGE_LIMIT, FEED_PAGE_LIMIT - 1]) {
      deps.store.readGatewayFeed = async () => ({
        version: 9,
        reset: false,
        changes: Array.from({ length: size }, (_, i) => ({
          kind: 'remove' as const,
          leaseId: `l${i}`,
          publicKey: `k${i}`,
        })),
      })
      const response = await syncGateway(deps, gateway, { ...SYNC, since: '1' })
      expect(response.more).toBe(size === FEED_PAGE_LIMIT)
    }
    expect(FEED_PAGE_LIMIT).toBe(2_000)
  })

  it('opens each lease’s preshared key once however many changes name it', async () => {
    addLease('l1', 1)
    let opened = 0
    const open = deps.sealer.open
    deps.sealer = {
      ...deps.sealer,
      open: async (c) => {
        opened++
        return open(c)
      },
    }
    deps.store.readGatewayFeed = async () => ({
      version: 3,
      reset: false,
      changes: [1, 2, 3].map((n) => ({
        kind: 'upsert' as const,
        leaseId: 'l1',
        publicKey: testPublicKey(1),
        presharedKeyCiphertext: SEALED_PSK,
        allowedIps: ['100.96.0.1/32'],
        routes: [`10.${n}.0.0/16`],
        expiresAt: now + HOUR,
      })),
    })
    const response = await syncGateway(deps, gateway, { ...SYNC, since: '1' })
    expect(response.upserts.map((u) => u.routes)).toEqual([['10.3.0.0/16']])
    expect(opened).toBe(1)
  })

  it('refuses an agent that speaks another protocol', async () => {
    expect((await refusal(syncGateway(deps, gateway, { since: '0' }))).code).toBe(
      'GATEWAY_PROTOCOL_UNSUPPORTED',
    )
  })
})

describe('removeGateway and status', () => {
  it('removeGateway: gone from the store and the directory, woken, audited with what it held', async () => {
    let invalidated = 0
    const directory: GatewayDirectory = deps.gateways
    deps.gateways = { ...directory, invalidate: () => void invalidated++ }
    const removed = await removeGateway(deps, 'eu-1', 'root@example.com')
    expect(removed.name).toBe('eu-1')
    expect(deps.store.gateways.has('eu-1')).toBe(false)
    expect(invalidated).toBe(1)
    expect(deps.notifier.published).toEqual([['eu-1']])
    expect(deps.store.audit).toMatchObject([
      {
        type: 'gateway.removed',
        gatewayId: 'eu-1',
        actor: 'root@example.com',
        data: { publicKey: testPublicKey(101), addressV4: '100.96.255.1', addressV6: null },
      },
    ])
    expect(deps.logs).toEqual([{ level: 'info', event: 'gateway.removed', fields: { gateway: 'eu-1' } }])
    const error = await refusal(removeGateway(deps, 'eu-1', 'root'))
    expect(error.code).toBe('GATEWAY_UNKNOWN')
    expect(error.message).toBe('No gateway named "eu-1" was added')
    expect(deps.store.audit).toHaveLength(1)
  })

  it('recordGatewayStatus stores what the agent reported, and the health view shows it', async () => {
    await recordGatewayStatus(deps, gateway, {
      protocolVersion: 2,
      appliedVersion: 4,
      peerCount: 2,
      enforcement: 'nftables',
      latestHandshakes: { [testPublicKey(1)]: 5 },
    })
    expect(deps.store.gatewayStatus.get('eu-1')).toEqual({
      appliedVersion: 4,
      peerCount: 2,
      enforcement: 'nftables',
    })
    deps.store.gateways.get('eu-1')!.enrolledAt = now - HOUR
    addLease('l1', 1)
    await touch('l1')

    deps.clock.advance(GATEWAY_HEALTHY_WITHIN_MS - 1)
    expect(await describeGateways(deps)).toEqual([
      {
        name: 'eu-1',
        endpoint: 'eu-1.vpn.example:51820',
        routes: { prod: ['10.10.0.0/16'], office: ['192.168.10.0/24'] },
        enrolled: true,
        publicKey: testPublicKey(101),
        lastSeenAt: now,
        healthy: true,
        appliedVersion: 4,
        feedVersion: 1,
        peerCount: 2,
        enforcement: 'nftables',
      },
      {
        name: 'us-1',
        endpoint: 'us-1.vpn.example:51820',
        routes: { prod: ['10.20.0.0/16'] },
        enrolled: false,
        publicKey: null,
        lastSeenAt: null,
        healthy: false,
        appliedVersion: null,
        feedVersion: 0,
        peerCount: null,
        enforcement: null,
      },
    ])
    deps.clock.advance(1)
    expect((await describeGateways(deps))[0]?.healthy).toBe(false)
  })
})
