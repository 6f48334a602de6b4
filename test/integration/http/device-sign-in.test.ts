// The terminal client's sign-in over HTTP (RFC 8628) and its client credential, on the database
// KEYGATE_TEST_DB names: every token error of RFC 8628 section 3.5, single-use and expiring device
// codes, a refused approval, wrong user codes, and what a credential may (and may not) do.
import { randomBytes } from 'node:crypto'
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deviceAuthorizations } from '../../../src/adapters/storage/schema-devices.ts'
import { USER_CODE_ALPHABET } from '../../../src/core/device/user-code.ts'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { corePolicy } from '../../fixtures/policies.ts'
import { decideDevice, openApprovalPage } from '../../support/device-approval.ts'
import type { CookieJar } from '../../support/login-driver.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { MFA_SCENARIO } from '../../support/test-idp.ts'

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely; each test asserts its fields
type Json = Record<string, any>

const GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
const GUESS_LIMIT = 4
const newPublicKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey

describe('device sign-in over HTTP (RFC 8628)', () => {
  let broker: TestBroker
  let alice: CookieJar
  let root: CookieJar

  beforeAll(async () => {
    broker = await startTestBroker({
      policy: corePolicy(),
      env: { KEYGATE_RATE_LIMIT_USER_CODE_FAILURES: `${GUESS_LIMIT}/h` },
    })
    alice = (await broker.login(MFA_SCENARIO)).jar
    root = (
      await broker.login({ sub: 'user-root', email: 'root@example.com', groups: [], amr: ['pwd', 'hwk'] })
    ).jar
    // Starting a broker and two sign-ins can take a minute on a loaded CI machine.
  }, 180_000)
  afterAll(async () => {
    await broker?.close()
  })

  async function authorize(body: Record<string, string>, headers: Record<string, string> = {}) {
    const response = await fetch(`${broker.origin}/api/v1/device/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(body),
    })
    return { status: response.status, body: (await response.json()) as Json }
  }

  async function token(deviceCode: string, grantType = GRANT) {
    const response = await fetch(`${broker.origin}/api/v1/device/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: grantType, device_code: deviceCode, client_id: 'keygate' }),
    })
    return { status: response.status, body: (await response.json()) as Json }
  }

  /** Polls as a well-behaved client: waits the interval between polls. */
  async function collect(deviceCode: string): Promise<Json> {
    for (let i = 0; i < 20; i++) {
      const result = await token(deviceCode)
      if (result.status === 200) return result.body
      if (result.body.error !== 'authorization_pending') throw new Error(JSON.stringify(result.body))
      await new Promise((r) => setTimeout(r, 1_100))
    }
    throw new Error('never approved')
  }

  async function signInDevice(name = 'laptop') {
    const publicKey = newPublicKey()
    const started = await authorize({ public_key: publicKey, name })
    expect(started.status).toBe(200)
    const approved = await decideDevice(broker.origin, alice, started.body.user_code, 'approve')
    expect(approved.status).toBe(200)
    return { publicKey, tokens: await collect(started.body.device_code) }
  }

  it('answers authorize with RFC 8628 fields, a well-formed user code and the verification URIs', async () => {
    const started = await authorize({ public_key: newPublicKey(), name: 'laptop' })
    expect(started.status).toBe(200)
    const body = started.body
    expect(Object.keys(body).sort()).toEqual(
      [
        'device_code',
        'expires_in',
        'interval',
        'user_code',
        'verification_uri',
        'verification_uri_complete',
      ].sort(),
    )
    expect(body.user_code).toMatch(new RegExp(`^[${USER_CODE_ALPHABET}]{4}-[${USER_CODE_ALPHABET}]{4}$`))
    expect(body.verification_uri).toBe(`${broker.origin}/device`)
    expect(body.verification_uri_complete).toBe(`${broker.origin}/device?user_code=${body.user_code}`)
    expect(body.expires_in).toBe(600)
    expect(body.interval).toBeGreaterThanOrEqual(1)
    const stored = await broker.db.database.db.select().from(deviceAuthorizations)
    // Only a hash of the device code is stored.
    expect(JSON.stringify(stored)).not.toContain(body.device_code)
  })

  it('refuses a bad key or name on authorize and stores nothing', async () => {
    const before = (await broker.db.database.db.select().from(deviceAuthorizations)).length
    expect((await authorize({ public_key: 'not-a-key' })).body.error.code).toBe('INVALID_PUBLIC_KEY')
    const injected = await authorize({ public_key: newPublicKey(), name: 'x\n[Peer]' })
    expect([injected.status, injected.body.error.code]).toEqual([400, 'INVALID_REQUEST'])
    expect((await broker.db.database.db.select().from(deviceAuthorizations)).length).toBe(before)
  })

  it('answers authorization_pending, then slow_down when polled too fast, then the lease once approved', async () => {
    const publicKey = newPublicKey()
    const started = await authorize({ public_key: publicKey, name: 'desk' })
    const first = await token(started.body.device_code)
    expect([first.status, first.body.error]).toEqual([400, 'authorization_pending'])
    const fast = await token(started.body.device_code)
    expect([fast.status, fast.body.error]).toEqual([400, 'slow_down'])
    expect(fast.body.interval).toBe(started.body.interval + 5)

    const page = await openApprovalPage(broker.origin, alice, started.body.user_code.toLowerCase())
    expect(page.html).toContain('desk')
    expect(page.html).toContain(started.body.user_code)
    expect(page.html).toContain('127.0.0.1')
    const approved = await decideDevice(broker.origin, alice, started.body.user_code, 'approve')
    expect(approved.status).toBe(200)

    await new Promise((r) => setTimeout(r, fast.body.interval * 1000))
    const done = await token(started.body.device_code)
    expect(done.status).toBe(200)
    expect(done.body.token_type).toBe('Bearer')
    expect(done.body.access_token).toMatch(/^kgd_/)
    expect(done.body.lease.publicKey).toBe(publicKey)
    expect(done.body.preshared_key).toMatch(/^[A-Za-z0-9+/]{43}=$/)
    expect(done.body.tunnel.addresses[0]).toMatch(/^100\.96\.\d+\.\d+\/32$/)
    const stored = await broker.db.store.getLease(done.body.lease.id)
    expect(stored?.name).toBe('desk')
    expect(stored?.auth.verdict).toBe('mfa')

    // Single use: the same device code never yields a second credential.
    const again = await token(started.body.device_code)
    expect([again.status, again.body.error]).toEqual([400, 'invalid_grant'])
    const events = await broker.db.store.listAudit({ limit: 50 })
    const types = events.filter((e) => e.leaseId === done.body.lease.id).map((e) => e.type)
    expect(types).toEqual(
      expect.arrayContaining([
        'lease.issued',
        'device.approved',
        'device.token_issued',
        'device.code_reused',
      ]),
    )
  })

  it('answers access_denied after a refusal, and expired_token for an expired code', async () => {
    const refusedStart = await authorize({ public_key: newPublicKey(), name: 'stranger' })
    const refused = await decideDevice(broker.origin, alice, refusedStart.body.user_code, 'refuse')
    expect(refused.status).toBe(200)
    const denied = await token(refusedStart.body.device_code)
    expect([denied.status, denied.body.error]).toEqual([400, 'access_denied'])
    const events = await broker.db.store.listAudit({ type: 'device.refused', limit: 5 })
    expect(events.length).toBeGreaterThan(0)

    const expiring = await authorize({ public_key: newPublicKey() })
    await broker.db.database.db
      .update(deviceAuthorizations)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(deviceAuthorizations.status, 'pending'))
    const expired = await token(expiring.body.device_code)
    expect([expired.status, expired.body.error]).toEqual([400, 'expired_token'])
    // An expired request can no longer be approved either.
    const page = await openApprovalPage(broker.origin, alice, expiring.body.user_code)
    expect([page.status, page.action]).toEqual([404, null])
  })

  it('answers invalid_grant, unsupported_grant_type and invalid_request for bad token requests', async () => {
    expect((await token('kgdc_unknown')).body.error).toBe('invalid_grant')
    expect((await token('kgdc_unknown', 'authorization_code')).body.error).toBe('unsupported_grant_type')
    const missing = await fetch(`${broker.origin}/api/v1/device/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: GRANT }),
    })
    expect([missing.status, ((await missing.json()) as Json).error]).toEqual([400, 'invalid_request'])
  })

  it('does not show a request for a wrong user code, and audits the miss', async () => {
    await authorize({ public_key: newPublicKey() })
    const wrong = await openApprovalPage(broker.origin, alice, 'BCDF-GHJK')
    expect([wrong.status, wrong.action]).toEqual([404, null])
    const malformed = await openApprovalPage(broker.origin, alice, 'AEIO-0000')
    expect(malformed.status).toBe(404)
    const misses = await broker.db.store.listAudit({ type: 'device.user_code_rejected', limit: 10 })
    expect(misses.length).toBeGreaterThanOrEqual(2)
  })

  it('limits wrong user codes per person: after the limit even the right code gets 429 RATE_LIMITED', async () => {
    const guesser = (
      await broker.login({ ...MFA_SCENARIO, sub: 'user-guesser', email: 'guesser@example.com' })
    ).jar
    const started = await authorize({ public_key: newPublicKey() })
    for (let i = 0; i < GUESS_LIMIT; i++) {
      expect((await openApprovalPage(broker.origin, guesser, `BCDF-GH${'JKLM'[i]}${'NPQR'[i]}`)).status).toBe(
        404,
      )
    }
    const right = await openApprovalPage(broker.origin, guesser, started.body.user_code)
    expect([right.status, right.action]).toEqual([429, null])
    // Another person is not affected.
    const page = await openApprovalPage(broker.origin, alice, started.body.user_code)
    expect(page.action).not.toBeNull()
  })

  it('sends a person who is not signed in to sign in first, and back to the code', async () => {
    const response = await fetch(`${broker.origin}/device?user_code=BCDF-GHJK`, { redirect: 'manual' })
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe(
      `/?returnTo=${encodeURIComponent('/device?user_code=BCDF-GHJK')}`,
    )
  })

  it('lets a credential read, watch, renew and end only its own lease', async () => {
    const one = await signInDevice('one')
    const two = await signInDevice('two')
    const auth = (credential: string) => ({ authorization: `Bearer ${credential}` })
    const leaseOne = one.tokens.lease.id
    const leaseTwo = two.tokens.lease.id

    const read = await fetch(`${broker.origin}/api/v1/peers/${leaseOne}`, {
      headers: auth(one.tokens.access_token),
    })
    expect(read.status).toBe(200)
    const view = (await read.json()) as Json
    expect(view.lease.state).toBe('active')
    // maxAuthAge (1h) caps the lease below its ttl (8h): renewing with the credential cannot extend it.
    expect(view.renewal.needsSignIn).toBe(true)
    expect(view.renewal.signInValidUntil).toBe(view.lease.expiresAt)

    // Another lease with this credential: 404, like any lease that is not yours.
    for (const [method, path] of [
      ['GET', `/api/v1/peers/${leaseTwo}`],
      ['GET', `/api/v1/peers/${leaseTwo}/watch`],
      ['POST', `/api/v1/peers/${leaseTwo}/renew`],
      ['DELETE', `/api/v1/peers/${leaseTwo}`],
    ] as const) {
      const response = await fetch(`${broker.origin}${path}`, {
        method,
        headers: auth(one.tokens.access_token),
      })
      expect([method, path, response.status]).toEqual([method, path, 404])
    }

    const renewed = await fetch(`${broker.origin}/api/v1/peers/${leaseOne}/renew`, {
      method: 'POST',
      headers: auth(one.tokens.access_token),
    })
    expect(renewed.status).toBe(200)
    const after = await broker.db.store.getLease(leaseOne)
    expect(after?.publicKey).toBe(one.publicKey)

    // The watch answers at once on a stale state, and wakes on a revocation by an administrator.
    const stale = await fetch(`${broker.origin}/api/v1/peers/${leaseTwo}/watch?since=old&wait=20`, {
      headers: auth(two.tokens.access_token),
    })
    const current = (await stale.json()) as Json
    const watching = fetch(`${broker.origin}/api/v1/peers/${leaseTwo}/watch?since=${current.state}&wait=20`, {
      headers: auth(two.tokens.access_token),
    })
    const started = Date.now()
    const revoked = await broker.api(root, `/api/v1/admin/leases/${leaseTwo}`, { method: 'DELETE' })
    expect(revoked.status).toBe(200)
    const woke = (await (await watching).json()) as Json
    expect(woke.lease.state).toBe('revoked')
    expect(woke.lease.revokedReason).toBe('revoked by an administrator')
    expect(Date.now() - started).toBeLessThan(10_000)

    // After the revocation the credential still reads the final state, and can do nothing else: 401.
    const final = await fetch(`${broker.origin}/api/v1/peers/${leaseTwo}`, {
      headers: auth(two.tokens.access_token),
    })
    expect(((await final.json()) as Json).lease.state).toBe('revoked')
    const late = await fetch(`${broker.origin}/api/v1/peers/${leaseTwo}/renew`, {
      method: 'POST',
      headers: auth(two.tokens.access_token),
    })
    expect([late.status, ((await late.json()) as Json).error.code]).toEqual([
      401,
      'CLIENT_CREDENTIAL_INVALID',
    ])

    // `keygate logout`: the credential ends its lease and itself.
    const logout = await fetch(`${broker.origin}/api/v1/peers/${leaseOne}`, {
      method: 'DELETE',
      headers: auth(one.tokens.access_token),
    })
    expect(logout.status).toBe(204)
    expect((await broker.db.store.getLease(leaseOne))?.revokedReason).toBe('ended by keygate logout')
    const gone = await fetch(`${broker.origin}/api/v1/peers/${leaseOne}`, {
      headers: auth(one.tokens.access_token),
    })
    expect(gone.status).toBe(401)
    const unknown = await fetch(`${broker.origin}/api/v1/peers/${leaseOne}`, { headers: auth('kgd_nope') })
    expect(unknown.status).toBe(401)
  })

  it('a fresh sign-in for a lease renews it for the same key and gives a new credential', async () => {
    // Its own browser session: the test before ends a lease, and with it the session that approved it.
    alice = (await broker.login(MFA_SCENARIO)).jar
    const first = await signInDevice('renewing')
    const leaseId = first.tokens.lease.id
    const started = await authorize(
      { public_key: first.publicKey, lease_id: leaseId },
      { authorization: `Bearer ${first.tokens.access_token}` },
    )
    expect(started.status).toBe(200)
    // The sign-in the lease already has cannot renew it: the page sends the person to sign in again.
    const stale = await openApprovalPage(broker.origin, alice, started.body.user_code)
    expect([stale.status, stale.action]).toEqual([303, null])
    // auth_time counts whole seconds: the new sign-in is in a later second than the lease's.
    await new Promise((r) => setTimeout(r, 1_000 - (Date.now() % 1_000) + 50))
    const again = (await broker.login(MFA_SCENARIO)).jar
    const page = await openApprovalPage(broker.origin, again, started.body.user_code)
    expect(page.html).toContain('Keep this device connected?')
    expect((await decideDevice(broker.origin, again, started.body.user_code, 'approve')).status).toBe(200)
    const renewed = await collect(started.body.device_code)
    expect(renewed.lease.id).toBe(leaseId)
    expect(renewed.preshared_key).toBeUndefined()
    expect(renewed.access_token).not.toBe(first.tokens.access_token)
    // The old credential was replaced.
    const old = await fetch(`${broker.origin}/api/v1/peers/${leaseId}`, {
      headers: { authorization: `Bearer ${first.tokens.access_token}` },
    })
    expect(old.status).toBe(401)
    const fresh = await fetch(`${broker.origin}/api/v1/peers/${leaseId}`, {
      headers: { authorization: `Bearer ${renewed.access_token}` },
    })
    expect(fresh.status).toBe(200)
  })

  it('keygate logout ends that device only: the approving browser session and the other devices keep working', async () => {
    // As with Tailscale's and Firezone's clients, logging a device out is about that device; ending the
    // browser session that approved it is what an admin revocation does (a lease it does not trust).
    alice = (await broker.login(MFA_SCENARIO)).jar
    const laptop = await signInDevice('laptop')
    const desktop = await signInDevice('desktop')
    const auth = (credential: string) => ({ authorization: `Bearer ${credential}` })
    const logout = await fetch(`${broker.origin}/api/v1/peers/${laptop.tokens.lease.id}`, {
      method: 'DELETE',
      headers: auth(laptop.tokens.access_token),
    })
    expect(logout.status).toBe(204)
    expect((await broker.db.store.getLease(laptop.tokens.lease.id))?.revokedReason).toBe(
      'ended by keygate logout',
    )

    expect((await broker.api(alice, '/api/v1/me')).status).toBe(200)
    const issued = await broker.api(alice, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: newPublicKey() },
    })
    expect(issued.status).toBe(201)
    const other = await fetch(`${broker.origin}/api/v1/peers/${desktop.tokens.lease.id}`, {
      headers: auth(desktop.tokens.access_token),
    })
    expect(other.status).toBe(200)
    expect(((await other.json()) as Json).lease.state).toBe('active')
    const ended = await broker.db.store.listAudit({ type: 'session.ended', limit: 200 })
    expect(ended.filter((e) => e.leaseId === laptop.tokens.lease.id)).toEqual([])
  })
})
