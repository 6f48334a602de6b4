// Readiness takes the policy's check from the policy-status port only: whatever the runtime's own
// readiness says about the policy is replaced, and readiness turns on the runtime's other checks.
import { describe, expect, it } from 'vitest'
import { withPolicyCheck } from '../../../src/adapters/http/readiness.ts'
import type { PolicyStatus } from '../../../src/core/policy/index.ts'

const FAILED_RELOAD: PolicyStatus = {
  hash: 'abc123',
  fileName: '/etc/keygate/policy.hujson',
  loadedAt: Date.UTC(2026, 11, 2, 6, 0, 0),
  lastAttemptAt: Date.UTC(2026, 11, 2, 6, 5, 0),
  lastReloadErrors: [
    {
      file: '/etc/keygate/policy.hujson',
      line: 12,
      col: 5,
      path: 'grants[0]',
      code: 'UNKNOWN_GATEWAY',
      message: 'no gateway "gw-z"',
      hint: '',
      severity: 'error',
    },
  ],
  tests: [{ id: 'tests[0]', user: 'alice@example.com', passed: true, diff: [] }],
}

describe('withPolicyCheck', () => {
  it('reports the port’s status as the policy check, replacing any the runtime made', async () => {
    const readiness = withPolicyCheck(
      async () => ({
        ready: true,
        checks: { database: { ok: true }, policy: { ok: false, detail: 'stale' } },
      }),
      () => FAILED_RELOAD,
    )
    expect(await readiness()).toEqual({
      ready: true,
      checks: {
        database: { ok: true },
        policy: {
          ok: true,
          detail: {
            hash: 'abc123',
            path: '/etc/keygate/policy.hujson',
            loadedAt: '2026-12-02T06:00:00.000Z',
            lastAttemptAt: '2026-12-02T06:05:00.000Z',
            lastReloadErrors: FAILED_RELOAD.lastReloadErrors,
            tests: FAILED_RELOAD.tests,
          },
        },
      },
    })
  })

  it('is not ready when another check fails, and reads the port on every call', async () => {
    let hash = 'one'
    const readiness = withPolicyCheck(
      async () => ({ ready: false, checks: { database: { ok: false, detail: 'no answer within 800 ms' } } }),
      () => ({ ...FAILED_RELOAD, hash }),
    )
    expect((await readiness()).ready).toBe(false)
    hash = 'two'
    expect((await readiness()).checks.policy?.detail).toMatchObject({ hash: 'two' })
  })
})
