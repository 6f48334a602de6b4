/**
 * Loading a policy: parse, validate, compile, run its tests. Every problem of every stage is reported at
 * once; a policy with any error (a failing test included) is never returned as loadable, so a bad policy
 * cannot go live.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { compilePolicy } from './compile-policy.ts'
import type { CompiledPolicy } from './compiled-policy.ts'
import { DiagnosticSink, type PolicyDiagnostic } from './diagnostics.ts'
import { parsePolicySyntax } from './parse-policy.ts'
import { readPolicyDocument } from './read-policy-document.ts'
import { type PolicyTestResult, runPolicyTests } from './run-policy-tests.ts'
import { validatePolicy } from './validate-policy.ts'

export type PolicyLoadResult =
  | { ok: true; policy: CompiledPolicy; warnings: PolicyDiagnostic[]; testResults: PolicyTestResult[] }
  | { ok: false; errors: PolicyDiagnostic[]; warnings: PolicyDiagnostic[]; testResults?: PolicyTestResult[] }

export interface UntestedPolicyResult {
  /** null when the file has errors other than failing tests. */
  policy: CompiledPolicy | null
  errors: PolicyDiagnostic[]
  warnings: PolicyDiagnostic[]
  testResults: PolicyTestResult[]
}

export function hashPolicySource(source: string): string {
  return bytesToHex(sha256(new TextEncoder().encode(source)))
}

/**
 * Everything loadPolicy does, but the compiled policy is returned even when only its tests failed, for
 * tools that must show why a test fails (explain). Never put such a policy live.
 */
export function compilePolicySource(source: string, fileName: string): UntestedPolicyResult {
  const result = compileUnsorted(source, fileName)
  // Checks run by kind; authors read top to bottom.
  const byPosition = (a: PolicyDiagnostic, b: PolicyDiagnostic) => a.line - b.line || a.col - b.col
  return { ...result, errors: result.errors.sort(byPosition), warnings: result.warnings.sort(byPosition) }
}

function compileUnsorted(source: string, fileName: string): UntestedPolicyResult {
  const sink = new DiagnosticSink(fileName, source)
  const { root } = parsePolicySyntax(source, sink)
  if (sink.errors.length > 0)
    return { policy: null, errors: sink.errors, warnings: sink.warnings, testResults: [] }
  const doc = readPolicyDocument(root, sink)
  validatePolicy(doc, sink)
  if (sink.errors.length > 0)
    return { policy: null, errors: sink.errors, warnings: sink.warnings, testResults: [] }
  const policy = compilePolicy(doc, { hash: hashPolicySource(source), fileName })
  const testResults = runPolicyTests(policy, doc.tests, sink)
  return { policy, errors: sink.errors, warnings: sink.warnings, testResults }
}

export function loadPolicy(source: string, fileName: string): PolicyLoadResult {
  const { policy, errors, warnings, testResults } = compilePolicySource(source, fileName)
  if (policy === null || errors.length > 0) {
    return { ok: false, errors, warnings, ...(policy === null ? {} : { testResults }) }
  }
  return { ok: true, policy, warnings, testResults }
}
