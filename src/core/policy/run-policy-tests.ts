/**
 * The policy's own tests (`tests` in the file): synthetic sign-ins with the decision they must get. They
 * run on every load, with the same evaluator as live decisions, at a fixed instant so they never flake;
 * a failing test keeps the policy from going live and reports expected against actual.
 */
import type { Subject } from '../model.ts'
import type { CompiledPolicy } from './compiled-policy.ts'
import { deriveTestVerdict } from './derive-test-verdict.ts'
import type { DiagnosticSink } from './diagnostics.ts'
import { formatDuration } from './durations.ts'
import { type Decision, evaluatePolicy } from './evaluate-policy.ts'
import type { PolicyTestSpec } from './policy-document.ts'

/** The instant in-file tests are evaluated at (2030-01-01T00:00:00Z); authAge counts back from it. */
export const POLICY_TEST_NOW = 1_893_456_000_000

export interface PolicyTestResult {
  id: string
  user: string
  passed: boolean
  /** Expected against actual, one line each, when the test failed. */
  diff: string[]
  decision: Decision
}

export function policyTestSubject(test: PolicyTestSpec, now = POLICY_TEST_NOW): Subject {
  return {
    idpId: test.idp,
    issuer: `https://${test.idp}.idp.test`,
    subject: test.user,
    email: test.user,
    groups: test.groups,
    auth: {
      verdict: test.verdict ?? deriveTestVerdict(test.amr),
      amr: test.amr,
      acr: test.acr,
      acrs: [],
      authTime: test.authAgeMs === null ? null : Math.floor((now - test.authAgeMs) / 1000),
      stepUp: test.stepUp,
    },
  }
}

export function runPolicyTests(
  policy: CompiledPolicy,
  tests: readonly PolicyTestSpec[],
  sink: DiagnosticSink,
): PolicyTestResult[] {
  return tests.map((test) => {
    const request = {
      subject: policyTestSubject(test),
      ...(test.gateways === null ? {} : { gateways: test.gateways }),
    }
    const decision = evaluatePolicy(policy, request, POLICY_TEST_NOW)
    const diff = compareExpectation(policy, test, decision)
    if (diff.length > 0) {
      const reasons = decision.reasons.map((r) => `    reason: ${r.message}`)
      sink.error(
        test.expect.at,
        'POLICY_TEST_FAILED',
        [`test for ${test.user} failed:`, ...diff.map((line) => `    ${line}`), ...reasons].join('\n'),
        'fix the policy, or the expectation if the change is intended',
      )
    }
    return { id: test.id, user: test.user, passed: diff.length === 0, diff, decision }
  })
}

function describeDecision(decision: Decision): string {
  if (!decision.allow) {
    return `deny ${decision.code}${decision.stepUp === null ? '' : ` (step-up to "${decision.stepUp.assurance}")`}`
  }
  return `allow [${decision.routeNames.join(', ')}] for ${formatDuration(decision.ttlMs)}`
}

function compareExpectation(policy: CompiledPolicy, test: PolicyTestSpec, decision: Decision): string[] {
  const { expect } = test
  const expectedRoutes = new Set<string>()
  for (const { value } of expect.allow ?? []) {
    const routes = policy.gateways.get(value.gateway)?.routes ?? {}
    for (const route of value.route === '*' ? Object.keys(routes) : [value.route])
      expectedRoutes.add(`${value.gateway}:${route}`)
  }
  const expected =
    expect.allow !== null
      ? `allow [${[...expectedRoutes].join(', ')}]${expect.ttlMs === null ? '' : ` for ${formatDuration(expect.ttlMs)}`}`
      : `deny ${expect.deny}${expect.stepUp === null ? '' : ` (step-up to "${expect.stepUp.value}")`}`
  const header = [`expected: ${expected}`, `actual:   ${describeDecision(decision)}`]

  if (expect.allow !== null) {
    if (!decision.allow) return header
    const actual = new Set(decision.routeNames)
    const missing = [...expectedRoutes].filter((r) => !actual.has(r))
    const extra = decision.routeNames.filter((r) => !expectedRoutes.has(r))
    const ttlWrong = expect.ttlMs !== null && expect.ttlMs !== decision.ttlMs
    if (missing.length === 0 && extra.length === 0 && !ttlWrong) return []
    return [
      ...header,
      ...missing.map((r) => `- ${r} (expected, not granted)`),
      ...extra.map((r) => `+ ${r} (granted, not expected)`),
      ...(ttlWrong
        ? [`- ttl ${formatDuration(expect.ttlMs!)}`, `+ ttl ${formatDuration(decision.ttlMs)}`]
        : []),
    ]
  }
  if (decision.allow || decision.code !== expect.deny) return header
  if (expect.stepUp !== null && decision.stepUp?.assurance !== expect.stepUp.value) return header
  return []
}
