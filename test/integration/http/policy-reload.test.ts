// Hot reload as an operator lives it: a bad edit never goes live (the old policy keeps deciding, and
// readiness and metrics say why), and a good edit re-judges every live lease: revoked, shortened or
// re-routed, each in the database and the audit log with the old and new policy hashes.
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { corePolicy } from '../../fixtures/policies.ts'
import type { CookieJar } from '../../support/login-driver.ts'
import { readFeed } from '../../support/store-reads.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { MFA_SCENARIO } from '../../support/test-idp.ts'

const newPublicKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey

describe('policy hot reload', () => {
  let broker: TestBroker
  let alice: CookieJar
  let root: CookieJar

  beforeAll(async () => {
    broker = await startTestBroker({ policy: corePolicy() })
    alice = (await broker.login(MFA_SCENARIO)).jar
    root = (
      await broker.login({ sub: 'user-root', email: 'root@example.com', groups: [], amr: ['pwd', 'hwk'] })
    ).jar
  })
  afterAll(async () => {
    await broker?.close()
  })

  async function issue(jar: CookieJar) {
    const response = await broker.api(jar, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: newPublicKey() },
    })
    expect(response.status).toBe(201)
    return (await response.json()) as { id: string; expiresAt: string }
  }

  it('a policy that fails to validate or to pass its tests keeps the last good one live', async () => {
    const good = broker.server.policySource.current().hash
    const lease = await issue(alice)

    // An unknown key, and a test that now fails: both must be reported, neither may go live.
    await writeFile(broker.policyPath, corePolicy().replace('"admins":', '"admns": [],\n  "admins":'))
    const outcome = await broker.server.policySource.reload()
    expect(outcome.result).toBe('failed')
    expect(broker.server.policySource.current().hash).toBe(good)

    // The details live behind admin; anonymous /readyz answers booleans only (issue 10 item 13).
    const adminToken = (await readFile(`${broker.dataDir}/admin-token`, 'utf8')).trim()
    const readiness = await broker.api(null, '/api/v1/admin/readiness', {
      headers: { authorization: `Bearer ${adminToken}` },
    })
    const ready = (await readiness.json()) as {
      ready: boolean
      checks: {
        policy: {
          detail: { hash: string; lastReloadErrors: Array<{ line: number; message: string }> | null }
        }
      }
    }
    expect(ready.ready).toBe(true)
    expect(ready.checks.policy.detail.hash).toBe(good)
    expect(ready.checks.policy.detail.lastReloadErrors?.[0]?.line).toBeGreaterThan(1)
    const metrics = await (await broker.api(null, '/metrics')).text()
    expect(metrics).toMatch(/keygate_policy_last_reload_failed 1/)
    expect(metrics).toMatch(/keygate_policy_reloads_total\{result="failure"\} [1-9]/)

    await writeFile(
      broker.policyPath,
      corePolicy().replace('"expect": { "deny": "ASSURANCE_UNMET" }', '"expect": { "allow": ["gw-a:prod"] }'),
    )
    expect((await broker.server.policySource.reload()).result).toBe('failed')
    expect(broker.server.policySource.current().hash).toBe(good)
    // The old policy still decides: the lease is untouched and new issuance works.
    expect((await broker.db.store.getLease(lease.id))?.revokedAt).toBeNull()
    await issue(alice)
  })

  it('a good policy shortens, re-routes and revokes live leases, audited with both hashes', async () => {
    await writeFile(broker.policyPath, corePolicy())
    await broker.server.policySource.reload()
    const before = broker.server.policySource.current().hash
    const aliceLease = await issue(alice)
    const rootLease = await issue(root)

    // Engineers keep gw-a only, for 30m (their leases ran 1h: maxAuthAge); admins lose their grant and rights.
    const next = corePolicy({ ttl: '30m' })
      .replace('"dst": ["gw-a:*", "gw-b:prod"]', '"dst": ["gw-a:prod"]')
      .replace('{ "src": ["group:admins"], "dst": ["gw-a:*"], "assurance": "mfa", "ttl": "1h" },', '')
      .replace('"admins": ["group:admins"]', '"admins": []')
      .replace(
        '"expect": { "allow": ["gw-a:prod", "gw-a:office", "gw-b:prod"] }',
        '"expect": { "allow": ["gw-a:prod"] }',
      )
    await writeFile(broker.policyPath, next)
    const outcome = await broker.server.policySource.reload()
    expect(outcome.result).toBe('swapped')
    const after = broker.server.policySource.current().hash
    expect(after).not.toBe(before)

    const shortened = await broker.db.store.getLease(aliceLease.id)
    expect(shortened?.revokedAt).toBeNull()
    expect(shortened!.expiresAt).toBeLessThanOrEqual(shortened!.createdAt + 30 * 60_000)
    expect(shortened!.expiresAt).toBeLessThan(Date.parse(aliceLease.expiresAt))
    expect(shortened!.grants).toEqual([{ gateway: 'gw-a', routes: ['10.10.0.0/16'] }])
    expect(shortened!.policyHash).toBe(after)

    const revoked = await broker.db.store.getLease(rootLease.id)
    expect(revoked?.revokedAt).not.toBeNull()

    const events = await broker.db.store.listAudit({ limit: 50 })
    const shortenEvent = events.find((e) => e.leaseId === aliceLease.id && e.type === 'lease.shortened')
    const revokeEvent = events.find((e) => e.leaseId === rootLease.id && e.type === 'lease.revoked')
    expect(shortenEvent?.data).toMatchObject({ previousPolicyHash: before, policyHash: after })
    expect(revokeEvent?.data).toMatchObject({ previousPolicyHash: before, policyHash: after })

    // The admin lost admin rights with the swap, at once.
    const admin = await broker.api(root, '/api/v1/admin/leases')
    expect(admin.status).toBe(403)
  })

  // Engineers on gw-a:prod only, so a reload can widen them to gw-a:office.
  const narrowPolicy = () =>
    corePolicy()
      .replace('"dst": ["gw-a:*", "gw-b:prod"]', '"dst": ["gw-a:prod"]')
      .replace(
        '"expect": { "allow": ["gw-a:prod", "gw-a:office", "gw-b:prod"] }',
        '"expect": { "allow": ["gw-a:prod"] }',
      )

  async function swapTo(text: string): Promise<{ before: string; after: string }> {
    const before = broker.server.policySource.current().hash
    await writeFile(broker.policyPath, text)
    const outcome = await broker.server.policySource.reload()
    // The watcher may have swapped it first; either way the text is live now.
    expect(outcome.result === 'failed' ? outcome.errors : outcome.result).toMatch(/^(swapped|unchanged)$/)
    return { before, after: broker.server.policySource.current().hash }
  }

  it('a reload that adds a route widens a live lease on that gateway', async () => {
    await swapTo(narrowPolicy())
    const lease = await issue(alice)
    expect((await broker.db.store.getLease(lease.id))!.grants).toEqual([
      { gateway: 'gw-a', routes: ['10.10.0.0/16'] },
    ])

    const wide = narrowPolicy()
      .replace(
        '"grants": [',
        '"grants": [\n    { "src": ["group:eng"], "dst": ["gw-a:office"], "assurance": "mfa" },',
      )
      .replace('"expect": { "allow": ["gw-a:prod"] }', '"expect": { "allow": ["gw-a:prod", "gw-a:office"] }')
    const { before, after } = await swapTo(wide)
    expect(after).not.toBe(before)

    const widened = await broker.db.store.getLease(lease.id)
    expect(widened?.revokedAt).toBeNull()
    expect(widened!.grants).toEqual([{ gateway: 'gw-a', routes: ['10.10.0.0/16', '192.168.10.0/24'] }])
    expect(widened!.matchedGrants).toEqual(['grants[0]', 'grants[1]'])
    expect(widened!.policyHash).toBe(after)
    const events = await broker.db.store.listAudit({ type: 'lease.updated', limit: 50 })
    expect(events.find((e) => e.leaseId === lease.id)?.data).toMatchObject({
      previousPolicyHash: before,
      policyHash: after,
      grants: widened!.grants,
    })
    // The gateway's feed carries the widened lease (the agent re-applies it).
    const page = await readFeed(broker.db.store, 'gw-a', 0, 1000, Date.now())
    expect(page.changes.some((c) => c.kind === 'upsert' && c.leaseId === lease.id)).toBe(true)
  })

  it('a policy file caught empty mid-write never goes live (it would revoke every lease)', async () => {
    await swapTo(narrowPolicy())
    const live = broker.server.policySource.current().hash
    const lease = await issue(alice)

    // What a reload sees between a writer's truncate and its write.
    await writeFile(broker.policyPath, '')
    const outcome = await broker.server.policySource.reload()
    expect(outcome).toMatchObject({ result: 'failed', errors: [{ code: 'POLICY_EMPTY' }] })
    expect(broker.server.policySource.current().hash).toBe(live)
    expect((await broker.db.store.getLease(lease.id))?.revokedAt).toBeNull()

    // Granting nothing on purpose is still possible, and does revoke.
    await writeFile(broker.policyPath, '{}')
    expect((await broker.server.policySource.reload()).result).toBe('swapped')
    expect((await broker.db.store.getLease(lease.id))?.revokedAt).not.toBeNull()
  })

  it('the swap judges an unverified email as sign-in does: it never counts for user: rules', async () => {
    await swapTo(narrowPolicy())
    const eve = (
      await broker.login({
        sub: 'user-eve',
        email: 'eve@example.com',
        groups: ['engineering'],
        amr: ['pwd', 'otp'],
        extraClaims: { email_verified: false },
      })
    ).jar
    const lease = await issue(eve)
    // Sign-in dropped the unverified email: a grant naming it gives eve nothing.
    const withEve = narrowPolicy().replace(
      '"grants": [',
      '"grants": [\n    { "src": ["user:eve@example.com"], "dst": ["gw-a:office"], "assurance": "mfa" },',
    )
    await swapTo(withEve)
    const me = (await (await broker.api(eve, '/api/v1/me')).json()) as {
      decision: { gateways: Array<{ routes: string[] }> }
    }
    expect(me.decision.gateways.flatMap((g) => g.routes)).toEqual(['10.10.0.0/16'])
    // ...and the swap must not give her lease what her sign-in would not.
    const after = await broker.db.store.getLease(lease.id)
    expect(after?.revokedAt).toBeNull()
    expect(after!.grants).toEqual([{ gateway: 'gw-a', routes: ['10.10.0.0/16'] }])
  })
})
