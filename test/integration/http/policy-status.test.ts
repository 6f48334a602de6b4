// One policy state everywhere: /readyz, the admin readiness view, the admin policy API and the admin
// console's policy panel all read the policy-status port, so after a failed reload they show the same
// live hash, load time, attempt time and reload errors (and after a good one, none).
import { readFile, writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { corePolicy } from '../../fixtures/policies.ts'
import type { CookieJar } from '../../support/login-driver.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'

interface PolicyJson {
  hash: string
  path: string
  loadedAt: string | null
  lastAttemptAt: string | null
  lastReloadErrors: Array<{ code: string; line: number; message: string }> | null
  tests: Array<{ id: string; passed: boolean }> | null
}

describe('the policy-status port', () => {
  let broker: TestBroker
  let root: CookieJar
  let adminToken: string

  beforeAll(async () => {
    // No file watcher: only the test's reload() reloads, so nothing moves between the reads compared.
    broker = await startTestBroker({ policy: corePolicy(), watchPolicy: false })
    root = (
      await broker.login({ sub: 'user-root', email: 'root@example.com', groups: [], amr: ['pwd', 'hwk'] })
    ).jar
    adminToken = (await readFile(`${broker.dataDir}/admin-token`, 'utf8')).trim()
  })
  afterAll(async () => {
    await broker?.close()
  })

  async function views() {
    const asAdmin = { headers: { authorization: `Bearer ${adminToken}` } }
    const readyz = (await (await broker.api(null, '/readyz')).json()) as {
      checks: { policy: { ok: boolean } }
    }
    const readiness = (await (await broker.api(null, '/api/v1/admin/readiness', asAdmin)).json()) as {
      checks: { policy: { ok: boolean; detail: PolicyJson } }
    }
    const api = (await (await broker.api(null, '/api/v1/admin/policy', asAdmin)).json()) as PolicyJson
    const response = await broker.api(root, '/admin')
    expect(response.status).toBe(200)
    const html = await response.text()
    const panel = html.match(/<section[^>]*id="policy-reload-errors"[\s\S]*?<\/section>/)?.[0] ?? null
    const page = {
      hash: html.match(/<code id="policy-hash">([^<]*)<\/code>/)?.[1],
      loadedAt: html.match(/<time datetime="([^"]+)"[^>]*id="policy-loaded"/)?.[1] ?? null,
      lastAttemptAt: panel?.match(/<time datetime="([^"]+)"/)?.[1] ?? null,
      errorCodes:
        panel === null
          ? null
          : [...panel.matchAll(/<span class="small">\(([A-Z_]+)\)<\/span>/g)].map((m) => m[1]),
    }
    return { readyz, readiness: readiness.checks.policy, api, page }
  }

  it('after a failed reload, readiness, the admin API and the admin console show the same status', async () => {
    const good = broker.server.policySource.current().hash
    // A test that no longer passes: the reload fails and the last good policy stays live.
    await writeFile(
      broker.policyPath,
      corePolicy().replace('"expect": { "deny": "ASSURANCE_UNMET" }', '"expect": { "allow": ["gw-a:prod"] }'),
    )
    expect((await broker.server.policySource.reload()).result).toBe('failed')

    const { readyz, readiness, api, page } = await views()
    expect(readyz.checks.policy).toEqual({ ok: true })
    expect(readiness.ok).toBe(true)
    const status = readiness.detail
    expect(status.hash).toBe(good)
    expect(status.lastReloadErrors?.map((e) => e.code)).toEqual(['POLICY_TEST_FAILED'])
    expect(status.lastAttemptAt).not.toBe(status.loadedAt)

    // The admin API: the same fields, the same values.
    expect({ ...api, gateways: undefined, network: undefined }).toEqual({
      ...status,
      gateways: undefined,
      network: undefined,
    })
    // The console: the same hash, load and attempt times, and the same reload errors.
    expect(page).toEqual({
      hash: status.hash,
      loadedAt: status.loadedAt,
      lastAttemptAt: status.lastAttemptAt,
      errorCodes: status.lastReloadErrors?.map((e) => e.code),
    })

    // A good reload clears the errors in every view at once.
    await writeFile(broker.policyPath, corePolicy())
    expect((await broker.server.policySource.reload()).result).toBe('unchanged')
    const after = await views()
    expect(after.readiness.detail.lastReloadErrors).toBeNull()
    expect(after.api.lastReloadErrors).toBeNull()
    expect(after.page.errorCodes).toBeNull()
    expect(after.page.hash).toBe(good)
  })
})
