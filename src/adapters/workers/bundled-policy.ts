/**
 * The policy on Workers: the file is bundled at build time (there is no filesystem to read or watch),
 * and compiled once per isolate with the same loader the Node server uses, tests included. A policy
 * that fails to load leaves the Worker refusing requests with the diagnostics in the log, never running
 * with a partial policy; `keygate policy check` before `wrangler deploy` catches it earlier.
 */
import policySource from 'keygate:policy'
import { KeygateError } from '../../core/errors.ts'
import { type CompiledPolicy, formatDiagnostic, loadPolicy } from '../../core/policy/index.ts'

export const DEFAULT_POLICY_NAME = 'policies/policy.hujson'

export function loadBundledPolicy(fileName: string = DEFAULT_POLICY_NAME): CompiledPolicy {
  return compilePolicyText(policySource, fileName)
}

/** What the admin console shows of the live policy on Workers: its tests' results, as on Node. */
export interface BundledPolicyReport {
  policy: CompiledPolicy
  tests: Array<{ id: string; user: string; passed: boolean; diff: string[] }>
}

export function loadBundledPolicyReport(fileName: string = DEFAULT_POLICY_NAME): BundledPolicyReport {
  return compilePolicyReport(policySource, fileName)
}

export function compilePolicyText(source: string, fileName: string): CompiledPolicy {
  return compilePolicyReport(source, fileName).policy
}

function compilePolicyReport(source: string, fileName: string): BundledPolicyReport {
  const result = loadPolicy(source, fileName)
  if (!result.ok) {
    const failed = (result.testResults ?? []).filter((t) => !t.passed)
    const lines = [
      ...result.errors.map(formatDiagnostic),
      ...failed.map((t) => `test ${t.id} (${t.user}): ${t.diff.join('; ')}`),
    ]
    throw new KeygateError(
      result.errors.length === 0 && failed.length > 0 ? 'POLICY_TESTS_FAILED' : 'POLICY_INVALID',
      `The bundled policy ${fileName} cannot go live:\n  ${lines.join('\n  ')}`,
    )
  }
  return {
    policy: result.policy,
    tests: result.testResults.map(({ id, user, passed, diff }) => ({ id, user, passed, diff })),
  }
}
