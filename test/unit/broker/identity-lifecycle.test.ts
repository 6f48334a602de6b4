// Ending a person's access over in-memory ports: suspension, sign-out everywhere, back-channel logout and
// the expiry sweep; which sessions end, which leases are revoked (with their events, feed removals and
// wake-ups), and the one audit event naming the cause.
import { beforeEach, describe, expect, it } from 'vitest'
import {
  accessBlock,
  backchannelLogout,
  endAccess,
  revokeIdentityLeases,
  signOutEverywhere,
  suspendIdentity,
  unsuspendIdentity,
} from '../../../src/core/broker/identity-lifecycle.ts'
import { sweepExpiredLeases } from '../../../src/core/broker/sweep-leases.ts'
import type { Identity } from '../../../src/core/model.ts'
import {
  BROKER_TEST_POLICY,
  compileTestPolicy,
  createFakeBrokerDeps,
  type FakeBrokerDeps,
  sessionFor,
} from '../../support/fake-broker-deps.ts'
import {
  createFakeIdentityProvider,
  type FakeIdentityProvider,
} from '../../support/fake-identity-provider.ts'
import { refusal } from '../../support/refusal.ts'
import { testPublicKey } from '../../support/test-public-key.ts'

const HOUR = 3_600_000

let deps: FakeBrokerDeps
let alice: Identity
let now: number

function addSession(id: string, identity: Identity, idpSid: string | null = null): void {
  deps.store.sessions.set(id, {
    id,
    identityId: identity.id,
    expiresAt: now + HOUR,
    endedAt: null,
    idpSid,
    refreshTokenCiphertext: null,
    claims: sessionFor(deps, identity),
  })
}

beforeEach(() => {
  deps = createFakeBrokerDeps()
  now = deps.clock.now()
  alice = deps.store.seedIdentity({
    id: 'alice',
    subject: 'sub-alice',
    email: 'alice@example.com',
    emailVerified: true,
    groups: ['engineering'],
  })
  deps.store.seedLease({
    id: 'l1',
    identityId: 'alice',
    publicKey: testPublicKey(1),
    expiresAt: now + HOUR,
    grants: [{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }],
  })
  deps.store.seedLease({
    id: 'l2',
    identityId: 'alice',
    publicKey: testPublicKey(2),
    expiresAt: now + HOUR,
    grants: [
      { gateway: 'eu-1', routes: ['10.10.0.0/16'] },
      { gateway: 'us-1', routes: ['10.20.0.0/16'] },
    ],
  })
  deps.store.seedLease({
    id: 'l-ended',
    identityId: 'alice',
    expiresAt: now - 1,
    grants: [{ gateway: 'x-1', routes: [] }],
  })
  addSession('s1', alice, 'sid-1')
  addSession('s2', alice, 'sid-2')
})

describe('revokeIdentityLeases', () => {
  it('revokes every live lease with its own event and wakes each gateway once', async () => {
    deps.store.seedLease({
      id: 'l-bob',
      identityId: 'bob',
      expiresAt: now + HOUR,
      grants: [{ gateway: 'z-1', routes: [] }],
    })
    expect(await revokeIdentityLeases(deps, 'alice', 'because', 'admin@x')).toBe(2)
    expect(deps.store.audit.map((e) => [e.type, e.leaseId, e.actor, e.policyHash, e.data])).toEqual([
      ['lease.revoked', 'l1', 'admin@x', deps.policy().hash, { reason: 'because', gateways: ['eu-1'] }],
      [
        'lease.revoked',
        'l2',
        'admin@x',
        deps.policy().hash,
        { reason: 'because', gateways: ['eu-1', 'us-1'] },
      ],
    ])
    expect(deps.store.leases.get('l1')?.revokedReason).toBe('because')
    expect(deps.notifier.published).toEqual([['eu-1', 'us-1']])
    expect(deps.store.leases.get('l-bob')?.revokedAt).toBeNull()
  })

  it('counts only leases it revoked; with none, nobody is woken', async () => {
    const revoke = deps.store.revokeLease
    deps.store.revokeLease = async (id, ...rest) => (id === 'l2' ? null : revoke(id, ...rest))
    expect(await revokeIdentityLeases(deps, 'alice', 'r', null)).toBe(1)
    expect(deps.notifier.published).toEqual([['eu-1']])
    expect(await revokeIdentityLeases(deps, 'nobody', 'r', null)).toBe(0)
    expect(deps.notifier.published).toHaveLength(1)
  })
})

describe('endAccess, suspension, sign-out everywhere', () => {
  it('endAccess with a sid ends only that session; the event counts what ended', async () => {
    const ended = await endAccess(deps, {
      identityId: 'alice',
      event: 'identity.signed_out_everywhere',
      actor: 'alice@example.com',
      reason: 'why',
      revokeLeases: false,
      idpSid: 'sid-2',
      data: { extra: 1 },
    })
    expect(ended).toEqual({ sessionsEnded: 1, leasesRevoked: 0 })
    expect(deps.store.sessions.get('s1')?.endedAt).toBeNull()
    expect(deps.store.sessions.get('s2')?.endedAt).toBe(now)
    expect(deps.store.audit).toEqual([
      {
        id: expect.any(String),
        at: now,
        type: 'identity.signed_out_everywhere',
        identityId: 'alice',
        leaseId: null,
        gatewayId: null,
        actor: 'alice@example.com',
        policyHash: deps.policy().hash,
        data: { reason: 'why', sessionsEnded: 1, leasesRevoked: 0, extra: 1 },
      },
    ])
    expect(deps.logs).toEqual([
      {
        level: 'info',
        event: 'identity.signed_out_everywhere',
        fields: { identityId: 'alice', sessions: 1, leasesRevoked: 0 },
      },
    ])
  })

  it('suspendIdentity: suspended, every session ended, every live lease revoked, one identity.suspended', async () => {
    const outcome = await suspendIdentity(deps, 'alice', 'root@example.com')
    expect(outcome).toMatchObject({
      sessionsEnded: 2,
      leasesRevoked: 2,
      identity: { id: 'alice', suspendedAt: now },
    })
    expect(deps.store.identities.get('alice')?.suspendedAt).toBe(now)
    expect([...deps.store.sessions.values()].map((s) => s.endedAt)).toEqual([now, now])
    expect(deps.store.audit.map((e) => e.type)).toEqual([
      'lease.revoked',
      'lease.revoked',
      'identity.suspended',
    ])
    expect(deps.store.audit[2]).toMatchObject({
      actor: 'root@example.com',
      data: { reason: 'identity suspended by an administrator', sessionsEnded: 2, leasesRevoked: 2 },
    })
    expect(deps.store.audit[0]?.data.reason).toBe('identity suspended by an administrator')
  })

  it('suspend and unsuspend an unknown identity: NOT_FOUND', async () => {
    for (const act of [suspendIdentity, unsuspendIdentity]) {
      const error = await refusal(act(deps, 'ghost', 'root@example.com'))
      expect(error.code).toBe('NOT_FOUND')
      expect(error.message).toBe('No identity "ghost" exists')
    }
    deps.store.setIdentitySuspended = async () => null
    const vanished = await refusal(suspendIdentity(deps, 'alice', 'root'))
    expect(vanished.code).toBe('NOT_FOUND')
    expect(vanished.message).toBe('No identity "alice" exists')
    expect(deps.store.audit).toEqual([])
  })

  it('unsuspendIdentity lifts the suspension with its event', async () => {
    deps.store.identities.get('alice')!.suspendedAt = now - HOUR
    const identity = await unsuspendIdentity(deps, 'alice', 'root@example.com')
    expect(identity.suspendedAt).toBeNull()
    expect(deps.store.audit).toMatchObject([
      { type: 'identity.unsuspended', identityId: 'alice', actor: 'root@example.com', data: {} },
    ])
  })

  it('signOutEverywhere ends the sessions and keeps the leases, saying who asked', async () => {
    expect(await signOutEverywhere(deps, 'alice', 'alice@example.com', 'self')).toEqual({
      sessionsEnded: 2,
      leasesRevoked: 0,
    })
    expect(deps.store.leases.get('l1')?.revokedAt).toBeNull()
    expect(deps.store.audit[0]?.type).toBe('identity.signed_out_everywhere')
    expect(deps.store.audit[0]?.data).toEqual({
      reason: 'signed out everywhere by the user',
      sessionsEnded: 2,
      leasesRevoked: 0,
      by: 'self',
    })
    await signOutEverywhere(deps, 'alice', 'root@example.com', 'admin')
    expect(deps.store.audit[1]?.data).toMatchObject({
      reason: 'signed out everywhere by an administrator',
      by: 'admin',
    })
    const ghost = await refusal(signOutEverywhere(deps, 'ghost', null, 'admin'))
    expect(ghost.code).toBe('NOT_FOUND')
    expect(ghost.message).toBe('No identity "ghost" exists')
  })

  it('accessBlock: suspension first, then SCIM deactivation; nothing otherwise', () => {
    expect(accessBlock({ ...alice, suspendedAt: 1 }, { active: false })).toEqual({
      code: 'IDENTITY_SUSPENDED',
      message: 'an administrator suspended this identity',
    })
    expect(accessBlock(alice, { active: false })).toEqual({
      code: 'IDENTITY_DEPROVISIONED',
      message: 'the IdP deactivated this user (SCIM active: false)',
    })
    expect(accessBlock(alice, { active: true })).toBeNull()
    expect(accessBlock(alice, null)).toBeNull()
  })
})

describe('backchannelLogout', () => {
  let idp: FakeIdentityProvider
  const token = (fields: { subject?: string | null; sid?: string | null; jti?: string } = {}) => ({
    issuer: 'https://idp.example',
    subject: 'sub-alice',
    sid: null,
    jti: 'jti-1',
    expiresAt: Math.floor(now / 1000) + 120,
    ...fields,
  })

  beforeEach(() => {
    idp = createFakeIdentityProvider('test')
    deps.idps.set('test', idp)
  })

  it('a user’s logout: sessions ended, leases revoked, one logout.backchannel per identity', async () => {
    idp.logoutToken = token()
    const outcome = await backchannelLogout(deps, 'test', 'the-token')
    expect(idp.calls.verifyLogoutToken).toEqual(['the-token'])
    expect(outcome).toEqual({ identities: 1, sessionsEnded: 2, leasesRevoked: 2 })
    expect(deps.store.logoutTokens.get('https://idp.example jti-1')).toBe(
      (Math.floor(now / 1000) + 120) * 1000,
    )
    expect(deps.store.audit.map((e) => e.type)).toEqual([
      'lease.revoked',
      'lease.revoked',
      'logout.backchannel',
    ])
    expect(deps.store.audit[0]).toMatchObject({
      actor: 'idp:test',
      data: { reason: 'signed out at the identity provider' },
    })
    expect(deps.store.audit[2]).toMatchObject({
      identityId: 'alice',
      actor: 'idp:test',
      policyHash: deps.policy().hash,
      data: { sid: null, sessionsEnded: 2, leasesRevoked: 2, revokeLeases: true },
    })
    expect(deps.logs.at(-1)).toEqual({
      level: 'info',
      event: 'logout.backchannel',
      fields: { idp: 'test', identities: 1, sessions: 2 },
    })
  })

  it('a session’s logout (sid) ends that session; the identity is still found by its subject', async () => {
    idp.logoutToken = token({ sid: 'sid-1' })
    const outcome = await backchannelLogout(deps, 'test', 't')
    expect(outcome).toEqual({ identities: 1, sessionsEnded: 1, leasesRevoked: 2 })
    expect(deps.store.sessions.get('s2')?.endedAt).toBeNull()
    expect(deps.store.audit.at(-1)?.data).toMatchObject({ sid: 'sid-1', sessionsEnded: 1 })
  })

  it('a sid-only logout of an unknown session touches nobody', async () => {
    idp.logoutToken = token({ subject: null, sid: 'sid-unknown' })
    expect(await backchannelLogout(deps, 'test', 't')).toEqual({
      identities: 0,
      sessionsEnded: 0,
      leasesRevoked: 0,
    })
    expect(deps.store.audit).toEqual([])
  })

  it('a sid-only logout reaches the identity of the session it ends', async () => {
    idp.logoutToken = token({ subject: null, sid: 'sid-2' })
    expect(await backchannelLogout(deps, 'test', 't')).toEqual({
      identities: 1,
      sessionsEnded: 1,
      leasesRevoked: 2,
    })
  })

  it('a user’s logout with no live session still revokes that identity’s leases', async () => {
    for (const session of deps.store.sessions.values()) session.endedAt = now - 1
    idp.logoutToken = token()
    expect(await backchannelLogout(deps, 'test', 't')).toEqual({
      identities: 1,
      sessionsEnded: 0,
      leasesRevoked: 2,
    })
    expect(deps.store.audit.at(-1)).toMatchObject({ type: 'logout.backchannel', identityId: 'alice' })
  })

  it('one IdP session shared by two identities: each event counts its own sessions', async () => {
    const bob = deps.store.seedIdentity({ id: 'bob', subject: 'sub-bob' })
    addSession('s-bob', bob, 'sid-1')
    idp.logoutToken = token({ subject: null, sid: 'sid-1' })
    expect(await backchannelLogout(deps, 'test', 't')).toEqual({
      identities: 2,
      sessionsEnded: 2,
      leasesRevoked: 2,
    })
    const events = deps.store.audit.filter((e) => e.type === 'logout.backchannel')
    expect(events.map((e) => [e.identityId, e.data.sessionsEnded, e.data.leasesRevoked])).toEqual([
      ['alice', 1, 2],
      ['bob', 1, 0],
    ])
  })

  it('a subject with no identity here ends nothing and writes nothing', async () => {
    idp.logoutToken = token({ subject: 'sub-stranger' })
    expect(await backchannelLogout(deps, 'test', 't')).toEqual({
      identities: 0,
      sessionsEnded: 0,
      leasesRevoked: 0,
    })
  })

  it('with sessions.idpLogoutRevokesLeases false, sessions end and leases stay', async () => {
    deps.setPolicy(
      compileTestPolicy(
        BROKER_TEST_POLICY.replace('"leases":', '"sessions": { "idpLogoutRevokesLeases": false }, "leases":'),
      ),
    )
    idp.logoutToken = token()
    expect(await backchannelLogout(deps, 'test', 't')).toEqual({
      identities: 1,
      sessionsEnded: 2,
      leasesRevoked: 0,
    })
    expect(deps.store.leases.get('l1')?.revokedAt).toBeNull()
    expect(deps.store.audit.map((e) => e.type)).toEqual(['logout.backchannel'])
    expect(deps.store.audit[0]?.data).toMatchObject({ revokeLeases: false, leasesRevoked: 0 })
  })

  it('refuses a replayed token, an unknown IdP and a missing token, ending nothing', async () => {
    idp.logoutToken = token()
    await backchannelLogout(deps, 'test', 't')
    addSession('s3', alice)
    const replay = await refusal(backchannelLogout(deps, 'test', 't'))
    expect(replay.code).toBe('INVALID_REQUEST')
    expect(replay.message).toBe('This logout token was already used (jti seen before)')
    expect(deps.store.sessions.get('s3')?.endedAt).toBeNull()

    const unknown = await refusal(backchannelLogout(deps, 'other', 't'))
    expect(unknown.code).toBe('INVALID_REQUEST')
    expect(unknown.message).toBe('No identity provider "other" is configured')
    for (const missing of ['', undefined, 42]) {
      const error = await refusal(backchannelLogout(deps, 'test', missing))
      expect(error.code).toBe('INVALID_REQUEST')
      expect(error.message).toBe('Send the logout token as the form parameter logout_token')
    }
    expect(idp.calls.verifyLogoutToken).toEqual(['t', 't'])
  })
})

describe('sweepExpiredLeases', () => {
  it('ends what expired, with lease.expired and a removal per gateway, and wakes those gateways', async () => {
    deps.clock.advance(HOUR)
    expect(await sweepExpiredLeases(deps)).toBe(3)
    expect(deps.store.audit.map((e) => [e.type, e.leaseId])).toEqual([
      ['lease.expired', 'l1'],
      ['lease.expired', 'l2'],
      ['lease.expired', 'l-ended'],
    ])
    expect(deps.store.feeds.get('us-1')).toEqual([
      { version: 1, change: { kind: 'remove', leaseId: 'l2', publicKey: testPublicKey(2) } },
    ])
    expect(deps.notifier.published).toEqual([['eu-1', 'us-1', 'x-1']])
    expect(await sweepExpiredLeases(deps)).toBe(0)
    expect(deps.notifier.published).toHaveLength(1)
  })
})
