// SCIM provisioning end to end on the database KEYGATE_TEST_DB names: request sequences shaped like
// Okta's and Entra ID's documented provisioning calls (look up, create user, push group, add to group,
// remove from group, deactivate, delete), each effect on sessions, leases and sign-in asserted through
// the broker's own API, and malformed bodies answered in the SCIM error format without changing anything.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { lifecyclePolicy } from '../../fixtures/lifecycle-policy.ts'
import type { CookieJar } from '../../support/login-driver.ts'
import {
  createScimToken,
  ENTERPRISE_SCHEMA,
  ERROR_SCHEMA,
  GROUP_SCHEMA,
  localAdminToken,
  PATCH_SCHEMA,
  type ScimCall,
  scimClient,
  USER_SCHEMA,
} from '../../support/scim-client.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { MFA_SCENARIO, type TestIdpScenario } from '../../support/test-idp.ts'

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely
type Json = Record<string, any>

const newPublicKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey

describe('SCIM provisioning', () => {
  let broker: TestBroker
  let scim: ScimCall
  let admin: string

  beforeAll(async () => {
    broker = await startTestBroker({ policy: lifecyclePolicy() })
    scim = scimClient(broker.origin, await createScimToken(broker.origin, broker.dataDir, 'test'))
    admin = await localAdminToken(broker.dataDir)
  })
  afterAll(async () => {
    await broker?.close()
  })

  const adminApi = (path: string, init: RequestInit = {}) =>
    fetch(`${broker.origin}/api/v1/admin${path}`, {
      ...init,
      headers: { authorization: `Bearer ${admin}`, ...(init.headers ?? {}) },
    })
  const leasesOf = async (identityId: string): Promise<Json[]> =>
    ((await (await adminApi(`/leases?identity=${identityId}&state=active`)).json()) as Json).leases
  const auditOf = async (identityId: string): Promise<Json[]> =>
    ((await (await adminApi(`/audit?identity=${identityId}`)).json()) as Json).events
  const me = async (jar: CookieJar) => broker.api(jar, '/api/v1/me')

  async function signInWithLease(scenario: TestIdpScenario) {
    const { jar } = await broker.login(scenario)
    const issued = await broker.api(jar, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: newPublicKey() },
    })
    expect(issued.status).toBe(201)
    const lease = (await issued.json()) as Json
    const all = ((await (await adminApi('/leases')).json()) as Json).leases as Json[]
    const identityId = all.find((l) => l.id === lease.id)?.identityId as string
    return { jar, identityId, lease }
  }

  it('refuses a request without the IdP token, in the SCIM error format', async () => {
    const answer = await scimClient(broker.origin, 'kgs_wrong')('GET', '/Users')
    expect(answer.status).toBe(401)
    expect(answer.contentType).toContain('application/scim+json')
    expect(answer.body).toMatchObject({ schemas: [ERROR_SCHEMA], status: '401' })
  })

  it('describes itself: ServiceProviderConfig, Schemas, ResourceTypes', async () => {
    const config = await scim('GET', '/ServiceProviderConfig')
    expect(config.status).toBe(200)
    expect(config.body).toMatchObject({
      patch: { supported: true },
      filter: { supported: true },
      bulk: { supported: false },
    })
    const schemas = await scim('GET', '/Schemas')
    expect(schemas.body.Resources.map((s: Json) => s.id)).toEqual(
      expect.arrayContaining([USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA]),
    )
    const types = await scim('GET', '/ResourceTypes')
    expect(types.body.Resources.map((t: Json) => t.name)).toEqual(expect.arrayContaining(['User', 'Group']))
  })

  it('Okta: create, push group, add, remove (lease re-routed), deactivate (access ends), as Okta sends them', async () => {
    const scenario = {
      ...MFA_SCENARIO,
      sub: 'okta-carol',
      email: 'carol@example.com',
      groups: ['engineering', 'ops'],
    }
    const { jar, identityId, lease } = await signInWithLease(scenario)
    expect(lease.gateways.map((g: Json) => g.name).sort()).toEqual(['gw-a', 'gw-b'])

    // Okta looks the user up first, then creates it.
    const lookup = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent('userName eq "carol@example.com"')}&startIndex=1&count=100`,
    )
    expect(lookup.body).toMatchObject({ totalResults: 0, Resources: [] })
    const created = await scim('POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName: 'carol@example.com',
      name: { givenName: 'Carol', familyName: 'Example' },
      emails: [{ primary: true, value: 'carol@example.com', type: 'work' }],
      displayName: 'Carol Example',
      locale: 'en-US',
      externalId: '00u1abcdEFGH',
      groups: [],
      active: true,
    })
    expect(created.status).toBe(201)
    const userId = created.body.id as string
    expect(created.body).toMatchObject({
      userName: 'carol@example.com',
      active: true,
      name: { givenName: 'Carol' },
    })
    const found = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "Carol@Example.com"')}`)
    expect(found.body.totalResults).toBe(1)
    expect((await scim('GET', `/Users/${userId}`)).body.id).toBe(userId)

    // Push Groups: the group, then its member.
    const group = await scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'ops', members: [] })
    expect(group.status).toBe(201)
    const groupId = group.body.id as string
    const added = await scim('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: 'add', path: 'members', value: [{ value: userId, display: 'carol@example.com' }] }],
    })
    expect(added.status).toBe(200)
    expect(added.body.members.map((m: Json) => m.value)).toEqual([userId])

    // Removing carol from "ops" takes gw-b from her live lease at once (re-judged as on a policy swap).
    const removed = await scim('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: 'remove', path: `members[value eq "${userId}"]` }],
    })
    expect(removed.status).toBe(200)
    expect(removed.body.members ?? []).toEqual([])
    const [after] = await leasesOf(identityId)
    expect(after!.id).toBe(lease.id)
    expect(after!.gateways.map((g: Json) => g.gateway)).toEqual(['gw-a'])
    const events = await auditOf(identityId)
    const changed = events.find((e) => e.type === 'identity.groups_changed')
    expect(changed?.data).toMatchObject({ cause: 'scim.group_membership', group: 'ops', removed: ['ops'] })
    const updated = events.find((e) => e.type === 'lease.updated' && e.leaseId === lease.id)
    expect(updated).toMatchObject({ actor: 'scim:test', data: { cause: 'scim.group_membership' } })
    // The session that was judged with "ops" cannot mint with it any more.
    expect((await me(jar)).status).toBe(401)

    // Deactivation: Okta's replace without a path.
    const { jar: jar2, lease: lease2 } = await signInWithLease(scenario)
    const deactivated = await scim('PATCH', `/Users/${userId}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: 'replace', value: { active: false } }],
    })
    expect(deactivated.status).toBe(200)
    expect(deactivated.body.active).toBe(false)
    expect(await leasesOf(identityId)).toEqual([])
    expect((await me(jar2)).status).toBe(401)
    expect((await auditOf(identityId)).find((e) => e.type === 'identity.deprovisioned')?.data).toMatchObject({
      leasesRevoked: 2,
    })
    expect(
      (await auditOf(identityId)).some((e) => e.type === 'lease.revoked' && e.leaseId === lease2.id),
    ).toBe(true)
    const refused = await broker.login(scenario)
    expect(refused.response.status).toBe(403)
    expect(((await refused.response.json()) as Json).error).toMatchObject({ code: 'IDENTITY_SUSPENDED' })

    // Reactivated, carol may sign in again; Okta's group delete is accepted.
    await scim('PATCH', `/Users/${userId}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: 'replace', value: { active: true } }],
    })
    expect((await broker.login(scenario)).response.status).toBe(303)
    expect((await scim('DELETE', `/Groups/${groupId}`)).status).toBe(204)
    expect((await scim('GET', `/Groups/${groupId}`)).status).toBe(404)
  })

  it('Entra ID: capitalised ops, string booleans, members paths, delete', async () => {
    const scenario = {
      ...MFA_SCENARIO,
      sub: 'entra-dave',
      email: 'dave@example.com',
      groups: ['engineering'],
    }
    const lookup = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "dave@example.com"')}`)
    expect(lookup.body.totalResults).toBe(0)
    const created = await scim('POST', '/Users', {
      schemas: [USER_SCHEMA, ENTERPRISE_SCHEMA],
      externalId: 'dave',
      userName: 'dave@example.com',
      active: true,
      emails: [{ primary: true, type: 'work', value: 'dave@example.com' }],
      meta: { resourceType: 'User' },
      name: { formatted: 'Dave Example', familyName: 'Example', givenName: 'Dave' },
      roles: [],
      [ENTERPRISE_SCHEMA]: { department: 'Ops' },
    })
    expect(created.status).toBe(201)
    const userId = created.body.id as string
    const group = await scim('POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
      displayName: 'ops',
      meta: { resourceType: 'Group' },
    })
    const groupId = group.body.id as string

    // Dave signs in (token groups: engineering only) and gets gw-a; SCIM then adds him to "ops".
    const { jar, identityId } = await signInWithLease(scenario)
    const add = await scim('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: 'Add', path: 'members', value: [{ value: userId }] }],
    })
    expect(add.status).toBe(200)
    const changed = (await auditOf(identityId)).find((e) => e.type === 'identity.groups_changed')
    expect(changed?.data.added).toEqual(['ops', '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159'])
    // A group added widens no live lease; the next issuance gets it.
    const second = await broker.api(jar, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: newPublicKey() },
    })
    expect(second.status).toBe(201)

    const remove = await scim('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: 'Remove', path: 'members', value: [{ value: userId }] }],
    })
    expect(remove.status).toBe(200)
    expect((await scim('GET', `/Groups/${groupId}`)).body.members ?? []).toEqual([])

    const { jar: jar2 } = await signInWithLease(scenario)
    const disable = await scim('PATCH', `/Users/${userId}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    })
    expect(disable.status).toBe(200)
    expect(disable.body.active).toBe(false)
    expect(await leasesOf(identityId)).toEqual([])
    expect((await me(jar2)).status).toBe(401)

    expect((await scim('DELETE', `/Users/${userId}`)).status).toBe(204)
    expect((await scim('GET', `/Users/${userId}`)).status).toBe(404)
    // Deleted at the IdP: still refused here, though the IdP lets the sign-in through.
    expect((await broker.login(scenario)).response.status).toBe(403)
  })

  it('answers malformed bodies in the SCIM error format and changes nothing', async () => {
    const created = await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'erin@example.com' })
    const userId = created.body.id as string
    const before = await scim('GET', `/Users/${userId}`)
    const bad: Array<[string, string, unknown]> = [
      ['POST', '/Users', '{not json'],
      ['POST', '/Users', { schemas: [USER_SCHEMA] }],
      ['POST', '/Users', { schemas: [USER_SCHEMA], userName: 'erin@example.com' }],
      [
        'PATCH',
        `/Users/${userId}`,
        { schemas: [PATCH_SCHEMA], Operations: [{ op: 'explode', path: 'active' }] },
      ],
      [
        'PATCH',
        `/Users/${userId}`,
        { schemas: ['nope'], Operations: [{ op: 'replace', value: { active: false } }] },
      ],
      [
        'PATCH',
        `/Users/${userId}`,
        { schemas: [PATCH_SCHEMA], Operations: [{ op: 'replace', path: 'active', value: 'maybe' }] },
      ],
      ['GET', `/Users?filter=${encodeURIComponent('userName zz "x"')}`, undefined],
      ['PUT', `/Users/${userId}`, [1, 2]],
    ]
    for (const [method, path, body] of bad) {
      const answer = await scim(method, path, body)
      expect(answer.status, `${method} ${path}`).toBeGreaterThanOrEqual(400)
      expect(answer.status, `${method} ${path}`).toBeLessThan(500)
      expect(answer.contentType).toContain('application/scim+json')
      expect(answer.body.schemas, `${method} ${path}`).toEqual([ERROR_SCHEMA])
      expect(typeof answer.body.detail).toBe('string')
    }
    expect((await scim('GET', `/Users/${userId}`)).body).toEqual(before.body)
    expect(
      (await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "erin@example.com"')}`)).body
        .totalResults,
    ).toBe(1)
  })

  it('pages a ListResponse', async () => {
    for (const n of [1, 2, 3]) {
      await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: `page${n}@example.com` })
    }
    const page = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent('userName sw "page"')}&startIndex=2&count=1`,
    )
    expect(page.body).toMatchObject({ totalResults: 3, startIndex: 2, itemsPerPage: 1 })
    expect(page.body.Resources.map((u: Json) => u.userName)).toEqual(['page2@example.com'])
  })
})
