// SCIM provisioning on the Worker (issue 13), in workerd against PostgreSQL through Hyperdrive: an
// admin makes the IdP's SCIM token, the IdP provisions a user as Okta does (look up, create), and its
// deactivation refuses the person's sessions, revokes the live lease, and the gateway's next sync
// removes the peer; a waiting sync is woken by it (the Worker's polling notifier).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROTOCOL_VERSION } from '../../src/core/sync/protocol.ts'
import { ERROR_SCHEMA, PATCH_SCHEMA, type ScimCall, scimClient, USER_SCHEMA } from '../support/scim-client.ts'
import { MFA_SCENARIO, type TestIdpScenario } from '../support/test-idp.ts'
import { startTestWorker, type TestWorker } from './support/test-worker.ts'

const ROOT: TestIdpScenario = { sub: 'user-root', email: 'root@example.com', groups: [], amr: ['pwd', 'otp'] }
const ERIN: TestIdpScenario = { ...MFA_SCENARIO, sub: 'scim-erin', email: 'erin@example.com', name: 'Erin' }

function publicKey(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')
}

let worker: TestWorker

beforeAll(async () => {
  worker = await startTestWorker()
})
afterAll(async () => {
  await worker?.close()
})

describe('SCIM on the Worker', () => {
  let scim: ScimCall
  let gatewayCredential: string
  const sync = (since: number, wait: number) =>
    worker.api(null, `/api/v1/gateways/sync?since=${since}&wait=${wait}&protocol=${PROTOCOL_VERSION}`, {
      headers: { authorization: `Bearer ${gatewayCredential}` },
    })

  it('an admin makes the IdP token; without it SCIM answers 401 in the SCIM error format', async () => {
    const { jar: root } = await worker.login(ROOT)
    const made = await worker.api(root, '/api/v1/admin/scim/test/token', { method: 'POST' })
    expect(made.status, await made.clone().text()).toBe(201)
    const body = (await made.json()) as { token: string; baseUrl: string }
    expect(body.baseUrl).toBe(`${worker.origin}/scim/v2`)
    scim = scimClient(worker.origin, body.token)

    const refused = await scimClient(worker.origin, 'kgs_wrong')('GET', '/Users')
    expect(refused.status).toBe(401)
    expect(refused.contentType).toContain('application/scim+json')
    expect(refused.body).toMatchObject({ schemas: [ERROR_SCHEMA], status: '401' })

    const minted = await worker.api(root, '/api/v1/admin/gateways/eu-1/enrollment-token', { method: 'POST' })
    const { token } = (await minted.json()) as { token: string }
    const enrolled = await worker.api(null, '/api/v1/gateways/enroll', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      json: { protocolVersion: PROTOCOL_VERSION, publicKey: publicKey() },
    })
    expect(enrolled.status, await enrolled.clone().text()).toBe(200)
    gatewayCredential = ((await enrolled.json()) as { credential: string }).credential
  })

  it('provisions a user, and its deactivation ends the session, revokes the lease and the gateway drops the peer', async () => {
    const { jar } = await worker.login(ERIN)
    const key = publicKey()
    const issued = await worker.api(jar, '/api/v1/peers', { method: 'POST', json: { publicKey: key } })
    expect(issued.status, await issued.clone().text()).toBe(201)
    const lease = (await issued.json()) as { id: string }

    const lookup = await scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${ERIN.email}"`)}`)
    expect(lookup.status).toBe(200)
    expect(lookup.body.totalResults).toBe(0)
    const created = await scim('POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName: ERIN.email,
      emails: [{ primary: true, value: ERIN.email, type: 'work' }],
      externalId: '00u1worker',
      active: true,
    })
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    expect(
      (await scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${ERIN.email}"`)}`)).body
        .totalResults,
    ).toBe(1)
    // Provisioning alone changes nothing live.
    expect((await worker.api(jar, '/api/v1/me')).status).toBe(200)

    const head = (await (await sync(0, 0)).json()) as { version: number; upserts: { publicKey: string }[] }
    expect(head.upserts.map((u) => u.publicKey)).toContain(key)
    const waiting = sync(head.version, 10)
    await new Promise((resolve) => setTimeout(resolve, 300))
    const deactivated = await scim('PATCH', `/Users/${created.body.id}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: 'replace', value: { active: false } }],
    })
    expect(deactivated.status, JSON.stringify(deactivated.body)).toBe(200)
    expect(deactivated.body.active).toBe(false)

    const delta = (await (await waiting).json()) as { version: number; removals: string[] }
    expect(delta.removals).toContain(key)
    expect((await worker.api(jar, '/api/v1/me')).status).toBe(401)
    const { jar: root } = await worker.login(ROOT)
    const leases = (await (await worker.api(root, '/api/v1/admin/leases?state=active')).json()) as {
      leases: { id: string }[]
    }
    expect(leases.leases.map((l) => l.id)).not.toContain(lease.id)
    const refused = await worker.login(ERIN)
    expect(refused.response.status).toBe(403)
    expect(((await refused.response.json()) as { error: { code: string } }).error.code).toBe(
      'IDENTITY_SUSPENDED',
    )
  })
})
