// Every diagnostic kind, each pinned to its exact line and column, and the guarantee that all come at once.
import { describe, expect, it } from 'vitest'
import {
  compilePolicySource,
  formatDiagnostic,
  hashPolicySource,
  loadPolicy,
  type PolicyDiagnostic,
} from '../../../src/core/policy/index.ts'
import { BASE, FILE, marked } from './helpers.ts'

function errorsOf(source: string): PolicyDiagnostic[] {
  const result = loadPolicy(source, FILE)
  if (result.ok) throw new Error('expected the policy to be refused')
  return result.errors
}

/** Loads a marked source and expects exactly one error per mark, in order, with this code each. */
function expectErrorsAtMarks(text: string, codes: string[]): PolicyDiagnostic[] {
  const { source, marks } = marked(text)
  const errors = errorsOf(source)
  expect(errors.map((e) => ({ code: e.code, line: e.line, col: e.col }))).toEqual(
    codes.map((code, i) => ({ code, line: marks[i]!.line, col: marks[i]!.col })),
  )
  return errors
}

describe('diagnostics name file:line:col and the JSON path', () => {
  it('formats like the design says', () => {
    const source = `{
  "gateways": { "eu-1": { "endpoint": "a.example:1", "routes": { "prod": ["10.0.0.0/8"] } } },
  "grants": [
    { "src": ["user:a@example.com"],
      "dst": ["eu-1:prod", "eu-9:prod"] },
  ],
}`
    const [error] = errorsOf(source)
    expect(formatDiagnostic(error!)).toBe(
      'policies/test.hujson:5:28 grants[0].dst[1]: unknown gateway "eu-9" (hint: known gateways: eu-1)',
    )
    expect(error).toMatchObject({
      file: FILE,
      line: 5,
      col: 28,
      path: 'grants[0].dst[1]',
      code: 'UNKNOWN_GATEWAY',
      severity: 'error',
    })
  })

  it('reports syntax errors with positions, all of them', () => {
    const errors = expectErrorsAtMarks(
      `{
  "groups": { "group:a": ["user:a@example.com"] »"group:b": [] },
  "admins": [»'user:a@example.com'],
}`,
      ['POLICY_SYNTAX', 'POLICY_SYNTAX'],
    )
    expect(errors[0]!.message).toBe('expected a comma')
    expect(errors[1]!.hint).toContain('double quotes')
  })

  it('accepts comments and trailing commas (HuJSON)', () => {
    const result = loadPolicy('// nothing yet\n{ /* empty */ "grants": [], }\n', FILE)
    expect(result.ok).toBe(true)
  })

  it('rejects unknown keys everywhere, with a did-you-mean', () => {
    const errors = expectErrorsAtMarks(
      `{
  »"grnats": [],
  "gateways": { "eu-1": { "endpoint": "a.example:1", »"route": {} } },
  "assurance": { "mfa": { »"MaxAuthAge": "1h", "mfa": true } },
  "grants": [ { "src": ["user:a@example.com"], "dst": ["eu-1:*"], »"TTL": "1h" } ],
}`,
      ['UNKNOWN_KEY', 'UNKNOWN_KEY', 'UNKNOWN_KEY', 'UNKNOWN_KEY'],
    )
    expect(errors[0]!.path).toBe('grnats')
    expect(errors[1]!.path).toBe('gateways["eu-1"].route')
    expect(errors[2]!.hint).toBe('did you mean "maxAuthAge"?')
    expect(errors[3]!).toMatchObject({ path: 'grants[0].TTL', hint: 'did you mean "ttl"?' })
  })

  it('rejects duplicate keys, wrong types and missing keys', () => {
    const errors = expectErrorsAtMarks(
      `{
  "gateways": { "eu-1": { "endpoint": "a.example:1" }, »"eu-1": { "endpoint": "b.example:1" } },
  "admins": »"user:a@example.com",
  "grants": [ »{ "src": ["user:a@example.com"] }, { "src": [»42], "dst": ["eu-1:*"] } ],
}`,
      ['DUPLICATE_KEY', 'WRONG_TYPE', 'MISSING_KEY', 'WRONG_TYPE'],
    )
    expect(errors[1]!.message).toBe('expected an array of strings, got a string')
    expect(errors[2]!.message).toBe('grant needs "dst"')
    expect(errors[3]!.path).toBe('grants[1].src[0]')
  })

  it('checks members and suggests the user: prefix for a bare email', () => {
    const errors = expectErrorsAtMarks(
      `{
  "groups": { "group:a": [»"alice@example.com", »"idp:okta", »"domain:@example.com", »"user:bob"] },
  "admins": [»"group:"],
}`,
      ['INVALID_MEMBER', 'INVALID_MEMBER', 'INVALID_MEMBER', 'INVALID_MEMBER', 'INVALID_MEMBER'],
    )
    expect(errors[0]!.hint).toMatch(/^did you mean "user:alice@example.com"\?/)
  })

  it('checks that referenced groups, gateways, routes and assurance levels exist', () => {
    expectErrorsAtMarks(
      `{
  "gateways": { "eu-1": { "endpoint": "a.example:1", "routes": { "prod": ["10.0.0.0/8"] } } },
  "groups": { "group:a": [»"group:nope"] },
  "assurance": { "mfa": { "mfa": true } },
  "grants": [ { "src": [»"group:b"], "dst": [»"eu-2:prod", »"eu-1:dev", "eu-1:*"], "assurance": »"strong" } ],
  "deny": [ { "src": [»"group:c"] } ],
  "tests": [ { "user": "a@example.com", "expect": { "allow": [»"eu-1:office"] } } ],
}`,
      [
        'UNKNOWN_GROUP',
        'UNKNOWN_GROUP',
        'UNKNOWN_GATEWAY',
        'UNKNOWN_ROUTE',
        'UNKNOWN_ASSURANCE',
        'UNKNOWN_GROUP',
        'UNKNOWN_ROUTE',
      ],
    )
  })

  it('finds group cycles, direct and through other groups', () => {
    const errors = expectErrorsAtMarks(
      `{
  "groups": {
    "group:a": ["group:b"],
    "group:b": [»"group:a"],
    "group:self": [»"group:self"],
  },
}`,
      ['GROUP_CYCLE', 'GROUP_CYCLE'],
    )
    expect(errors[0]!.message).toBe('group cycle: group:a -> group:b -> group:a')
  })

  it('checks CIDRs, endpoints, names and the overlay network', () => {
    const errors = expectErrorsAtMarks(
      `{
  "network": { "ipv4": »"100.96.0.0/31", "ipv6": »"10.0.0.0/8", "dns": [»"dns.example"] },
  "gateways": {
    »"EU_1": { "endpoint": "a.example:1" },
    "eu-2": { "endpoint": »"a.example", "routes": { "prod": [»"10.10.1.0/16", »"10.0.0.1"] } },
  },
}`,
      [
        'INVALID_CIDR',
        'INVALID_CIDR',
        'INVALID_ADDRESS',
        'INVALID_NAME',
        'INVALID_ENDPOINT',
        'INVALID_CIDR',
        'INVALID_CIDR',
      ],
    )
    expect(errors[5]!.hint).toBe('did you mean 10.10.0.0/16?')
  })

  it('refuses routes that overlap the overlay network, IPv4 and IPv6', () => {
    const errors = expectErrorsAtMarks(
      `{
  "network": { "ipv4": "100.96.0.0/16", "ipv6": "fd7a:115c:a1e0::/64" },
  "gateways": { "eu-1": { "endpoint": "a.example:1", "routes": {
    "all": [»"100.64.0.0/10", »"fd7a:115c:a1e0::/48", "10.0.0.0/8"],
  } } },
}`,
      ['ROUTE_OVERLAPS_NETWORK', 'ROUTE_OVERLAPS_NETWORK'],
    )
    expect(errors[0]!.message).toBe('route 100.64.0.0/10 overlaps the overlay network 100.96.0.0/16')
  })

  it('accepts a route that is exactly the overlay network (a peer-to-peer grant)', () => {
    const result = loadPolicy(
      `{
  "network": { "ipv4": "100.96.0.0/16", "ipv6": "fd7a:115c:a1e0::/64" },
  "gateways": { "eu-1": { "endpoint": "a.example:1", "routes": {
    "mesh": ["100.96.0.0/16", "fd7a:115c:a1e0::/64"],
  } } },
}`,
      FILE,
    )
    expect(result.ok ? [] : result.errors.map(formatDiagnostic)).toEqual([])
  })

  it('checks durations: format, sign and range', () => {
    const errors = expectErrorsAtMarks(
      `{
  "gateways": { "eu-1": { "endpoint": "a.example:1", "routes": { "prod": ["10.0.0.0/8"] } } },
  "assurance": { "quick": { "maxAuthAge": »"5 minutes" }, "empty": »{} },
  "grants": [
    { "src": ["user:a@example.com"], "dst": ["eu-1:*"], "ttl": »"0s" },
    { "src": ["user:a@example.com"], "dst": ["eu-1:*"], "ttl": »"400d", "onUnmet": »"retry" },
  ],
}`,
      ['INVALID_DURATION', 'EMPTY_ASSURANCE', 'INVALID_DURATION', 'INVALID_DURATION', 'INVALID_VALUE'],
    )
    expect(errors[2]!.message).toBe('ttl must be positive')
  })

  it('checks leases.maxPerUser: a whole number from 1 to 1000, 10 when absent', () => {
    const errors = expectErrorsAtMarks(
      `{
  "leases": { "maxPerUser": »0, »"mx": 1 },
}`,
      ['INVALID_LEASE_LIMIT', 'UNKNOWN_KEY'],
    )
    expect(errors[0]!.message).toBe('leases.maxPerUser 0 is out of range')
    expectErrorsAtMarks('{ "leases": { "maxPerUser": »2.5 } }', ['INVALID_LEASE_LIMIT'])
    expectErrorsAtMarks('{ "leases": { "maxPerUser": »1001 } }', ['INVALID_LEASE_LIMIT'])
    expectErrorsAtMarks('{ "leases": { "maxPerUser": »"3" } }', ['WRONG_TYPE'])
    const limited = loadPolicy('{ "leases": { "maxPerUser": 3 } }', FILE)
    expect(limited.ok && limited.policy.maxLeasesPerUser).toBe(3)
    const absent = loadPolicy('{}', FILE)
    expect(absent.ok && absent.policy.maxLeasesPerUser).toBe(10)
  })

  it('checks the shape of in-file tests', () => {
    expectErrorsAtMarks(
      `{
  "tests": [
    { "user": "a@example.com", "expect": »{} },
    { "user": »"not-an-email", "expect": { "deny": "NO_MATCHING_GRANT" } },
    { "user": "a@example.com", "expect": { "deny": »"NOPE" } },
    { "user": "a@example.com", »"verdikt": "mfa", "expect": { "deny": "NO_MATCHING_GRANT" } },
  ],
}`,
      ['INVALID_TEST', 'INVALID_VALUE', 'INVALID_VALUE', 'UNKNOWN_KEY'],
    )
  })

  it('reports every error in one load, in file order', () => {
    const { source } = marked(`{
  "network": { "ipv4": "100.96.0.0/16", "bogus": 1 },
  "gateways": { "eu-1": { "endpoint": "nope", "routes": { "prod": ["10.0.0.0/33"] } } },
  "grants": [ { "src": ["group:x"], "dst": ["eu-3:*"], "ttl": "soon" } ],
}`)
    const errors = errorsOf(source)
    expect(errors.map((e) => e.code)).toEqual([
      'UNKNOWN_KEY',
      'INVALID_ENDPOINT',
      'INVALID_CIDR',
      'UNKNOWN_GROUP',
      'UNKNOWN_GATEWAY',
      'INVALID_DURATION',
    ])
    expect(errors.map((e) => e.line)).toEqual([2, 3, 3, 4, 4, 4])
  })

  it('does not cascade: a gateway with a bad endpoint is still known to grants', () => {
    const errors = errorsOf(`{
  "gateways": { "eu-1": { "endpoint": "no-port", "routes": { "prod": ["10.0.0.0/8"] } } },
  "grants": [ { "src": ["user:a@example.com"], "dst": ["eu-1:prod"] } ],
}`)
    expect(errors.map((e) => e.code)).toEqual(['INVALID_ENDPOINT'])
  })
})

describe('warnings', () => {
  function warningsOf(source: string): PolicyDiagnostic[] {
    const result = loadPolicy(source, FILE)
    if (!result.ok) throw new Error(result.errors.map(formatDiagnostic).join('\n'))
    return result.warnings
  }

  it('flags grants that can never match, without refusing the policy', () => {
    const { source, marks } = marked(`{
  "gateways": {
    "eu-1": { "endpoint": "a.example:1", "routes": { "prod": ["10.0.0.0/8"] } },
    "bare": { "endpoint": "b.example:1" },
  },
  "groups": { "group:empty": [], "group:bad": ["user:mallory@example.com"] },
  "grants": [
    »{ "src": ["group:empty"], "dst": ["eu-1:*"] },
    »{ "src": ["group:bad"], "dst": ["eu-1:*"] },
    »{ "src": ["user:a@example.com"], "dst": ["bare:*"] },
    { "src": ["user:a@example.com"], "dst": ["eu-1:prod"] },
  ],
  "deny": [ { "src": ["user:mallory@example.com"] } ],
}`)
    const warnings = warningsOf(source)
    expect(warnings.map((w) => ({ code: w.code, line: w.line, col: w.col, severity: w.severity }))).toEqual(
      marks.map((m) => ({ code: 'GRANT_NEVER_MATCHES', ...m, severity: 'warning' })),
    )
    expect(warnings[1]!.message).toBe('every member of grants[1] is denied by a deny rule')
  })

  it('flags routes of two gateways that overlap', () => {
    const { source, marks } = marked(`{
  "gateways": {
    "eu-1": { "endpoint": "a.example:1", "routes": { "prod": ["10.0.0.0/8"] } },
    "us-1": { "endpoint": "b.example:1", "routes": { "prod": [»"10.20.0.0/16"] } },
  },
  "grants": [ { "src": ["user:a@example.com"], "dst": ["eu-1:*", "us-1:*"] } ],
}`)
    const [warning] = warningsOf(source)
    expect(warning).toMatchObject({
      code: 'ROUTES_OVERLAP',
      ...marks[0],
      path: 'gateways["us-1"].routes.prod[0]',
    })
  })

  it('says so when the policy has no grants', () => {
    expect(warningsOf('{}').map((w) => w.code)).toEqual(['NO_GRANTS'])
    expect(warningsOf('\n\n{}')).toEqual([
      {
        file: FILE,
        line: 1,
        col: 1,
        path: 'grants',
        code: 'NO_GRANTS',
        message: 'the policy has no grants, so it allows nobody',
        hint: 'add grants to allow access',
        severity: 'warning',
      },
    ])
  })
})

describe('loading', () => {
  it('stamps the SHA-256 of the source text', () => {
    const result = loadPolicy(BASE, FILE)
    expect(result.ok && result.policy.hash).toBe(hashPolicySource(BASE))
    expect(hashPolicySource('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('loads an empty file as a policy that grants nothing, with the default network', () => {
    const result = loadPolicy('// no policy yet\n', FILE)
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(result.policy.grants).toEqual([])
    expect(result.policy.network).toEqual({ ipv4: '100.96.0.0/16', ipv6: null, dns: [] })
    expect(result.policy.maxLoginAgeSeconds).toBe(3600)
  })

  it('exposes network, gateways and the smallest maxAuthAge as the login max age', () => {
    const result = loadPolicy(
      BASE.replace(
        '"mfa": { "mfa": true, "maxAuthAge": "1h" }',
        '"mfa": { "mfa": true, "maxAuthAge": "1h" }, "hw": { "amrAny": ["hwk"], "maxAuthAge": "15m" }',
      ),
      FILE,
    )
    if (!result.ok) throw new Error('expected ok')
    expect(result.policy.maxLoginAgeSeconds).toBe(900)
    expect(result.policy.network).toEqual({ ipv4: '100.96.0.0/16', ipv6: 'fd7a:115c:a1e0::/64', dns: [] })
    expect(result.policy.gateways.get('eu-1')).toEqual({
      endpoint: 'eu-1.vpn.example.com:51820',
      routes: { prod: ['10.10.0.0/16'], office: ['192.168.10.0/24'] },
    })
  })
})

describe('in-file tests', () => {
  it('a failing test refuses the policy and shows expected against actual', () => {
    const { source, marks } = marked(
      BASE.replace(
        '],\n}',
        `],
  "tests": [
    { "user": "alice@example.com", "amr": ["pwd", "otp"], "authAge": "5m",
      "expect": »{ "allow": ["eu-1:prod", "us-1:prod"], "ttl": "8h" } },
    { "user": "bob@example.com", "expect": { "deny": "NO_MATCHING_GRANT" } },
  ],
}`,
      ),
    )
    const result = loadPolicy(source, FILE)
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.errors).toHaveLength(1)
    const [error] = result.errors
    expect(error).toMatchObject({ code: 'POLICY_TEST_FAILED', ...marks[0], path: 'tests[0].expect' })
    expect(error!.message.split('\n').slice(0, 6)).toEqual([
      'test for alice@example.com failed:',
      '    expected: allow [eu-1:prod, us-1:prod] for 8h',
      '    actual:   allow [eu-1:prod, eu-1:office] for 55m',
      '    - us-1:prod (expected, not granted)',
      '    + eu-1:office (granted, not expected)',
      '    - ttl 8h',
    ])
    expect(error!.message).toContain('    + ttl 55m')
    expect(formatDiagnostic(error!).split('\n')[0]).toBe(
      `${FILE}:${marks[0]!.line}:${marks[0]!.col} tests[0].expect: test for alice@example.com failed: (hint: fix the policy, or the expectation if the change is intended)`,
    )
    expect(result.testResults?.map((t) => t.passed)).toEqual([false, true])
  })

  it('derives the verdict from amr, and takes an explicit one', () => {
    const source = BASE.replace(
      '],\n}',
      `],
  "tests": [
    { "user": "alice@example.com", "amr": ["pwd", "hwk"], "expect": { "allow": ["eu-1:*"], "ttl": "1h" } },
    { "user": "alice@example.com", "amr": ["mfa"], "expect": { "allow": ["eu-1:*"] } },
    { "user": "alice@example.com", "amr": ["pwd", "pin"], "expect": { "deny": "ASSURANCE_UNMET" } },
    { "user": "alice@example.com", "amr": [], "verdict": "mfa", "expect": { "allow": ["eu-1:*"] } },
    { "user": "alice@example.com", "amr": ["pwd"], "stepUp": "totp", "expect": { "deny": "ASSURANCE_UNMET" } },
    { "user": "alice@example.com", "amr": ["pwd", "otp"], "authAge": null, "expect": { "deny": "ASSURANCE_UNMET" } },
    { "user": "alice@example.com", "amr": ["pwd", "otp"], "authAge": "2h", "expect": { "deny": "ASSURANCE_UNMET" } },
    { "user": "dev@corp.example", "idp": "okta", "groups": ["engineering"], "amr": ["mfa"], "authAge": "45m",
      "expect": { "allow": ["eu-1:prod", "eu-1:office"], "ttl": "15m" } },
  ],
}`,
    )
    const result = loadPolicy(source, FILE)
    expect(result.ok ? [] : result.errors.map(formatDiagnostic)).toEqual([])
    expect(result.testResults?.every((t) => t.passed)).toBe(true)
  })

  it('the shipped example policy loads and all its tests pass', async () => {
    const { readFile } = await import('node:fs/promises')
    const result = loadPolicy(await readFile('policies/policy.hujson', 'utf8'), 'policies/policy.hujson')
    expect(result.ok ? [] : result.errors.map(formatDiagnostic)).toEqual([])
    expect(result.warnings).toEqual([])
    expect(result.testResults?.length).toBeGreaterThanOrEqual(6)
  })
})

describe('the semantic checks, word for word', () => {
  type Row = [line: number, col: number, path: string, code: string, message: string, hint: string]
  const rows = (list: PolicyDiagnostic[]): Row[] =>
    list.map((d) => [d.line, d.col, d.path, d.code, d.message, d.hint])

  it('an unknown reference names what is known, or where to define it when nothing is', () => {
    expect(
      rows(
        errorsOf(`{
  "groups": { "group:a": ["group:x"] },
  "grants": [ { "src": ["group:y"], "dst": ["eu-1:*"], "assurance": "mfa" } ],
  "deny": [ { "src": ["group:z"] } ],
  "admins": ["group:w"],
}`),
      ),
    ).toEqual([
      [2, 27, 'groups["group:a"][0]', 'UNKNOWN_GROUP', 'unknown group "group:x"', 'known groups: group:a'],
      [3, 25, 'grants[0].src[0]', 'UNKNOWN_GROUP', 'unknown group "group:y"', 'known groups: group:a'],
      [3, 45, 'grants[0].dst[0]', 'UNKNOWN_GATEWAY', 'unknown gateway "eu-1"', 'define it under "gateways"'],
      [
        3,
        69,
        'grants[0].assurance',
        'UNKNOWN_ASSURANCE',
        'unknown assurance level "mfa"',
        'define it under "assurance"',
      ],
      [4, 23, 'deny[0].src[0]', 'UNKNOWN_GROUP', 'unknown group "group:z"', 'known groups: group:a'],
      [5, 14, 'admins[0]', 'UNKNOWN_GROUP', 'unknown group "group:w"', 'known groups: group:a'],
    ])
    expect(rows(errorsOf('{ "admins": ["group:w"] }'))).toEqual([
      [1, 14, 'admins[0]', 'UNKNOWN_GROUP', 'unknown group "group:w"', 'define it under "groups"'],
    ])
  })

  it('unknown gateways, routes and levels list the known ones', () => {
    expect(
      rows(
        errorsOf(`{
  "gateways": { "eu-1": { "endpoint": "a.example:1" }, "us-1": { "endpoint": "a.example:1", "routes": { "prod": ["10.0.0.0/8"], "dev": ["10.1.0.0/16"] } } },
  "assurance": { "mfa": { "mfa": true }, "hw": { "amrAny": ["hwk"] } },
  "grants": [ { "src": ["user:a@example.com"], "dst": ["eu-1:prod", "us-1:x", "eu-2:x", "us-1:dev"], "assurance": "strong" } ],
  "tests": [ { "user": "a@example.com", "expect": { "deny": "ASSURANCE_UNMET", "stepUp": "nope" } } ],
}`),
      ),
    ).toEqual([
      [
        4,
        56,
        'grants[0].dst[0]',
        'UNKNOWN_ROUTE',
        'gateway "eu-1" has no route "prod"',
        'gateway "eu-1" has no routes',
      ],
      [
        4,
        69,
        'grants[0].dst[1]',
        'UNKNOWN_ROUTE',
        'gateway "us-1" has no route "x"',
        'routes of us-1: prod, dev, or *',
      ],
      [4, 79, 'grants[0].dst[2]', 'UNKNOWN_GATEWAY', 'unknown gateway "eu-2"', 'known gateways: eu-1, us-1'],
      [
        4,
        115,
        'grants[0].assurance',
        'UNKNOWN_ASSURANCE',
        'unknown assurance level "strong"',
        'known levels: mfa, hw',
      ],
      [
        5,
        90,
        'tests[0].expect.stepUp',
        'UNKNOWN_ASSURANCE',
        'unknown assurance level "nope"',
        'known levels: mfa, hw',
      ],
    ])
  })

  it('a cycle is reported once per closing member, with its whole path', () => {
    const errors = errorsOf(
      '{ "groups": { "group:a": ["group:b"], "group:b": ["group:c"], "group:c": ["group:b", "group:a"] } }',
    )
    expect(errors.map((e) => [e.path, e.message, e.hint])).toEqual([
      [
        'groups["group:c"][0]',
        'group cycle: group:b -> group:c -> group:b',
        'a group cannot contain itself, directly or through other groups',
      ],
      [
        'groups["group:c"][1]',
        'group cycle: group:a -> group:b -> group:c -> group:a',
        'a group cannot contain itself, directly or through other groups',
      ],
    ])
  })

  it("a cycle's path leaves out the groups visited before it", () => {
    const errors = errorsOf(
      '{ "groups": { "group:a": ["group:b", "group:c"], "group:b": ["user:x@example.com"], "group:c": ["group:a"] }, "admins": ["group:z"] }',
    )
    expect(errors.map((e) => [e.code, e.message, e.hint])).toEqual([
      [
        'GROUP_CYCLE',
        'group cycle: group:a -> group:c -> group:a',
        'a group cannot contain itself, directly or through other groups',
      ],
      ['UNKNOWN_GROUP', 'unknown group "group:z"', 'known groups: group:a, group:b, group:c'],
    ])
  })

  it('a cycle reached through several groups is still reported once', () => {
    const errors = errorsOf(
      '{ "groups": { "group:a": ["group:b", "group:c"], "group:b": ["group:c"], "group:c": ["group:d"], "group:d": ["group:c"] } }',
    )
    expect(errors.map((e) => [e.path, e.message])).toEqual([
      ['groups["group:d"][0]', 'group cycle: group:c -> group:d -> group:c'],
    ])
  })

  it('a group reached twice without a cycle is no cycle', () => {
    const result = loadPolicy(
      '{ "groups": { "group:a": ["group:b", "group:c"], "group:b": ["group:c"], "group:c": ["user:x@example.com"] }, "admins": ["group:a"] }',
      FILE,
    )
    expect(result.ok ? [] : result.errors.map(formatDiagnostic)).toEqual([])
  })

  it('grants that can never give anything, each for its own reason, in file order', () => {
    const result = loadPolicy(
      `{
  "grants": [
    { "src": [], "dst": ["eu-1:*"] },
    { "src": ["user:a@example.com"], "dst": [] },
    { "src": ["group:e"], "dst": ["eu-1:prod"] },
    { "src": ["user:a@example.com"], "dst": ["eu-1:empty"] },
    { "src": ["group:d", "user:m@example.com"], "dst": ["eu-1:prod"] },
    { "src": ["group:d", "user:a@example.com"], "dst": ["eu-1:empty", "us-1:*"] },
  ],
  "gateways": {
    "eu-1": { "endpoint": "a.example:1", "routes": { "prod": ["10.0.0.0/8"], "empty": [] } },
    "us-1": { "endpoint": "a.example:1", "routes": { "p": ["10.1.0.0/16"] } },
  },
  "groups": { "group:e": [], "group:d": ["group:dd"], "group:dd": ["user:x@example.com"] },
  "deny": [ { "src": ["group:dd", "user:m@example.com"] } ],
}`,
      FILE,
    )
    if (!result.ok) throw new Error(result.errors.map(formatDiagnostic).join('\n'))
    expect(rows(result.warnings)).toEqual([
      [
        3,
        5,
        'grants[0]',
        'GRANT_NEVER_MATCHES',
        'grants[0] has no src, so it matches nobody',
        'list members in "src"',
      ],
      [
        4,
        5,
        'grants[1]',
        'GRANT_NEVER_MATCHES',
        'grants[1] has no dst, so it gives nothing',
        'list GATEWAY:ROUTE destinations in "dst"',
      ],
      [
        5,
        5,
        'grants[2]',
        'GRANT_NEVER_MATCHES',
        'grants[2] names only empty groups, so it matches nobody',
        'add members to its groups',
      ],
      [
        6,
        5,
        'grants[3]',
        'GRANT_NEVER_MATCHES',
        'grants[3] reaches no route with an address',
        'its gateways or routes have no CIDR prefixes',
      ],
      [
        7,
        5,
        'grants[4]',
        'GRANT_NEVER_MATCHES',
        'every member of grants[4] is denied by a deny rule',
        'a matching deny wins over every grant',
      ],
      [
        12,
        60,
        'gateways["us-1"].routes.p[0]',
        'ROUTES_OVERLAP',
        'route 10.1.0.0/16 overlaps 10.0.0.0/8 of eu-1:prod',
        'a client granted both gets one WireGuard peer per prefix; the other route will not work',
      ],
    ])
  })

  it('routes of one gateway may overlap each other; the overlay network is checked in both families', () => {
    const result = loadPolicy(
      `{
  "network": { "ipv4": "100.96.0.0/16", "ipv6": "fd7a:115c:a1e0::/64" },
  "gateways": { "eu-1": { "endpoint": "a.example:1", "routes": { "a": ["10.0.0.0/8"], "b": ["10.1.0.0/16", "fd00:1::/64"] } } },
  "grants": [ { "src": ["user:a@example.com"], "dst": ["eu-1:*"] } ],
}`,
      FILE,
    )
    expect(result.ok && result.warnings).toEqual([])
    expect(
      rows(
        errorsOf(`{
  "network": { "ipv4": "100.96.0.0/16", "ipv6": "fd7a:115c:a1e0::/64" },
  "gateways": { "eu-1": { "endpoint": "a.example:1", "routes": { "a": ["fd7a:115c:a1e0:0:1::/80", "100.96.1.0/24"] } } },
}`),
      ),
    ).toEqual([
      [
        3,
        72,
        'gateways["eu-1"].routes.a[0]',
        'ROUTE_OVERLAPS_NETWORK',
        'route fd7a:115c:a1e0:0:1::/80 overlaps the overlay network fd7a:115c:a1e0::/64',
        'routes reach networks behind the gateway; pick a prefix outside the overlay network, or name exactly the overlay network to allow peer-to-peer traffic',
      ],
      [
        3,
        99,
        'gateways["eu-1"].routes.a[1]',
        'ROUTE_OVERLAPS_NETWORK',
        'route 100.96.1.0/24 overlaps the overlay network 100.96.0.0/16',
        'routes reach networks behind the gateway; pick a prefix outside the overlay network, or name exactly the overlay network to allow peer-to-peer traffic',
      ],
    ])
  })

  it('a policy with errors gets no never-matches warnings, which would only echo them', () => {
    const result = loadPolicy('{ "grants": [ { "src": ["group:nope"], "dst": [] } ] }', FILE)
    expect(result.ok).toBe(false)
    expect(result.warnings).toEqual([])
  })
})

describe('loading: what each outcome carries', () => {
  const FAILING_TEST = BASE.replace(
    '],\n}',
    `],
  "tests": [ { "user": "bob@example.com", "expect": { "allow": ["eu-1:*"] } } ],
}`,
  )

  it('a policy whose tests fail is refused with its test results; compilePolicySource still returns it', () => {
    const loaded = loadPolicy(FAILING_TEST, FILE)
    expect(loaded.ok).toBe(false)
    expect(!loaded.ok && loaded.errors.map((e) => e.code)).toEqual(['POLICY_TEST_FAILED'])
    expect(loaded.testResults?.map((t) => t.passed)).toEqual([false])
    const compiled = compilePolicySource(FAILING_TEST, FILE)
    expect(compiled.policy?.hash).toBe(hashPolicySource(FAILING_TEST))
    expect(compiled.policy?.fileName).toBe(FILE)
    expect(compiled.errors.map((e) => e.code)).toEqual(['POLICY_TEST_FAILED'])
    expect(compiled.testResults).toHaveLength(1)
  })

  it('a policy with other errors has no policy and no test results, whatever its tests say', () => {
    const broken = FAILING_TEST.replace('"group:eng": [', '"group:eng": ["group:nope", ')
    const loaded = loadPolicy(broken, FILE)
    expect(loaded).toEqual({
      ok: false,
      errors: [expect.objectContaining({ code: 'UNKNOWN_GROUP' })],
      warnings: [],
    })
    expect(compilePolicySource(broken, FILE)).toMatchObject({ policy: null, testResults: [] })
    const syntax = compilePolicySource('{ "grants": [ }', FILE)
    expect(syntax).toMatchObject({ policy: null, testResults: [], warnings: [] })
    expect(syntax.errors.map((e) => e.code)).toEqual(['POLICY_SYNTAX'])
  })

  it('a loadable policy carries its warnings and passing test results', () => {
    const result = loadPolicy(
      BASE.replace(
        '],\n}',
        '],\n  "tests": [ { "user": "bob@example.com", "expect": { "deny": "NO_MATCHING_GRANT" } } ],\n}',
      ),
      FILE,
    )
    expect(result.ok).toBe(true)
    expect(result.testResults?.map((t) => [t.id, t.passed])).toEqual([['tests[0]', true]])
    expect(result.warnings).toEqual([])
  })

  it('sorts warnings by position too, whichever check found them', () => {
    const { warnings } = compilePolicySource(
      `{
  "grants": [ { "src": [], "dst": ["eu-1:*", "us-1:*"] } ],
  "gateways": {
    "eu-1": { "endpoint": "a.example:1", "routes": { "a": ["10.0.0.0/8"] } },
    "us-1": { "endpoint": "a.example:1", "routes": { "b": ["10.1.0.0/16"], "c": ["10.2.0.0/16"] } },
  },
}`,
      FILE,
    )
    expect(warnings.map((w) => [w.line, w.col, w.code])).toEqual([
      [2, 15, 'GRANT_NEVER_MATCHES'],
      [5, 60, 'ROUTES_OVERLAP'],
      [5, 82, 'ROUTES_OVERLAP'],
    ])
  })
})
