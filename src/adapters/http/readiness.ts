/**
 * Readiness as the app serves it: the runtime's own checks (database, feed listener) plus the policy's,
 * which is built here from the policy-status port and nowhere else. The same port feeds the admin policy
 * API and the admin console, so `/readyz`, `/api/v1/admin/readiness`, `/api/v1/admin/policy` and the
 * console's policy panel always show one policy state.
 */
import type { PolicyStatus, PolicyStatusSource } from '../../core/policy/index.ts'
import type { Readiness } from './app-env.ts'

/** The policy status as JSON: times in ISO 8601; `path` is the file (the admin readiness view's name). */
export function policyStatusJson(status: PolicyStatus) {
  const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString())
  return {
    hash: status.hash,
    path: status.fileName,
    loadedAt: iso(status.loadedAt),
    lastAttemptAt: iso(status.lastAttemptAt),
    // A failed reload keeps the last good policy live: ready, but the operator must see why.
    lastReloadErrors: status.lastReloadErrors,
    tests: status.tests,
  }
}

/** Adds the policy's check to the runtime's: always ok, since a policy is live from start-up on. */
export function withPolicyCheck(
  readiness: () => Promise<Readiness>,
  policyStatus: PolicyStatusSource,
): () => Promise<Readiness> {
  return async () => {
    const base = await readiness()
    const checks = { ...base.checks, policy: { ok: true, detail: policyStatusJson(policyStatus()) } }
    return { ready: Object.values(checks).every((c) => c.ok), checks }
  }
}
