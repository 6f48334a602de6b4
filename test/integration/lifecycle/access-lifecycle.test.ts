// Ending access before leases run out, end to end on the database KEYGATE_TEST_DB names, with a real
// oidc-provider: the IdP's back-channel logout (its own implementation, triggered by signing out at the
// IdP), the renewal's re-check with the IdP (refresh refused after the grant is revoked), the admin's
// suspension and "sign out everywhere", the user's own "sign out everywhere", an admin's lease revocation
// ending the session that minted it (a stolen cookie stops minting), gateway removal, the Entra-style
// group overage filled from SCIM, and the audit retention prune with its export hold.
import { randomBytes, randomUUID } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { PROTOCOL_VERSION } from '../../../src/core/sync/protocol.ts'
import { lifecyclePolicy } from '../../fixtures/lifecycle-policy.ts'
import type { CookieJar } from '../../support/login-driver.ts'
import {
  createScimToken,
  GROUP_SCHEMA,
  localAdminToken,
  PATCH_SCHEMA,
  scimClient,
  USER_SCHEMA,
} from '../../support/scim-client.ts'
import { startTestBroker, TEST_IDP_ID, type TestBroker } from '../../support/test-broker.ts'
import { MFA_SCENARIO, type TestIdpScenario } from '../../support/test-idp.ts'

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely
type Json = Record<string, any>

const newPublicKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

describe('identity lifecycle', () => {
  let broker: TestBroker
  let admin: string

  beforeAll(async () => {
    broker = await startTestBroker({
      policy: lifecyclePolicy(),
      idpOptions: { backchannelLogout: true, refreshTokens: true },
    })
    admin = await localAdminToken(broker.dataDir)
  })
  afterAll(async () => {
    await broker?.close()
  })

  const adminApi = (path: string, init: RequestInit = {}) =>
    fetch(`${broker.origin}/api/v1${path}`, {
      ...init,
      headers: { authorization: `Bearer ${admin}`, ...(init.headers ?? {}) },
    })
  const activeLeases = async (identityId: string): Promise<Json[]> =>
    ((await (await adminApi(`/admin/leases?identity=${identityId}&state=active`)).json()) as Json).leases
  const auditOf = async (identityId: string): Promise<Json[]> =>
    ((await (await adminApi(`/admin/audit?identity=${identityId}`)).json()) as Json).events
  const me = (jar: CookieJar) => broker.api(jar, '/api/v1/me')
  const issue = (jar: CookieJar) =>
    broker.api(jar, '/api/v1/peers', { method: 'POST', json: { publicKey: newPublicKey() } })

  async function signInWithLease(scenario: TestIdpScenario) {
    const { jar } = await broker.login(scenario)
    const issued = await issue(jar)
    expect(issued.status).toBe(201)
    const lease = (await issued.json()) as Json
    const all = ((await (await adminApi('/admin/leases')).json()) as Json).leases as Json[]
    return { jar, lease, identityId: all.find((l) => l.id === lease.id)?.identityId as string }
  }
  const person = (name: string, extra: Partial<TestIdpScenario> = {}): TestIdpScenario => ({
    ...MFA_SCENARIO,
    sub: `user-${name}`,
    email: `${name}@example.com`,
    groups: ['engineering'],
    ...extra,
  })
  const postLogoutToken = (token: string) =>
    fetch(`${broker.origin}/auth/${TEST_IDP_ID}/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }).toString(),
    })

  describe('OIDC back-channel logout', () => {
    it('signing out at the IdP ends the session and revokes the leases (the default)', async () => {
      const { jar, lease, identityId } = await signInWithLease(person('bcl1'))
      expect((await me(jar)).status).toBe(200)
      await broker.idp.logoutAtIdp(jar)
      expect((await me(jar)).status).toBe(401)
      expect(await activeLeases(identityId)).toEqual([])
      const event = (await auditOf(identityId)).find((e) => e.type === 'logout.backchannel')
      expect(event).toMatchObject({ actor: 'idp:test', data: { sessionsEnded: 1, leasesRevoked: 1 } })
      expect(typeof event?.data.sid).toBe('string')
      expect(
        (await auditOf(identityId)).some((e) => e.type === 'lease.revoked' && e.leaseId === lease.id),
      ).toBe(true)
    })

    it('with sessions.idpLogoutRevokesLeases false, ends the session and keeps the lease', async () => {
      await writeFile(broker.policyPath, lifecyclePolicy({ idpLogoutRevokesLeases: false }))
      await broker.server.policySource.reload()
      try {
        const { jar, identityId } = await signInWithLease(person('bcl2'))
        await broker.idp.logoutAtIdp(jar)
        expect((await me(jar)).status).toBe(401)
        expect(await activeLeases(identityId)).toHaveLength(1)
      } finally {
        await writeFile(broker.policyPath, lifecyclePolicy())
        await broker.server.policySource.reload()
      }
    })

    it('refuses forged, replayed and malformed logout tokens with 400 invalid_request', async () => {
      const { jar } = await broker.login(person('bcl3'))
      const now = Math.floor(Date.now() / 1000)
      const good = {
        iss: broker.idp.issuer,
        aud: broker.idp.clientId,
        iat: now,
        exp: now + 120,
        jti: randomUUID(),
        sub: 'user-bcl3',
        events: { [BACKCHANNEL_EVENT]: {} },
      }
      const refusals: Array<[string, string]> = [
        ['with a nonce', await broker.idp.sign({ ...good, jti: randomUUID(), nonce: 'n' })],
        ['without the event', await broker.idp.sign({ ...good, jti: randomUUID(), events: {} })],
        ['for another audience', await broker.idp.sign({ ...good, jti: randomUUID(), aud: 'someone-else' })],
        [
          'from another issuer',
          await broker.idp.sign({ ...good, jti: randomUUID(), iss: 'https://evil.example' }),
        ],
        ['without sub or sid', await broker.idp.sign({ ...good, jti: randomUUID(), sub: undefined })],
        ['without jti', await broker.idp.sign({ ...good, jti: undefined })],
        ['issued long ago', await broker.idp.sign({ ...good, jti: randomUUID(), iat: now - 3600 })],
        ['not a JWT', 'not-a-jwt'],
      ]
      for (const [what, token] of refusals) {
        const response = await postLogoutToken(token)
        expect(response.status, what).toBe(400)
        expect(((await response.json()) as Json).error, what).toBe('invalid_request')
      }
      // None of that ended the session; the real token does, once; its replay is refused.
      expect((await me(jar)).status).toBe(200)
      const real = await broker.idp.sign(good)
      expect((await postLogoutToken(real)).status).toBe(200)
      expect((await me(jar)).status).toBe(401)
      const replay = await postLogoutToken(real)
      expect(replay.status).toBe(400)
      expect(((await replay.json()) as Json).error_description).toContain('already used')
    })
  })

  it('renewal asks the IdP first: after the grant is revoked, the renewal ends the lease', async () => {
    const scenario = person('refresh')
    const { jar, lease, identityId } = await signInWithLease(scenario)
    expect((await broker.api(jar, `/api/v1/peers/${lease.id}/renew`, { method: 'POST' })).status).toBe(200)
    expect(await broker.idp.revokeGrants(scenario.sub)).toBeGreaterThan(0)
    const refused = await broker.api(jar, `/api/v1/peers/${lease.id}/renew`, { method: 'POST' })
    expect(refused.status).toBe(401)
    expect(JSON.stringify(((await refused.json()) as Json).error.reasons)).toContain('IDP_REFRESH_REFUSED')
    expect(await activeLeases(identityId)).toEqual([])
    expect((await me(jar)).status).toBe(401)
  })

  it('an admin suspends an identity: sessions end, leases are revoked, sign-in is refused until lifted', async () => {
    const scenario = person('suspended')
    const { jar, identityId } = await signInWithLease(scenario)
    const suspended = await adminApi(`/admin/identities/${identityId}/suspend`, { method: 'POST' })
    expect(suspended.status).toBe(200)
    expect(await suspended.json()).toMatchObject({ suspended: true, sessionsEnded: 1, leasesRevoked: 1 })
    expect((await me(jar)).status).toBe(401)
    expect(await activeLeases(identityId)).toEqual([])
    const refused = await broker.login(scenario)
    expect(refused.response.status).toBe(403)
    expect(((await refused.response.json()) as Json).error.code).toBe('IDENTITY_SUSPENDED')
    expect((await adminApi(`/admin/identities/${identityId}/suspend`, { method: 'DELETE' })).status).toBe(200)
    expect((await broker.login(scenario)).response.status).toBe(303)
    const types = (await auditOf(identityId)).map((e) => e.type)
    expect(types).toEqual(expect.arrayContaining(['identity.suspended', 'identity.unsuspended']))
  })

  it('an admin signs an identity out everywhere: every session ends, the lease stays', async () => {
    const scenario = person('everywhere')
    const { jar: laptop, identityId } = await signInWithLease(scenario)
    const { jar: phone } = await broker.login(scenario)
    const done = await adminApi(`/admin/identities/${identityId}/sign-out`, { method: 'POST' })
    expect(await done.json()).toMatchObject({ sessionsEnded: 2 })
    expect((await me(laptop)).status).toBe(401)
    expect((await me(phone)).status).toBe(401)
    expect(await activeLeases(identityId)).toHaveLength(1)
    expect((await auditOf(identityId))[0]).toMatchObject({
      type: 'identity.signed_out_everywhere',
      actor: 'local-cli',
      data: { by: 'admin', sessionsEnded: 2 },
    })
  })

  it('a user signs themselves out everywhere', async () => {
    const scenario = person('self')
    const { jar: laptop, identityId } = await signInWithLease(scenario)
    const { jar: phone } = await broker.login(scenario)
    const out = await broker.api(phone, '/auth/logout/everywhere', { method: 'POST' })
    expect(out.status).toBe(303)
    expect((await me(laptop)).status).toBe(401)
    expect((await me(phone)).status).toBe(401)
    expect((await auditOf(identityId))[0]).toMatchObject({
      type: 'identity.signed_out_everywhere',
      data: { by: 'self', sessionsEnded: 2 },
    })
  })

  it('an admin revoking a lease ends the session that made it: a stolen cookie stops minting', async () => {
    const scenario = person('stolen')
    const { jar, lease, identityId } = await signInWithLease(scenario)
    const stolen = jar.clone()
    const { jar: otherDevice } = await broker.login(scenario)
    expect((await adminApi(`/admin/leases/${lease.id}`, { method: 'DELETE' })).status).toBe(200)
    const minted = await issue(stolen)
    expect(minted.status).toBe(401)
    // Only that session: the person's other sign-in still works.
    expect((await issue(otherDevice)).status).toBe(201)
    expect((await auditOf(identityId)).find((e) => e.type === 'session.ended')).toMatchObject({
      leaseId: lease.id,
      actor: 'local-cli',
    })
  })

  it('removing a gateway revokes its credential, wakes and refuses its long poll, frees its address', async () => {
    const enrol = async () => {
      const made = (await (
        await adminApi('/admin/gateways/gw-b/enrollment-token', { method: 'POST' })
      ).json()) as Json
      const enrolled = await fetch(`${broker.origin}/api/v1/gateways/enroll`, {
        method: 'POST',
        headers: { authorization: `Bearer ${made.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ protocolVersion: PROTOCOL_VERSION, publicKey: newPublicKey() }),
      })
      expect(enrolled.status).toBe(200)
      return (await enrolled.json()) as Json
    }
    const first = await enrol()
    const sync = (wait: number, since = 0) =>
      fetch(
        `${broker.origin}/api/v1/gateways/sync?since=${since}&wait=${wait}&protocol=${PROTOCOL_VERSION}`,
        {
          headers: { authorization: `Bearer ${first.credential}` },
        },
      )
    const snapshot = (await (await sync(0)).json()) as Json
    const waiting = sync(25, snapshot.version)
    const removed = await adminApi('/admin/gateways/gw-b', { method: 'DELETE' })
    expect(removed.status).toBe(200)
    const woken = await waiting
    expect(woken.status).toBe(401)
    expect((await sync(0)).status).toBe(401)
    const listed = ((await (await adminApi('/admin/gateways')).json()) as Json).gateways as Json[]
    expect(listed.find((g) => g.name === 'gw-b')?.enrolled ?? false).toBe(false)
    // The next gateway enrolled takes the freed address (the pool reuses the least recently freed one).
    expect((await adminApi('/admin/gateways/gw-b', { method: 'DELETE' })).status).toBe(404)
    const again = await enrol()
    expect(again.credential).not.toBe(first.credential)
    const events = ((await (await adminApi('/admin/audit?type=gateway.removed')).json()) as Json).events
    expect(events[0]).toMatchObject({ gatewayId: 'gw-b', data: { addressV4: first.addressV4 } })
  })

  it('an Entra-style overage sign-in uses the SCIM groups, and is refused without them', async () => {
    const overage = person('overage', {
      groups: [],
      extraClaims: {
        _claim_names: { groups: 'src1' },
        _claim_sources: { src1: { endpoint: 'https://graph.invalid/v1.0/users/x/getMemberObjects' } },
      },
    })
    const refused = await broker.login(overage)
    expect(refused.response.status).toBe(401)
    expect(JSON.stringify(((await refused.response.json()) as Json).error.reasons)).toContain(
      'GROUPS_INCOMPLETE',
    )

    const scim = scimClient(broker.origin, await createScimToken(broker.origin, broker.dataDir, 'test'))
    const user = await scim('POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName: 'overage@example.com',
      externalId: 'user-overage',
      active: true,
    })
    const group = await scim('POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: 'Ops team',
      externalId: 'ops',
      members: [{ value: user.body.id }],
    })
    expect(group.status).toBe(201)
    const { jar } = await broker.login(overage)
    const mine = (await (await me(jar)).json()) as Json
    expect(mine.identity.groups).toEqual(['Ops team', 'ops'])
    const issued = await issue(jar)
    expect(issued.status).toBe(201)
    expect(((await issued.json()) as Json).gateways.map((g: Json) => g.name)).toEqual(['gw-b'])
    await scim('PATCH', `/Groups/${group.body.id}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: 'remove', path: `members[value eq "${user.body.id}"]` }],
    })
  })

  it('prunes audit events past the retention, but not while an export reads', async () => {
    const { store } = broker.server.broker
    const now = Date.now()
    // An export is reading (JSON lines): the prune holds.
    expect((await adminApi('/admin/audit?format=jsonl&limit=5')).status).toBe(200)
    const held = await store.pruneAudit(now + 1000, now)
    expect(held).toEqual({ deleted: 0, held: true })
    expect(((await (await adminApi('/admin/audit?limit=5')).json()) as Json).events.length).toBeGreaterThan(0)
    // Once the hold has run out, everything older than the cut goes.
    const later = now + 11 * 60_000
    const pruned = await store.pruneAudit(later, later)
    expect(pruned.held).toBe(false)
    expect(pruned.deleted).toBeGreaterThan(0)
    expect(await store.listAudit({ limit: 5 })).toEqual([])
  })
})
