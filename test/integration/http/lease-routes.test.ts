// The lease routes no other file drives over HTTP: renewal, an admin's revocation, the admin policy view,
// a policy denial at the API, and an internal failure answered as a bare 500. Each test signs in and
// issues what it needs, so any one runs alone.
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { PROTOCOL_VERSION } from '../../../src/core/sync/protocol.ts'
import { corePolicy } from '../../fixtures/policies.ts'
import { enrollGateway } from '../../support/gateway-enrollment.ts'
import type { CookieJar } from '../../support/login-driver.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { MFA_SCENARIO } from '../../support/test-idp.ts'

const newPublicKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey
const ROOT = { sub: 'user-root', email: 'root@example.com', groups: [], amr: ['pwd', 'hwk'] }

interface LeaseBody {
  id: string
  publicKey: string
  addresses: string[]
  expiresAt: string
  state: string
  revokedAt: string | null
}
interface ErrorBody {
  error: { code: string; message: string; reasons?: Array<{ code: string }>; [k: string]: unknown }
}

describe('lease routes over HTTP', () => {
  let broker: TestBroker

  beforeAll(async () => {
    broker = await startTestBroker({ policy: corePolicy() })
  })
  afterAll(async () => {
    await broker?.close()
  })

  async function issue(jar: CookieJar, publicKey = newPublicKey()) {
    const response = await broker.api(jar, '/api/v1/peers', { method: 'POST', json: { publicKey } })
    expect(response.status).toBe(201)
    return (await response.json()) as { id: string; address: string; expiresAt: string }
  }

  it('POST /api/v1/peers/:id/renew keeps key and address, and audits the expiry it stored', async () => {
    const first = (await broker.login(MFA_SCENARIO)).jar
    const publicKey = newPublicKey()
    const lease = await issue(first, publicKey)
    // The same person signs in again with an older sign-in: maxAuthAge (1h) now allows less than the
    // lease already has, so renewal keeps the longer expiry, and the audit event must say that one.
    const older = (await broker.login({ ...MFA_SCENARIO, authTimeOffsetSeconds: 30 * 60 })).jar
    const response = await broker.api(older, `/api/v1/peers/${lease.id}/renew`, { method: 'POST' })
    expect(response.status).toBe(200)
    const renewed = (await response.json()) as LeaseBody
    expect(renewed.publicKey).toBe(publicKey)
    expect(renewed.addresses[0]).toBe(lease.address)
    const stored = await broker.db.store.getLease(lease.id)
    expect(new Date(renewed.expiresAt).getTime()).toBe(stored!.expiresAt)
    const [event] = await broker.db.store.listAudit({ type: 'lease.renewed', limit: 1 })
    expect(event?.leaseId).toBe(lease.id)
    expect(event?.data.expiresAt).toBe(stored!.expiresAt)

    // Someone else's lease is not found; an ended one cannot be renewed.
    const root = (await broker.login(ROOT)).jar
    const foreign = await broker.api(root, `/api/v1/peers/${lease.id}/renew`, { method: 'POST' })
    expect(foreign.status).toBe(404)
    expect(((await foreign.json()) as ErrorBody).error.code).toBe('NOT_FOUND')
    expect((await broker.api(older, `/api/v1/peers/${lease.id}`, { method: 'DELETE' })).status).toBe(200)
    const ended = await broker.api(older, `/api/v1/peers/${lease.id}/renew`, { method: 'POST' })
    expect(ended.status).toBe(409)
    expect(((await ended.json()) as ErrorBody).error.code).toBe('LEASE_NOT_ACTIVE')
  })

  it('DELETE /api/v1/admin/leases/:id revokes anyone’s lease for an admin only, audited', async () => {
    const alice = (await broker.login(MFA_SCENARIO)).jar
    const lease = await issue(alice)
    const refused = await broker.api(alice, `/api/v1/admin/leases/${lease.id}`, { method: 'DELETE' })
    expect(refused.status).toBe(403)
    expect((await broker.db.store.getLease(lease.id))?.revokedAt).toBeNull()

    const root = (await broker.login(ROOT)).jar
    const response = await broker.api(root, `/api/v1/admin/leases/${lease.id}`, { method: 'DELETE' })
    expect(response.status).toBe(200)
    expect(((await response.json()) as LeaseBody).state).toBe('revoked')
    expect((await broker.db.store.getLease(lease.id))?.revokedAt).not.toBeNull()
    const [event] = await broker.db.store.listAudit({ type: 'lease.revoked', limit: 1 })
    expect(event).toMatchObject({ leaseId: lease.id, actor: 'root@example.com' })

    // Idempotent: the second revocation says the lease had already ended, and changes nothing.
    const again = await broker.api(root, `/api/v1/admin/leases/${lease.id}`, { method: 'DELETE' })
    expect(again.status).toBe(200)
    expect(await again.json()).toMatchObject({ id: lease.id, state: 'revoked', alreadyEnded: true })
    const revocations = await broker.db.store.listAudit({ type: 'lease.revoked', limit: 100 })
    expect(revocations.filter((e) => e.leaseId === lease.id)).toHaveLength(1)
    const unknown = await broker.api(root, '/api/v1/admin/leases/00000000-0000-4000-8000-000000000000', {
      method: 'DELETE',
    })
    expect(unknown.status).toBe(404)
  })

  it('GET /api/v1/admin/policy shows the live policy to admins only', async () => {
    const root = (await broker.login(ROOT)).jar
    const response = await broker.api(root, '/api/v1/admin/policy')
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({
      hash: broker.server.policySource.current().hash,
      gateways: ['gw-a', 'gw-b'],
      network: { ipv4: '100.96.0.0/20' },
    })
    const alice = (await broker.login(MFA_SCENARIO)).jar
    expect((await broker.api(alice, '/api/v1/admin/policy')).status).toBe(403)
    expect((await broker.api(null, '/api/v1/admin/policy')).status).toBe(401)
  })

  it('a user no grant names gets 403 POLICY_DENIED with reasons, and nothing is stored', async () => {
    const dave = (
      await broker.login({ sub: 'user-dave', email: 'dave@other.example', groups: [], amr: ['pwd', 'otp'] })
    ).jar
    const response = await broker.api(dave, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: newPublicKey() },
    })
    expect(response.status).toBe(403)
    const body = (await response.json()) as ErrorBody
    expect(body.error.code).toBe('POLICY_DENIED')
    expect(body.error.decision).toBe('NO_MATCHING_GRANT')
    expect(body.error.reasons?.[0]?.code).toBe('NO_MATCHING_GRANT')
    const mine = (await (await broker.api(dave, '/api/v1/peers')).json()) as { peers: unknown[] }
    expect(mine.peers).toEqual([])
    const [denied] = await broker.db.store.listAudit({ type: 'lease.denied', limit: 1 })
    expect(denied?.data.code).toBe('NO_MATCHING_GRANT')
  })

  it('an internal failure is a 500 INTERNAL that shows nothing of its cause', async () => {
    // A gateway whose feed holds a preshared key that no longer opens (altered at rest).
    const { credential } = await enrollGateway(broker, 'gw-b')
    const alice = (await broker.login(MFA_SCENARIO)).jar
    const lease = await issue(alice)
    const altered = 'eyJhbGciOiJkaXIifQ.x.y.z.w'
    await broker.db.database.db.execute(
      sql`UPDATE leases SET preshared_key_ciphertext = ${altered} WHERE id = ${lease.id}::uuid`,
    )
    await broker.db.database.db.execute(
      sql`UPDATE gateway_feed_entries SET preshared_key_ciphertext = ${altered} WHERE lease_id = ${lease.id}::uuid`,
    )
    const response = await broker.api(
      null,
      `/api/v1/gateways/sync?since=0&wait=0&protocol=${PROTOCOL_VERSION}`,
      {
        headers: { authorization: `Bearer ${credential}` },
      },
    )
    expect(response.status).toBe(500)
    expect(await response.json()).toEqual({ error: { code: 'INTERNAL', message: 'Internal error' } })
  })

  it("409 LEASE_LIMIT_REACHED past the policy's leases.maxPerUser, naming the leases to revoke", async () => {
    await writeFile(broker.policyPath, corePolicy({ maxPerUser: 2 }))
    await broker.server.policySource.reload()
    try {
      const frank = (
        await broker.login({
          sub: 'user-frank',
          email: 'frank@example.com',
          groups: ['engineering'],
          amr: ['pwd', 'otp'],
        })
      ).jar
      const first = await issue(frank)
      const second = await issue(frank)
      const response = await broker.api(frank, '/api/v1/peers', {
        method: 'POST',
        json: { publicKey: newPublicKey() },
      })
      expect(response.status).toBe(409)
      const body = (await response.json()) as ErrorBody & {
        error: { limit: number; leases: Array<{ id: string }> }
      }
      expect(body.error.code).toBe('LEASE_LIMIT_REACHED')
      expect(body.error.limit).toBe(2)
      expect(body.error.leases.map((l) => l.id).sort()).toEqual([first.id, second.id].sort())
      // Revoking one of them makes room.
      expect((await broker.api(frank, `/api/v1/peers/${first.id}`, { method: 'DELETE' })).status).toBe(200)
      await issue(frank)
    } finally {
      await writeFile(broker.policyPath, corePolicy())
      await broker.server.policySource.reload()
    }
  })

  it('a verified email with a Kelvin-sign look-alike does not match user:kim@ (no admin, no grant)', async () => {
    await writeFile(
      broker.policyPath,
      corePolicy().replace(
        '"group:admins": ["user:root@example.com"]',
        '"group:admins": ["user:kim@example.com"]',
      ),
    )
    await broker.server.policySource.reload()
    try {
      // The real IdP verifies "\u212Aim@example.com", an address distinct from kim@example.com.
      const lookAlike = (
        await broker.login({
          sub: 'user-kelvin',
          email: '\u212Aim@example.com',
          groups: [],
          amr: ['pwd', 'hwk'],
        })
      ).jar
      expect((await broker.api(lookAlike, '/api/v1/admin/policy')).status).toBe(403)
      const issued = await broker.api(lookAlike, '/api/v1/peers', {
        method: 'POST',
        json: { publicKey: newPublicKey() },
      })
      expect(issued.status).toBe(403)
      expect(((await issued.json()) as ErrorBody).error.code).toBe('POLICY_DENIED')
      // The real kim still is an admin.
      const kim = (
        await broker.login({ sub: 'user-kim', email: 'Kim@Example.com', groups: [], amr: ['pwd', 'hwk'] })
      ).jar
      expect((await broker.api(kim, '/api/v1/admin/policy')).status).toBe(200)
    } finally {
      await writeFile(broker.policyPath, corePolicy())
      await broker.server.policySource.reload()
    }
  })
})
