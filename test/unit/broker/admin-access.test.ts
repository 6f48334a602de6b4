// Who may administer, and the scheduled audit prune, over in-memory ports.
import { beforeEach, describe, expect, it } from 'vitest'
import { checkAdminAccess } from '../../../src/core/broker/admin-access.ts'
import { pruneAuditLog } from '../../../src/core/broker/audit-retention.ts'
import { formatStepUp } from '../../../src/core/identity/step-up-proof.ts'
import type { Identity } from '../../../src/core/model.ts'
import { createFakeBrokerDeps, type FakeBrokerDeps, sessionFor } from '../../support/fake-broker-deps.ts'

let deps: FakeBrokerDeps
let root: Identity

beforeEach(() => {
  deps = createFakeBrokerDeps()
  root = deps.store.seedIdentity({ id: 'root', email: 'root@example.com', emailVerified: true })
})

describe('checkAdminAccess', () => {
  it('a policy admin signed in with the IdP’s MFA may administer', () => {
    expect(checkAdminAccess(deps.policy(), sessionFor(deps, root))).toBeNull()
  })

  it('someone the policy does not name (or whose email is unverified) is FORBIDDEN', () => {
    const alice = deps.store.seedIdentity({ id: 'alice', email: 'alice@example.com', emailVerified: true })
    const unverified = deps.store.seedIdentity({
      id: 'fake-root',
      email: 'root@example.com',
      emailVerified: false,
    })
    for (const who of [alice, unverified]) {
      const error = checkAdminAccess(deps.policy(), sessionFor(deps, who))
      expect(error?.code).toBe('FORBIDDEN')
      expect(error?.message).toBe('Only the administrators the policy names may do this')
    }
  })

  it('an admin without the IdP’s MFA needs a step-up anchored in an IdP-MFA session', () => {
    const single = { verdict: 'single' as const, amr: ['pwd'] }
    const none = checkAdminAccess(deps.policy(), sessionFor(deps, root, { auth: single }))
    expect(none?.code).toBe('MFA_REQUIRED')
    expect(none?.message).toBe(
      'Administration needs a sign-in with multi-factor authentication at your identity provider',
    )
    expect(none?.reasons).toEqual([
      { code: 'ADMIN_NEEDS_MFA', message: 'this session\'s verdict is "single" and it has no step-up' },
    ])
    const loose = formatStepUp({ method: 'totp', amr: 'otp', anchored: false })
    const unanchored = checkAdminAccess(
      deps.policy(),
      sessionFor(deps, root, { auth: { ...single, stepUp: loose } }),
    )
    expect(unanchored?.reasons?.[0]?.message).toBe(
      'this session\'s verdict is "single" and its step-up used a factor not enrolled during an IdP-MFA session',
    )
    const anchored = formatStepUp({ method: 'webauthn', amr: 'hwk', anchored: true })
    expect(
      checkAdminAccess(deps.policy(), sessionFor(deps, root, { auth: { ...single, stepUp: anchored } })),
    ).toBeNull()
  })
})

describe('pruneAuditLog', () => {
  it('no retention configured: nothing pruned, the store not asked', async () => {
    deps.store.pruneAudit = async () => {
      throw new Error('must not be called')
    }
    expect(await pruneAuditLog(deps, null)).toEqual({ deleted: 0, held: false })
  })

  it('deletes what is older than the retention and says so in the log it pruned', async () => {
    const now = deps.clock.now()
    const asked: Array<[number, number]> = []
    deps.store.pruneAudit = async (before, at) => {
      asked.push([before, at])
      return { deleted: 5, held: false }
    }
    expect(await pruneAuditLog(deps, 1000)).toEqual({ deleted: 5, held: false })
    expect(asked).toEqual([[now - 1000, now]])
    expect(deps.store.audit).toMatchObject([
      { type: 'audit.pruned', actor: 'system', data: { before: now - 1000, deleted: 5, retentionMs: 1000 } },
    ])
    expect(deps.logs).toEqual([
      {
        level: 'info',
        event: 'audit.pruned',
        fields: { before: new Date(now - 1000).toISOString(), deleted: 5 },
      },
    ])
  })

  it('held by an export: logged, and no event when nothing was deleted', async () => {
    deps.store.pruneAudit = async () => ({ deleted: 0, held: true })
    expect(await pruneAuditLog(deps, 1000)).toEqual({ deleted: 0, held: true })
    expect(deps.store.audit).toEqual([])
    expect(deps.logs).toEqual([
      { level: 'info', event: 'audit.prune_held', fields: { reason: 'an export is reading the audit log' } },
    ])
  })
})
