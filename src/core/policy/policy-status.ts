/**
 * The live policy's status as an operator reads it: which policy decides (hash, file), since when, how
 * its in-file tests ran, and why the latest reload failed if it did. It is one port, read per request,
 * that feeds `/readyz` and the admin readiness view, `GET /api/v1/admin/policy` and the admin console,
 * so none of them can show a different policy state from the others.
 */
import type { CompiledPolicy } from './compiled-policy.ts'
import type { PolicyDiagnostic } from './diagnostics.ts'

export interface PolicyTestSummary {
  id: string
  user: string
  passed: boolean
  /** Expected against actual, one line each, when the test failed. */
  diff: readonly string[]
}

export interface PolicyStatus {
  hash: string
  /** Where the live policy came from: its file on Node, the bundled policy's name on Workers. */
  fileName: string
  /** When the live policy was loaded (ms since epoch); null when the loader does not know. */
  loadedAt: number | null
  /** When a reload was last tried; null where the policy never reloads. */
  lastAttemptAt: number | null
  /** Why the latest reload failed (the live policy stays); null after a success, or with no reloads. */
  lastReloadErrors: readonly PolicyDiagnostic[] | null
  /** The live policy's in-file tests as they ran when it was loaded; null when the loader keeps none. */
  tests: readonly PolicyTestSummary[] | null
}

/** The port: asked per request, so a swap or a failed reload shows on the next one. */
export type PolicyStatusSource = () => PolicyStatus

/** The status of a policy that never reloads (the Worker's bundled one): its hash and name only. */
export function fixedPolicyStatus(policy: CompiledPolicy): PolicyStatus {
  return {
    hash: policy.hash,
    fileName: policy.fileName,
    loadedAt: null,
    lastAttemptAt: null,
    lastReloadErrors: null,
    tests: null,
  }
}
