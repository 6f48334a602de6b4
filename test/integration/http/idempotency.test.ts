// `Idempotency-Key` on issuance, and the owner fetching a lease's config again, over HTTP on the database
// the project names: a retry gets the first answer and no second lease; another body under the same key
// is refused; keys are per identity; the config route answers the owner only.
import { randomBytes, randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { PROTOCOL_VERSION } from '../../../src/core/sync/protocol.ts'
import { corePolicy } from '../../fixtures/policies.ts'
import type { CookieJar } from '../../support/login-driver.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { MFA_SCENARIO } from '../../support/test-idp.ts'

const newPublicKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey
const ROOT = { sub: 'user-root', email: 'root@example.com', groups: [], amr: ['pwd', 'hwk'] }

interface IssuedBody {
  id: string
  publicKey: string
  config: string
  [k: string]: unknown
}

describe('Idempotency-Key on POST /api/v1/peers', () => {
  let broker: TestBroker
  let alice: CookieJar
  let root: CookieJar

  beforeAll(async () => {
    broker = await startTestBroker({ policy: corePolicy() })
    alice = (await broker.login(MFA_SCENARIO)).jar
    root = (await broker.login(ROOT)).jar
    // An enrolled gateway, so configs carry a [Peer] with the lease's preshared key.
    const adminToken = (await readFile(`${broker.dataDir}/admin-token`, 'utf8')).trim()
    const minted = await broker.api(null, '/api/v1/admin/gateways/gw-a/enrollment-token', {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
    })
    const { token } = (await minted.json()) as { token: string }
    const enrolled = await broker.api(null, '/api/v1/gateways/enroll', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      json: { protocolVersion: PROTOCOL_VERSION, publicKey: newPublicKey() },
    })
    expect(enrolled.status).toBe(200)
  })
  afterAll(async () => {
    await broker?.close()
  })

  const issue = (jar: CookieJar, json: unknown, key?: string) =>
    broker.api(jar, '/api/v1/peers', {
      method: 'POST',
      json,
      ...(key === undefined ? {} : { headers: { 'Idempotency-Key': key } }),
    })

  async function leasesOf(publicKey: string) {
    const all = await broker.db.store.listLeases({}, Date.now())
    return all.filter((lease) => lease.publicKey === publicKey)
  }

  it('a retry with the same key answers with the first lease and body, and makes no second lease', async () => {
    const key = randomUUID()
    const publicKey = newPublicKey()
    const first = await issue(alice, { publicKey, name: 'laptop' }, key)
    expect(first.status).toBe(201)
    const firstBody = (await first.json()) as IssuedBody
    expect(firstBody.config).toMatch(/PresharedKey = /)

    const retry = await issue(alice, { publicKey, name: 'laptop' }, key)
    expect(retry.status).toBe(201)
    expect(await retry.json()).toEqual(firstBody)
    expect((await leasesOf(publicKey)).map((l) => l.id)).toEqual([firstBody.id])
    const issued = await broker.db.store.listAudit({ type: 'lease.issued', limit: 100 })
    expect(issued.filter((e) => e.leaseId === firstBody.id)).toHaveLength(1)

    // Without a key the same request is the usual refusal: the key already has a live lease.
    const unkeyed = await issue(alice, { publicKey, name: 'laptop' })
    expect(unkeyed.status).toBe(409)
  })

  it('the same key with another body is refused with IDEMPOTENCY_KEY_REUSED and stores nothing', async () => {
    const key = randomUUID()
    const first = await issue(alice, { publicKey: newPublicKey() }, key)
    expect(first.status).toBe(201)
    const otherKey = newPublicKey()
    const reused = await issue(alice, { publicKey: otherKey }, key)
    expect(reused.status).toBe(422)
    expect(((await reused.json()) as { error: { code: string } }).error.code).toBe('IDEMPOTENCY_KEY_REUSED')
    expect(await leasesOf(otherKey)).toEqual([])
  })

  it('keys belong to one identity: another person’s same key makes their own lease', async () => {
    const key = randomUUID()
    const mine = (await (await issue(alice, { publicKey: newPublicKey() }, key)).json()) as IssuedBody
    const theirs = await issue(root, { publicKey: newPublicKey() }, key)
    expect(theirs.status).toBe(201)
    const theirBody = (await theirs.json()) as IssuedBody
    expect(theirBody.id).not.toBe(mine.id)
  })

  it('concurrent requests with one key make one lease and both answer with it', async () => {
    const key = randomUUID()
    const publicKey = newPublicKey()
    const answers = await Promise.all([issue(alice, { publicKey }, key), issue(alice, { publicKey }, key)])
    const bodies = (await Promise.all(answers.map((r) => r.json()))) as IssuedBody[]
    expect(answers.map((r) => r.status)).toEqual([201, 201])
    expect(bodies[0]!.id).toBe(bodies[1]!.id)
    expect(await leasesOf(publicKey)).toHaveLength(1)
  })

  it('a malformed key is a clear 400 and stores nothing', async () => {
    const publicKey = newPublicKey()
    const bad = await issue(alice, { publicKey }, 'x'.repeat(256))
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('INVALID_REQUEST')
    expect(await leasesOf(publicKey)).toEqual([])
  })

  it('GET /api/v1/peers/:id/config gives the owner issuance’s answer again, and 404s for others', async () => {
    const issued = (await (
      await issue(alice, { publicKey: newPublicKey(), name: 'phone' })
    ).json()) as IssuedBody
    const again = await broker.api(alice, `/api/v1/peers/${issued.id}/config`)
    expect(again.status).toBe(200)
    expect(issued.config).toMatch(/PresharedKey = [A-Za-z0-9+/]{43}=/)
    expect(again.headers.get('cache-control')).toBe('no-store')
    expect(await again.json()).toEqual(issued)

    const foreign = await broker.api(root, `/api/v1/peers/${issued.id}/config`)
    expect(foreign.status).toBe(404)
    expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
    expect((await broker.api(alice, `/api/v1/peers/${randomUUID()}/config`)).status).toBe(404)
  })
})

describe('Idempotency-Key on renew and revoke', () => {
  let broker: TestBroker
  let alice: CookieJar
  let root: CookieJar
  let adminToken: string

  beforeAll(async () => {
    broker = await startTestBroker({ policy: corePolicy() })
    alice = (await broker.login(MFA_SCENARIO)).jar
    root = (await broker.login(ROOT)).jar
    adminToken = (await readFile(`${broker.dataDir}/admin-token`, 'utf8')).trim()
  })
  afterAll(async () => {
    await broker?.close()
  })

  const keyed = (key: string | undefined): Record<string, string> =>
    key === undefined ? {} : { 'Idempotency-Key': key }

  async function newLease(owner = alice): Promise<IssuedBody> {
    const issued = await broker.api(owner, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: newPublicKey() },
    })
    expect(issued.status).toBe(201)
    return (await issued.json()) as IssuedBody
  }
  const renew = (id: string, key?: string) =>
    broker.api(alice, `/api/v1/peers/${id}/renew`, { method: 'POST', headers: keyed(key) })
  const revoke = (id: string, key?: string) =>
    broker.api(alice, `/api/v1/peers/${id}`, { method: 'DELETE', headers: keyed(key) })
  const adminRevoke = (id: string, key: string, as: 'local-cli' | CookieJar = 'local-cli') =>
    as === 'local-cli'
      ? broker.api(null, `/api/v1/admin/leases/${id}`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${adminToken}`, ...keyed(key) },
        })
      : broker.api(as, `/api/v1/admin/leases/${id}`, { method: 'DELETE', headers: keyed(key) })

  async function auditCount(type: string, leaseId: string): Promise<number> {
    const events = await broker.db.store.listAudit({ type, limit: 1000 })
    return events.filter((e) => e.leaseId === leaseId).length
  }
  async function errorCode(response: Response): Promise<string> {
    return ((await response.json()) as { error: { code: string } }).error.code
  }
  const tick = () => new Promise((resolve) => setTimeout(resolve, 20))

  it('a renewal retried with the same key answers as the first and renews once', async () => {
    const lease = await newLease()
    const key = randomUUID()
    const first = await renew(lease.id, key)
    expect(first.status).toBe(200)
    const firstBody = (await first.json()) as { expiresAt: string }
    await tick()
    const retry = await renew(lease.id, key)
    expect(retry.status).toBe(200)
    expect(await retry.json()).toEqual(firstBody)
    expect(await auditCount('lease.renewed', lease.id)).toBe(1)
    expect(new Date((await broker.db.store.getLease(lease.id))!.expiresAt).toISOString()).toBe(
      firstBody.expiresAt,
    )
    // Another key is another renewal: it acts, and the count above would have seen a second one.
    expect((await renew(lease.id, randomUUID())).status).toBe(200)
    expect(await auditCount('lease.renewed', lease.id)).toBe(2)
  })

  it('a revocation retried with the same key answers 200 as the first and revokes once', async () => {
    const lease = await newLease()
    const key = randomUUID()
    const first = await revoke(lease.id, key)
    expect(first.status).toBe(200)
    const firstBody = (await first.json()) as { state: string }
    expect(firstBody.state).toBe('revoked')
    const retry = await revoke(lease.id, key)
    expect(retry.status).toBe(200)
    expect(await retry.json()).toEqual(firstBody)
    expect(await auditCount('lease.revoked', lease.id)).toBe(1)
    // Without the key, revoking is idempotent anyway (issue 14.5): a success that says the lease had
    // already ended, revoking nothing more.
    const unkeyed = await revoke(lease.id)
    expect(unkeyed.status).toBe(200)
    expect(await unkeyed.json()).toMatchObject({ state: 'revoked', alreadyEnded: true })
    expect(await auditCount('lease.revoked', lease.id)).toBe(1)
  })

  it('the same key on another request is IDEMPOTENCY_KEY_REUSED and changes nothing', async () => {
    const a = await newLease()
    const b = await newLease()
    const key = randomUUID()
    expect((await revoke(a.id, key)).status).toBe(200)
    // Another lease, another operation, another lease with the same operation: all refused.
    const renewB = await renew(b.id, key)
    expect(renewB.status).toBe(422)
    expect(await errorCode(renewB)).toBe('IDEMPOTENCY_KEY_REUSED')
    const revokeB = await revoke(b.id, key)
    expect(revokeB.status).toBe(422)
    expect(await errorCode(revokeB)).toBe('IDEMPOTENCY_KEY_REUSED')
    expect(await auditCount('lease.renewed', b.id)).toBe(0)
    expect((await broker.db.store.getLease(b.id))!.revokedAt).toBeNull()
    // And a renewal's key does not revoke.
    const renewKey = randomUUID()
    expect((await renew(b.id, renewKey)).status).toBe(200)
    const revokeUnderRenewKey = await revoke(b.id, renewKey)
    expect(revokeUnderRenewKey.status).toBe(422)
    expect((await broker.db.store.getLease(b.id))!.revokedAt).toBeNull()
  })

  it('concurrent twins under one key renew once and revoke once, and both answer alike', async () => {
    const lease = await newLease()
    const renewKey = randomUUID()
    const renewals = await Promise.all([renew(lease.id, renewKey), renew(lease.id, renewKey)])
    expect(renewals.map((r) => r.status)).toEqual([200, 200])
    const [r1, r2] = await Promise.all(renewals.map((r) => r.json()))
    expect(r1).toEqual(r2)
    expect(await auditCount('lease.renewed', lease.id)).toBe(1)

    const revokeKey = randomUUID()
    const revocations = await Promise.all([revoke(lease.id, revokeKey), revoke(lease.id, revokeKey)])
    expect(revocations.map((r) => r.status)).toEqual([200, 200])
    const [v1, v2] = await Promise.all(revocations.map((r) => r.json()))
    expect(v1).toEqual(v2)
    expect(await auditCount('lease.revoked', lease.id)).toBe(1)
  })

  it('an admin revocation retried with the same key answers as the first, for the CLI and a session admin', async () => {
    for (const as of ['local-cli', root] as const) {
      // An admin revocation also ends the session that made the lease: each lease gets its own sign-in.
      const lease = await newLease((await broker.login(MFA_SCENARIO)).jar)
      const key = randomUUID()
      const first = await adminRevoke(lease.id, key, as)
      expect(first.status).toBe(200)
      const firstBody = await first.json()
      const retry = await adminRevoke(lease.id, key, as)
      expect(retry.status).toBe(200)
      expect(await retry.json()).toEqual(firstBody)
      expect(await auditCount('lease.revoked', lease.id)).toBe(1)
      const other = await newLease((await broker.login(MFA_SCENARIO)).jar)
      const reused = await adminRevoke(other.id, key, as)
      expect(reused.status).toBe(422)
      expect(await errorCode(reused)).toBe('IDEMPOTENCY_KEY_REUSED')
      expect((await broker.db.store.getLease(other.id))!.revokedAt).toBeNull()
    }
  })
})
