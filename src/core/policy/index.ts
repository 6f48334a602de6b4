/**
 * The policy engine's public surface: load a policy file into a CompiledPolicy, decide, explain, and
 * re-judge live leases after a swap. Everything here is pure; the file source lives in adapters/policy.
 */
export { type Cidr, cidrsOverlap, parseCidr, parseEndpoint, parseIp } from './cidr.ts'
export {
  type AssuranceLevel,
  type CompiledGrant,
  type CompiledPolicy,
  DEFAULT_TTL_MS,
  type PolicyGateway,
  type PolicyNetwork,
} from './compiled-policy.ts'
export { deriveTestVerdict } from './derive-test-verdict.ts'
export { formatDiagnostic, type PolicyDiagnostic } from './diagnostics.ts'
export { formatDuration, parseDuration } from './durations.ts'
export {
  type AllowDecision,
  assessPolicy,
  type Decision,
  type DenialCode,
  type DenyDecision,
  evaluatePolicy,
  isPolicyAdmin,
  type PolicyRequest,
  type StepUpDemand,
} from './evaluate-policy.ts'
export {
  explainDecision,
  type GrantExplanation,
  type PolicyExplanation,
  renderExplanation,
} from './explain-decision.ts'
export {
  compilePolicySource,
  hashPolicySource,
  loadPolicy,
  type PolicyLoadResult,
  type UntestedPolicyResult,
} from './load-policy.ts'
export {
  fixedPolicyStatus,
  type PolicyStatus,
  type PolicyStatusSource,
  type PolicyTestSummary,
} from './policy-status.ts'
export { type LeaseReevaluation, reevaluateLease } from './reevaluate-lease.ts'
export { POLICY_TEST_NOW, type PolicyTestResult } from './run-policy-tests.ts'
