// What SCIM provisioning does to access, over in-memory ports: tokens, a user deactivated or deleted
// (sessions ended, leases revoked, identity.deprovisioned), a group's membership or name changed (groups
// changed, leases re-judged, sessions ended only when a group was lost).
import { beforeEach, describe, expect, it } from 'vitest'
import { hashSecret } from '../../../src/core/broker/gateway-feed.ts'
import {
  applyScimGroupChange,
  applyScimUserChange,
  authenticateScim,
  createScimToken,
} from '../../../src/core/broker/scim-provisioning.ts'
import type { ScimGroup, ScimUser } from '../../../src/core/model.ts'
import {
  BROKER_TEST_POLICY,
  compileTestPolicy,
  createFakeBrokerDeps,
  type FakeBrokerDeps,
  mfaAuth,
  sessionFor,
} from '../../support/fake-broker-deps.ts'
import { createFakeIdentityProvider } from '../../support/fake-identity-provider.ts'
import { refusal } from '../../support/refusal.ts'

const HOUR = 3_600_000

let deps: FakeBrokerDeps
let now: number
let user: ScimUser

function group(fields: Partial<ScimGroup>): ScimGroup {
  return {
    id: 'g1',
    idpId: 'test',
    displayName: 'engineering',
    externalId: null,
    members: [],
    createdAt: 0,
    updatedAt: 0,
    ...fields,
  }
}

beforeEach(() => {
  deps = createFakeBrokerDeps()
  now = deps.clock.now()
  deps.idps.set('test', createFakeIdentityProvider('test'))
  const alice = deps.store.seedIdentity({
    id: 'alice',
    email: 'alice@example.com',
    emailVerified: true,
    groups: ['engineering'],
  })
  deps.store.sessions.set('s1', {
    id: 's1',
    identityId: 'alice',
    expiresAt: now + HOUR,
    endedAt: null,
    idpSid: null,
    refreshTokenCiphertext: null,
    claims: sessionFor(deps, alice),
  })
  deps.store.seedLease({
    id: 'l1',
    identityId: 'alice',
    createdAt: now,
    expiresAt: now + 8 * HOUR,
    grants: [{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }],
    auth: mfaAuth(now),
  })
  user = {
    id: 'u1',
    idpId: 'test',
    userName: 'alice@example.com',
    externalId: null,
    active: true,
    resource: {},
    identityId: 'alice',
    createdAt: 0,
    updatedAt: 0,
  }
  deps.store.scimUsers.set('u1', user)
})

describe('SCIM tokens', () => {
  it('createScimToken: a kgs_ token whose hash alone is stored, audited; it authenticates its IdP', async () => {
    const token = await createScimToken(deps, 'test', 'local-cli')
    expect(token).toMatch(/^kgs_[A-Za-z0-9_-]{43}$/)
    expect([...deps.store.scimTokens]).toEqual([[hashSecret(token), 'test']])
    expect(deps.store.audit).toMatchObject([
      { type: 'scim.token_created', actor: 'local-cli', data: { idp: 'test' } },
    ])
    expect(await authenticateScim(deps, token)).toBe('test')
  })

  it('createScimToken for an unknown IdP is UNKNOWN_IDP', async () => {
    const error = await refusal(createScimToken(deps, 'nope', 'local-cli'))
    expect(error.code).toBe('UNKNOWN_IDP')
    expect(error.message).toBe('No identity provider "nope" is configured')
    expect(error.details).toEqual({ known: ['test'] })
  })

  it('authenticateScim refuses no token, an unknown one, and one of an IdP no longer configured', async () => {
    const token = await createScimToken(deps, 'test', 'local-cli')
    for (const t of [null, 'kgs_other']) {
      const error = await refusal(authenticateScim(deps, t))
      expect(error.code).toBe('UNAUTHENTICATED')
      expect(error.message).toBe('Unknown SCIM bearer token')
    }
    deps.idps.clear()
    expect((await refusal(authenticateScim(deps, token))).code).toBe('UNAUTHENTICATED')
  })
})

describe('applyScimUserChange', () => {
  it('active → inactive: sessions ended, leases revoked, identity.deprovisioned naming the SCIM user', async () => {
    await applyScimUserChange(deps, user, { ...user, active: false })
    expect(deps.store.sessions.get('s1')?.endedAt).toBe(now)
    expect(deps.store.leases.get('l1')?.revokedReason).toBe('deactivated at the IdP (SCIM active: false)')
    expect(deps.store.audit.map((e) => e.type)).toEqual(['lease.revoked', 'identity.deprovisioned'])
    expect(deps.store.audit[1]).toMatchObject({
      identityId: 'alice',
      actor: 'scim:test',
      data: {
        reason: 'deactivated at the IdP (SCIM active: false)',
        sessionsEnded: 1,
        leasesRevoked: 1,
        idp: 'test',
        scimUser: 'u1',
        userName: 'alice@example.com',
      },
    })
  })

  it('deleted: the same, with the deletion as the reason; created inactive counts as a deactivation', async () => {
    await applyScimUserChange(deps, user, null)
    expect(deps.store.audit.at(-1)?.data.reason).toBe('deleted at the IdP (SCIM)')
    deps.store.audit.length = 0
    await applyScimUserChange(deps, null, { ...user, active: false })
    expect(deps.store.audit.map((e) => e.type)).toEqual(['identity.deprovisioned'])
  })

  it('no change of access: still active, already inactive, reactivated, unlinked, or nothing at all', async () => {
    await applyScimUserChange(deps, user, { ...user, userName: 'renamed' })
    await applyScimUserChange(deps, { ...user, active: false }, { ...user, active: false })
    await applyScimUserChange(deps, { ...user, active: false }, null)
    await applyScimUserChange(deps, { ...user, active: false }, user)
    await applyScimUserChange(deps, { ...user, identityId: null }, null)
    await applyScimUserChange(deps, null, null)
    expect(deps.store.audit).toEqual([])
    expect(deps.store.sessions.get('s1')?.endedAt).toBeNull()
  })
})

describe('applyScimGroupChange', () => {
  it('a member removed: its groups lose the value, its leases are re-judged, its sessions end', async () => {
    const before = group({ members: ['u1'] })
    const outcome = await applyScimGroupChange(deps, before, { ...before, members: [] })
    expect(outcome).toEqual({ identities: 1, revoked: 1, updated: 0 })
    expect(deps.store.identities.get('alice')?.groups).toEqual([])
    expect(deps.store.sessions.get('s1')?.endedAt).toBe(now)
    expect(deps.store.audit.map((e) => e.type)).toEqual(['identity.groups_changed', 'lease.revoked'])
    const cause = {
      cause: 'scim.group_membership',
      idp: 'test',
      group: 'engineering',
      added: [],
      removed: ['engineering'],
    }
    expect(deps.store.audit[0]).toMatchObject({
      identityId: 'alice',
      actor: 'scim:test',
      policyHash: deps.policy().hash,
      data: { ...cause, groups: [] },
    })
    expect(deps.store.audit[1]).toMatchObject({ actor: 'scim:test', data: cause })
  })

  it('a member added: its groups gain the values (name and external id), sorted; sessions stay', async () => {
    deps.store.identities.get('alice')!.groups = ['zeta']
    const before = group({ externalId: 'ops-id', displayName: 'ops' })
    deps.store.scimGroups.set('g1', { ...before, members: ['u1'] })
    const outcome = await applyScimGroupChange(deps, before, { ...before, members: ['u1'] })
    expect(outcome).toEqual({ identities: 1, revoked: 1, updated: 0 })
    expect(deps.store.identities.get('alice')?.groups).toEqual(['ops', 'ops-id', 'zeta'])
    expect(deps.store.audit[0]?.data).toMatchObject({
      added: ['ops', 'ops-id'],
      removed: [],
      groups: ['ops', 'ops-id', 'zeta'],
    })
    expect(deps.store.sessions.get('s1')?.endedAt).toBeNull()
  })

  it('a value another of the user’s groups still gives stays', async () => {
    deps.store.scimGroups.set('g2', group({ id: 'g2', members: ['u1'] }))
    const before = group({ members: ['u1'] })
    const outcome = await applyScimGroupChange(deps, before, null)
    expect(outcome).toEqual({ identities: 0, revoked: 0, updated: 0 })
    expect(deps.store.identities.get('alice')?.groups).toEqual(['engineering'])
    expect(deps.store.audit).toEqual([])
  })

  it('a rename re-values every member: the old name goes, the new one comes', async () => {
    const before = group({ members: ['u1'] })
    const outcome = await applyScimGroupChange(deps, before, { ...before, displayName: 'eng' })
    expect(outcome.identities).toBe(1)
    expect(deps.store.identities.get('alice')?.groups).toEqual(['eng'])
    expect(deps.store.audit[0]?.data).toMatchObject({
      group: 'eng',
      added: ['eng'],
      removed: ['engineering'],
    })
  })

  it('members that did not change, unknown or unlinked users, and vanished identities are skipped', async () => {
    deps.store.scimUsers.set('u2', { ...user, id: 'u2', identityId: null })
    deps.store.scimUsers.set('u3', { ...user, id: 'u3', identityId: 'ghost' })
    deps.store.scimUsers.set('u4', { ...user, id: 'u4', idpId: 'other' })
    const before = group({ members: ['u1'] })
    const outcome = await applyScimGroupChange(deps, before, {
      ...before,
      members: ['u1', 'u2', 'u3', 'u4', 'u-none'],
    })
    expect(outcome).toEqual({ identities: 0, revoked: 0, updated: 0 })
    expect(deps.store.audit).toEqual([])
    expect(await applyScimGroupChange(deps, null, null)).toEqual({ identities: 0, revoked: 0, updated: 0 })
  })

  it('a value only a group the user is not in still gives is removed all the same', async () => {
    deps.store.scimGroups.set('g2', group({ id: 'g2', members: [] }))
    const before = group({ members: ['u1'] })
    await applyScimGroupChange(deps, before, { ...before, members: [] })
    expect(deps.store.identities.get('alice')?.groups).toEqual([])
  })

  it('a change that leaves the groups as they are (in any order) writes nothing', async () => {
    deps.store.identities.get('alice')!.groups = ['zeta', 'engineering']
    deps.store.scimGroups.set('g2', group({ id: 'g2', members: ['u1'] }))
    const before = group({ members: [] })
    deps.store.scimGroups.set('g1', { ...before, members: ['u1'] })
    expect(await applyScimGroupChange(deps, before, { ...before, members: ['u1'] })).toEqual({
      identities: 0,
      revoked: 0,
      updated: 0,
    })
    expect(deps.store.audit).toEqual([])
    expect(deps.store.sessions.get('s1')?.endedAt).toBeNull()
  })

  it('the event names only the values that really came or went', async () => {
    const before = group({ externalId: 'eng-id', members: [] })
    deps.store.scimGroups.set('g1', { ...before, members: ['u1'] })
    await applyScimGroupChange(deps, before, { ...before, members: ['u1'] })
    expect(deps.store.audit[0]?.data).toMatchObject({ added: ['eng-id'], removed: [] })

    deps.store.audit.length = 0
    deps.store.identities.get('alice')!.groups = ['engineering', 'zeta']
    const leaving = group({ externalId: 'eng-x', members: ['u1'] })
    deps.store.scimGroups.set('g1', { ...leaving, members: [] })
    await applyScimGroupChange(deps, leaving, { ...leaving, members: [] })
    expect(deps.store.audit[0]?.data).toMatchObject({ added: [], removed: ['engineering'], groups: ['zeta'] })
  })

  it('a rename that keeps the joined text is still a rename', async () => {
    deps.store.identities.get('alice')!.groups = ['ab', 'c']
    const before = group({ displayName: 'ab', externalId: 'c', members: ['u1'] })
    const after = { ...before, displayName: 'a', externalId: 'bc' }
    deps.store.scimGroups.set('g1', after)
    await applyScimGroupChange(deps, before, after)
    expect(deps.store.identities.get('alice')?.groups).toEqual(['a', 'bc'])
  })

  it('a membership that widens a lease counts it as updated', async () => {
    deps.setPolicy(
      compileTestPolicy(
        BROKER_TEST_POLICY.replace(
          '"grants": [',
          '"grants": [ { "src": ["idp:*:ops"], "dst": ["eu-1:office"], "assurance": "mfa", "ttl": "8h" },',
        ),
      ),
    )
    const before = group({ displayName: 'ops', members: [] })
    deps.store.scimGroups.set('g1', { ...before, members: ['u1'] })
    const outcome = await applyScimGroupChange(deps, before, { ...before, members: ['u1'] })
    expect(outcome).toEqual({ identities: 1, revoked: 0, updated: 1 })
    expect(deps.store.leases.get('l1')?.grants).toEqual([
      { gateway: 'eu-1', routes: ['10.10.0.0/16', '192.168.10.0/24'] },
    ])
  })

  it('a group created with the user as a member adds it once it was not there', async () => {
    deps.store.identities.get('alice')!.groups = []
    const created = group({ members: ['u1'] })
    const outcome = await applyScimGroupChange(deps, null, created)
    expect(outcome).toEqual({ identities: 1, revoked: 0, updated: 0 })
    expect(deps.store.identities.get('alice')?.groups).toEqual(['engineering'])
  })
})
