// Re-judging live leases after a policy swap and after an identity's groups changed, over in-memory
// ports: which leases are kept, widened, shortened or revoked, the audit event each outcome writes, the
// feed entries it appends and the gateways it wakes.
import { beforeEach, describe, expect, it } from 'vitest'
import { applyPolicySwap, reevaluateIdentityLeases } from '../../../src/core/broker/apply-policy-swap.ts'
import type { CompiledPolicy } from '../../../src/core/policy/index.ts'
import {
  BROKER_TEST_POLICY,
  compileTestPolicy,
  createFakeBrokerDeps,
  type FakeBrokerDeps,
  mfaAuth,
} from '../../support/fake-broker-deps.ts'
import { testPublicKey } from '../../support/test-public-key.ts'

const HOUR = 3_600_000
const ENG_GRANT =
  '{ "src": ["group:eng"], "dst": ["eu-1:prod"], "assurance": "mfa", "ttl": "8h", "onUnmet": "stepUp" }'

function policyWith(engGrant: string): CompiledPolicy {
  return compileTestPolicy(BROKER_TEST_POLICY.replace(ENG_GRANT, engGrant))
}

let deps: FakeBrokerDeps
let previous: CompiledPolicy
let now: number

beforeEach(() => {
  deps = createFakeBrokerDeps()
  previous = deps.policy()
  now = deps.clock.now()
  deps.store.seedIdentity({
    id: 'alice',
    email: 'alice@example.com',
    emailVerified: true,
    groups: ['engineering'],
  })
  deps.store.seedLease({
    id: 'l1',
    identityId: 'alice',
    publicKey: testPublicKey(1),
    createdAt: now,
    expiresAt: now + 8 * HOUR,
    grants: [{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }],
    matchedGrants: ['grants[0]'],
    auth: mfaAuth(now),
    policyHash: previous.hash,
  })
})

describe('applyPolicySwap', () => {
  it('widens a live lease the new policy grants more: updated, audited, on the feed, gateway woken', async () => {
    const next = policyWith(ENG_GRANT.replace('eu-1:prod', 'eu-1:*'))
    const outcome = await applyPolicySwap(deps, previous, next)
    expect(outcome).toEqual({ checked: 1, revoked: 0, updated: 1 })
    const grants = [{ gateway: 'eu-1', routes: ['10.10.0.0/16', '192.168.10.0/24'] }]
    expect(deps.store.leases.get('l1')).toMatchObject({
      grants,
      expiresAt: now + 8 * HOUR,
      policyHash: next.hash,
    })
    expect(deps.store.audit).toHaveLength(1)
    expect(deps.store.audit[0]).toMatchObject({
      type: 'lease.updated',
      identityId: 'alice',
      leaseId: 'l1',
      actor: 'policy',
      policyHash: next.hash,
      data: {
        previousPolicyHash: previous.hash,
        policyHash: next.hash,
        previousExpiresAt: now + 8 * HOUR,
        expiresAt: now + 8 * HOUR,
        grants,
        matchedGrants: ['grants[0]'],
      },
    })
    expect(
      (deps.store.audit[0]?.data.reasons as Array<{ code: string }> | undefined)?.map((r) => r.code),
    ).toEqual(['LEASE_ROUTES_CHANGED'])
    expect(deps.store.feeds.get('eu-1')?.map((e) => e.change)).toEqual([
      expect.objectContaining({ kind: 'upsert', leaseId: 'l1', routes: ['10.10.0.0/16', '192.168.10.0/24'] }),
    ])
    expect(deps.notifier.published).toEqual([['eu-1']])
    expect(deps.logs).toEqual([
      {
        level: 'info',
        event: 'policy.leases_reevaluated',
        fields: { previous: previous.hash, next: next.hash, checked: 1, revoked: 0, updated: 1 },
      },
    ])
  })

  it('shortens a lease the new policy allows for less time: lease.shortened', async () => {
    const next = policyWith(ENG_GRANT.replace('"8h"', '"1h"'))
    expect(await applyPolicySwap(deps, previous, next)).toEqual({ checked: 1, revoked: 0, updated: 1 })
    expect(deps.store.leases.get('l1')?.expiresAt).toBe(now + HOUR)
    expect(deps.store.audit[0]).toMatchObject({
      type: 'lease.shortened',
      data: { previousExpiresAt: now + 8 * HOUR, expiresAt: now + HOUR },
    })
  })

  it('takes a gateway the new policy no longer grants off a lease: an upsert here, a removal there', async () => {
    deps.store.leases.get('l1')!.grants = [
      { gateway: 'us-1', routes: ['10.20.0.0/16'] },
      { gateway: 'eu-1', routes: ['10.10.0.0/16'] },
    ]
    expect(await applyPolicySwap(deps, previous, previous)).toEqual({ checked: 1, revoked: 0, updated: 1 })
    expect(deps.store.leases.get('l1')?.grants).toEqual([{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }])
    expect(deps.store.feeds.get('eu-1')?.map((e) => e.change.kind)).toEqual(['upsert'])
    expect(deps.store.feeds.get('us-1')?.map((e) => e.change.kind)).toEqual(['remove'])
    expect(deps.notifier.published).toEqual([['us-1', 'eu-1']])
  })

  it('revokes a lease the new policy no longer allows, with the reasons and both hashes', async () => {
    const next = policyWith(ENG_GRANT.replace('group:eng', 'group:admins'))
    expect(await applyPolicySwap(deps, previous, next)).toEqual({ checked: 1, revoked: 1, updated: 0 })
    expect(deps.store.leases.get('l1')).toMatchObject({
      revokedAt: now,
      revokedReason: 'no longer allowed by the policy',
    })
    expect(deps.store.audit).toEqual([
      {
        id: expect.any(String),
        at: now,
        type: 'lease.revoked',
        identityId: 'alice',
        leaseId: 'l1',
        gatewayId: null,
        actor: 'policy',
        policyHash: next.hash,
        data: {
          previousPolicyHash: previous.hash,
          policyHash: next.hash,
          reasons: [expect.objectContaining({ code: 'NO_MATCHING_GRANT' })],
        },
      },
    ])
    expect(deps.store.feeds.get('eu-1')?.map((e) => e.change.kind)).toEqual(['remove'])
    expect(deps.notifier.published).toEqual([['eu-1']])
  })

  it('keeps what the new policy still allows as it is: nothing written, nobody woken', async () => {
    const next = policyWith(`${ENG_GRANT}, { "src": ["group:admins"], "dst": ["us-1:prod"] }`)
    expect(next.hash).not.toBe(previous.hash)
    expect(await applyPolicySwap(deps, previous, next)).toEqual({ checked: 1, revoked: 0, updated: 0 })
    expect(deps.store.audit).toEqual([])
    expect(deps.store.feeds.size).toBe(0)
    expect(deps.notifier.published).toEqual([])
  })

  it('revokes a lease whose identity no longer exists', async () => {
    deps.store.seedLease({
      id: 'l-ghost',
      identityId: 'ghost',
      grants: [{ gateway: 'us-1', routes: ['10.20.0.0/16'] }],
    })
    const outcome = await applyPolicySwap(deps, previous, previous)
    expect(outcome).toEqual({ checked: 2, revoked: 1, updated: 0 })
    expect(deps.store.audit[0]).toMatchObject({
      type: 'lease.revoked',
      leaseId: 'l-ghost',
      data: { reasons: [{ code: 'IDENTITY_UNKNOWN', message: 'the lease’s identity no longer exists' }] },
    })
    expect(deps.notifier.published).toEqual([['us-1']])
  })

  it('judges the subject as sign-in does: an unverified email stops counting for user: members', async () => {
    deps.store.seedIdentity({ id: 'root', email: 'root@example.com', emailVerified: false })
    deps.store.seedLease({
      id: 'l-root',
      identityId: 'root',
      createdAt: now,
      expiresAt: now + HOUR,
      grants: [{ gateway: 'us-1', routes: ['10.20.0.0/16'] }],
      auth: mfaAuth(now),
    })
    const outcome = await applyPolicySwap(deps, previous, previous)
    expect(outcome).toEqual({ checked: 2, revoked: 1, updated: 0 })
    expect(deps.store.leases.get('l-root')?.revokedAt).toBe(now)
    expect(deps.store.leases.get('l1')?.revokedAt).toBeNull()
  })

  it('judges with the sign-in kept on the lease: one too old for the new policy is revoked', async () => {
    deps.store.leases.get('l1')!.auth = mfaAuth(now, { authTime: Math.floor(now / 1000) - 2 * 3600 })
    const next = compileTestPolicy(BROKER_TEST_POLICY.replace('"maxAuthAge": "12h"', '"maxAuthAge": "1h"'))
    expect(await applyPolicySwap(deps, previous, next)).toEqual({ checked: 1, revoked: 1, updated: 0 })
  })

  it('reads each identity once, counts only the writes that happened, and skips ended leases', async () => {
    deps.store.seedLease({
      id: 'l2',
      identityId: 'alice',
      createdAt: now,
      expiresAt: now + 8 * HOUR,
      grants: [{ gateway: 'us-1', routes: ['10.20.0.0/16'] }],
    })
    deps.store.seedLease({
      id: 'l-ended',
      identityId: 'alice',
      expiresAt: now - 1,
      grants: [{ gateway: 'us-1', routes: [] }],
    })
    let reads = 0
    const getIdentity = deps.store.getIdentity
    deps.store.getIdentity = async (id) => {
      reads += 1
      return getIdentity(id)
    }
    const revoke = deps.store.revokeLease
    deps.store.revokeLease = async (id, ...rest) => (id === 'l2' ? null : revoke(id, ...rest))
    const next = policyWith(ENG_GRANT.replace('group:eng', 'group:admins'))
    expect(await applyPolicySwap(deps, previous, next)).toEqual({ checked: 2, revoked: 1, updated: 0 })
    expect(reads).toBe(1)
    expect(deps.notifier.published).toEqual([['eu-1', 'us-1']])
  })

  it('an update the store finds ended is not counted', async () => {
    deps.store.updateLease = async () => null
    const next = policyWith(ENG_GRANT.replace('"8h"', '"1h"'))
    expect(await applyPolicySwap(deps, previous, next)).toEqual({ checked: 1, revoked: 0, updated: 0 })
  })
})

describe('reevaluateIdentityLeases', () => {
  it('re-judges one identity’s leases under the live policy, audited with the cause given', async () => {
    deps.store.seedIdentity({ id: 'bob', groups: ['engineering'] })
    deps.store.seedLease({
      id: 'l-bob',
      identityId: 'bob',
      createdAt: now,
      expiresAt: now + 8 * HOUR,
      grants: [{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }],
    })
    deps.store.identities.get('alice')!.groups = []
    deps.store.identities.get('bob')!.groups = []
    const outcome = await reevaluateIdentityLeases(deps, 'alice', {
      actor: 'scim:test',
      data: { cause: 'x' },
    })
    expect(outcome).toEqual({ checked: 1, revoked: 1, updated: 0 })
    expect(deps.store.audit[0]).toMatchObject({
      type: 'lease.revoked',
      leaseId: 'l1',
      actor: 'scim:test',
      policyHash: deps.policy().hash,
      data: { cause: 'x', reasons: [expect.objectContaining({ code: 'NO_MATCHING_GRANT' })] },
    })
    expect(deps.store.leases.get('l-bob')?.revokedAt).toBeNull()
    expect(deps.logs).toEqual([])
  })
})
