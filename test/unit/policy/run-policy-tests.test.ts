// The policy's in-file tests: the synthetic sign-in each one stands for, the verdict derived from its amr,
// and what a failing test reports (expected against actual, the decision's reasons) for every kind of miss.
import { describe, expect, it } from 'vitest'
import {
  deriveTestVerdict,
  fixedPolicyStatus,
  loadPolicy,
  POLICY_TEST_NOW,
  type PolicyDiagnostic,
} from '../../../src/core/policy/index.ts'
import type { PolicyTestSpec } from '../../../src/core/policy/policy-document.ts'
import { policyTestSubject } from '../../../src/core/policy/run-policy-tests.ts'
import { compile, FILE, marked } from './helpers.ts'

const POLICY = (tests: string) => `{
  "gateways": {
    "eu-1": { "endpoint": "eu-1.example:51820", "routes": { "prod": ["10.10.0.0/16"], "office": ["192.168.10.0/24"] } },
    "us-1": { "endpoint": "us-1.example:51820", "routes": { "prod": ["10.20.0.0/16"] } },
  },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "1h" }, "hw": { "amrAny": ["hwk"] } },
  "grants": [
    { "src": ["user:a@example.com"], "dst": ["eu-1:*"], "assurance": "mfa", "onUnmet": "stepUp", "ttl": "4h" },
    { "src": ["idp:corp:ops"], "dst": ["us-1:prod"], "assurance": "hw", "onUnmet": "stepUp" },
    { "src": ["user:n@example.com"], "dst": ["us-1:prod"], "assurance": "hw" },
  ],
  "deny": [ { "src": ["user:m@example.com"] } ],
  "tests": [ ${tests} ],
}`

/** Loads a policy whose marked tests fail; expects one POLICY_TEST_FAILED per mark, at the mark. */
function failures(tests: string): PolicyDiagnostic[] {
  const { source, marks } = marked(POLICY(tests))
  const result = loadPolicy(source, FILE)
  if (result.ok) throw new Error('expected failing tests')
  expect(result.errors.map((e) => ({ code: e.code, line: e.line, col: e.col }))).toEqual(
    marks.map((m) => ({ code: 'POLICY_TEST_FAILED', ...m })),
  )
  for (const e of result.errors)
    expect(e.hint).toBe('fix the policy, or the expectation if the change is intended')
  return result.errors
}

describe('a failing in-file test says what was expected, what came, and why', () => {
  it('an allow expected, a denial with a step-up demand came', () => {
    const [error] = failures(
      `{ "user": "a@example.com", "amr": ["pwd"], "expect": »{ "allow": ["eu-1:*"] } }`,
    )
    expect(error!.path).toBe('tests[0].expect')
    expect(error!.message).toBe(
      [
        'test for a@example.com failed:',
        '    expected: allow [eu-1:prod, eu-1:office]',
        '    actual:   deny ASSURANCE_UNMET (step-up to "mfa")',
        `    reason: grants[0] (assurance "mfa") requires multi-factor authentication; the sign-in's verdict is "single"`,
      ].join('\n'),
    )
  })

  it('a denial expected, an allow came', () => {
    const [error] = failures(
      `{ "user": "a@example.com", "amr": ["mfa"], "expect": »{ "deny": "NO_MATCHING_GRANT" } }`,
    )
    expect(error!.message).toBe(
      [
        'test for a@example.com failed:',
        '    expected: deny NO_MATCHING_GRANT',
        '    actual:   allow [eu-1:prod, eu-1:office] for 1h',
        '    reason: grants[0] allows eu-1:* at assurance "mfa" for up to 4h',
      ].join('\n'),
    )
  })

  it('another denial code, or the right code with another step-up level', () => {
    const errors = failures(`
    { "user": "m@example.com", "expect": »{ "deny": "NO_MATCHING_GRANT" } },
    { "user": "a@example.com", "amr": ["pwd"], "expect": »{ "deny": "ASSURANCE_UNMET", "stepUp": "hw" } },
    { "user": "a@example.com", "amr": ["pwd"], "expect": { "deny": "ASSURANCE_UNMET", "stepUp": "mfa" } },
    { "user": "a@example.com", "amr": ["pwd"], "expect": { "deny": "ASSURANCE_UNMET" } },`)
    expect(errors.map((e) => e.message.split('\n').slice(1, 3))).toEqual([
      ['    expected: deny NO_MATCHING_GRANT', '    actual:   deny DENIED_BY_RULE'],
      [
        '    expected: deny ASSURANCE_UNMET (step-up to "hw")',
        '    actual:   deny ASSURANCE_UNMET (step-up to "mfa")',
      ],
    ])
  })

  it('routes only missing, or only extra, fail too; a step-up expected where none is demanded', () => {
    const errors = failures(`
    { "user": "a@example.com", "amr": ["mfa"], "expect": »{ "allow": ["eu-1:prod", "eu-1:office", "us-1:prod"] } },
    { "user": "a@example.com", "amr": ["mfa"], "expect": »{ "allow": ["eu-1:prod"] } },
    { "user": "b@example.com", "idp": "corp", "groups": ["ops"], "amr": ["pwd"], "verdict": "mfa", "gateways": ["us-1"],
      "expect": { "deny": "ASSURANCE_UNMET" } },
    { "user": "b@example.com", "idp": "corp", "groups": ["ops"], "amr": ["pwd"], "verdict": "mfa", "gateways": ["us-1"],
      "expect": »{ "deny": "ASSURANCE_UNMET", "stepUp": "mfa" } },
    { "user": "n@example.com", "expect": »{ "deny": "ASSURANCE_UNMET", "stepUp": "hw" } },`)
    expect(errors.map((e) => e.message.split('\n').slice(1, -1))).toEqual([
      [
        '    expected: allow [eu-1:prod, eu-1:office, us-1:prod]',
        '    actual:   allow [eu-1:prod, eu-1:office] for 1h',
        '    - us-1:prod (expected, not granted)',
      ],
      [
        '    expected: allow [eu-1:prod]',
        '    actual:   allow [eu-1:prod, eu-1:office] for 1h',
        '    + eu-1:office (granted, not expected)',
      ],
      [
        '    expected: deny ASSURANCE_UNMET (step-up to "mfa")',
        '    actual:   deny ASSURANCE_UNMET (step-up to "hw")',
      ],
      ['    expected: deny ASSURANCE_UNMET (step-up to "hw")', '    actual:   deny ASSURANCE_UNMET'],
    ])
  })

  it('the requested gateways narrow the decision', () => {
    const [error] = failures(
      `{ "user": "a@example.com", "amr": ["mfa"], "gateways": ["us-1"], "expect": »{ "allow": ["eu-1:prod"] } },
       { "user": "a@example.com", "amr": ["mfa"], "gateways": ["eu-1"], "expect": { "allow": ["eu-1:*"] } },`,
    )
    expect(error!.message.split('\n').slice(1)).toEqual([
      '    expected: allow [eu-1:prod]',
      '    actual:   deny NO_MATCHING_GRANT',
      '    reason: no grant gives a@example.com (idp test) access to us-1',
    ])
  })

  it('routes missing and extra, and the ttl, each on its own line', () => {
    const errors = failures(`
    { "user": "a@example.com", "amr": ["mfa"], "expect": »{ "allow": ["eu-1:prod", "us-1:prod"] } },
    { "user": "a@example.com", "amr": ["mfa"], "authAge": "59m", "expect": »{ "allow": ["eu-1:*"], "ttl": "4h" } },
    { "user": "a@example.com", "amr": ["mfa"], "authAge": "0s", "expect": { "allow": ["eu-1:office", "eu-1:prod"], "ttl": "1h" } },
    { "user": "a@example.com", "amr": ["mfa"], "expect": { "allow": ["eu-1:*"] } },`)
    expect(errors.map((e) => e.message.split('\n').slice(1, -1))).toEqual([
      [
        '    expected: allow [eu-1:prod, us-1:prod]',
        '    actual:   allow [eu-1:prod, eu-1:office] for 1h',
        '    - us-1:prod (expected, not granted)',
        '    + eu-1:office (granted, not expected)',
      ],
      [
        '    expected: allow [eu-1:prod, eu-1:office] for 4h',
        '    actual:   allow [eu-1:prod, eu-1:office] for 1m',
        '    - ttl 4h',
        '    + ttl 1m',
      ],
    ])
  })

  it('every test has a result: its id, user, verdict and diff, in file order', () => {
    const result = loadPolicy(
      POLICY(`
    { "user": "b@example.com", "idp": "corp", "groups": ["ops"], "amr": ["hwk"], "expect": { "allow": ["us-1:prod"], "ttl": "8h" } },
    { "user": "c@example.com", "amr": ["hwk"], "expect": { "allow": ["us-1:prod"] } },`),
      FILE,
    )
    expect(result.testResults?.map(({ id, user, passed, diff }) => ({ id, user, passed, diff }))).toEqual([
      { id: 'tests[0]', user: 'b@example.com', passed: true, diff: [] },
      {
        id: 'tests[1]',
        user: 'c@example.com',
        passed: false,
        diff: ['expected: allow [us-1:prod]', 'actual:   deny NO_MATCHING_GRANT'],
      },
    ])
    expect(result.testResults?.[0]?.decision).toMatchObject({ allow: true, ttlMs: 8 * 3_600_000 })
  })
})

describe('the synthetic sign-in of a test', () => {
  const spec = (over: Partial<PolicyTestSpec>): PolicyTestSpec => ({
    id: 'tests[0]',
    at: { offset: 0, path: 'tests[0]' },
    user: 'a@example.com',
    idp: 'corp',
    groups: ['ops'],
    amr: ['pwd'],
    acr: 'c2',
    authAgeMs: 90_500,
    verdict: null,
    stepUp: 'totp',
    gateways: null,
    expect: { at: { offset: 0, path: '' }, allow: [], ttlMs: null, deny: null, stepUp: null },
    ...over,
  })

  it('names the user, the IdP and its groups, and signs in authAge before the fixed instant', () => {
    expect(policyTestSubject(spec({}))).toEqual({
      idpId: 'corp',
      issuer: 'https://corp.idp.test',
      subject: 'a@example.com',
      email: 'a@example.com',
      groups: ['ops'],
      auth: {
        verdict: 'single',
        amr: ['pwd'],
        acr: 'c2',
        acrs: [],
        authTime: Math.floor(POLICY_TEST_NOW / 1000) - 91,
        stepUp: 'totp',
      },
    })
    expect(POLICY_TEST_NOW).toBe(Date.UTC(2030, 0, 1))
    expect(policyTestSubject(spec({ authAgeMs: 0 }), 10_999).auth.authTime).toBe(10)
    expect(policyTestSubject(spec({ authAgeMs: null })).auth.authTime).toBeNull()
  })

  it('takes the stated verdict over the one amr gives', () => {
    expect(policyTestSubject(spec({ verdict: 'unknown', amr: ['mfa'] })).auth.verdict).toBe('unknown')
    expect(policyTestSubject(spec({ amr: ['pwd', 'hwk'] })).auth.verdict).toBe('mfa')
  })
})

describe('deriveTestVerdict: mfa for "mfa" or two factor kinds, else single', () => {
  const KINDS = {
    know: ['pwd', 'pin', 'kba'],
    have: ['otp', 'hwk', 'swk', 'sms', 'tel', 'sc'],
    are: ['fpt', 'face', 'iris', 'retina', 'vbm'],
  }
  const other = { know: 'otp', have: 'fpt', are: 'pwd' } as const

  it('every factor value with one of another kind is mfa; with one of its own kind, single', () => {
    for (const [kind, values] of Object.entries(KINDS) as Array<[keyof typeof KINDS, string[]]>) {
      for (const value of values) {
        const sibling = KINDS[kind].find((v) => v !== value)!
        expect(deriveTestVerdict([value, other[kind]]), `${value} + ${other[kind]}`).toBe('mfa')
        expect(deriveTestVerdict([value, sibling]), `${value} + ${sibling}`).toBe('single')
      }
    }
  })

  it('"mfa" alone is enough; one factor, unknown values and nothing are single', () => {
    expect(deriveTestVerdict(['mfa'])).toBe('mfa')
    expect(deriveTestVerdict(['pwd'])).toBe('single')
    expect(deriveTestVerdict(['pwd', 'user', 'geo', 'rba', 'wia'])).toBe('single')
    expect(deriveTestVerdict([])).toBe('single')
    expect(deriveTestVerdict(['pwd', 'otp', 'fpt'])).toBe('mfa')
  })
})

describe('fixedPolicyStatus', () => {
  it('names the policy by hash and file, and knows nothing of loads, reloads or tests', () => {
    const policy = compile('{}')
    expect(fixedPolicyStatus(policy)).toEqual({
      hash: policy.hash,
      fileName: FILE,
      loadedAt: null,
      lastAttemptAt: null,
      lastReloadErrors: null,
      tests: null,
    })
  })
})
