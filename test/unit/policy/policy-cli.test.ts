// `keygate policy check` and `explain`: exit codes and output, driven through injected I/O.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { runPolicyCheck, runPolicyExplain } from '../../../src/entrypoints/policy-cli.ts'
import { NOW } from './helpers.ts'

const EXAMPLE = readFileSync('policies/policy.hujson', 'utf8')

function io(files: Record<string, string>, env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  return {
    out,
    err,
    io: {
      stdout: (s: string) => out.push(s),
      stderr: (s: string) => err.push(s),
      readFile: (path: string) => {
        const text = files[path]
        if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`)
        return text
      },
      env,
      now: () => NOW,
    },
  }
}

const BROKEN = `{
  "gateways": { "eu-1": { "endpoint": "eu-1.example:51820", "routes": { "prod": ["10.10.0.0/16"] } } },
  "grants": [ { "src": ["user:a@example.com"], "dst": ["eu-9:prod"], "tll": "1h" } ],
}`

describe('keygate policy check', () => {
  it('exits 0 for the example policy and says what it checked', async () => {
    const t = io({ 'policies/policy.hujson': EXAMPLE })
    expect(await runPolicyCheck([], t.io)).toBe(0)
    expect(t.out.join('')).toMatch(
      /^policies\/policy\.hujson: OK \(4 grants, 2 gateways, 8\/8 tests passed, 0 warnings, sha256 [0-9a-f]{12}\)\n$/,
    )
    expect(t.err).toEqual([])
  })

  it('reads KEYGATE_POLICY when no file is given, and an explicit file over both', async () => {
    const t = io({ 'custom.hujson': EXAMPLE }, { KEYGATE_POLICY: 'custom.hujson' })
    expect(await runPolicyCheck([], t.io)).toBe(0)
    expect(t.out.join('')).toContain('custom.hujson: OK')
    const u = io({ 'other.hujson': '{}' }, { KEYGATE_POLICY: 'custom.hujson' })
    expect(await runPolicyCheck(['other.hujson'], u.io)).toBe(0)
  })

  it('exits 1 with every error as file:line:col path: message', async () => {
    const t = io({ 'bad.hujson': BROKEN })
    expect(await runPolicyCheck(['bad.hujson'], t.io)).toBe(1)
    expect(t.err).toEqual([
      'bad.hujson:3:56 grants[0].dst[0]: unknown gateway "eu-9" (hint: known gateways: eu-1)\n',
      'bad.hujson:3:70 grants[0].tll: unknown key "tll" in grant (hint: did you mean "ttl"?)\n',
      'bad.hujson: 2 errors; the policy would not go live\n',
    ])
    expect(t.out).toEqual([])
  })

  it('exits 1 when an in-file test fails, showing the diff', async () => {
    const failing = EXAMPLE.replace(
      '"expect": { "allow": ["eu-1:*", "us-1:*"], "ttl": "1h" }',
      '"expect": { "allow": ["eu-1:*", "us-1:*"], "ttl": "2h" }',
    )
    expect(failing).not.toBe(EXAMPLE)
    const t = io({ 'p.hujson': failing })
    expect(await runPolicyCheck(['p.hujson'], t.io)).toBe(1)
    const text = t.err.join('')
    expect(text).toContain('tests[4].expect: test for root@example.com failed:')
    expect(text).toContain('    - ttl 2h\n    + ttl 1h')
    expect(text).toContain('p.hujson: 1 error; tests: 7 of 8 passed; the policy would not go live')
  })

  it('exits 1 for a missing file and for bad arguments', async () => {
    const t = io({})
    expect(await runPolicyCheck(['nope.hujson'], t.io)).toBe(1)
    expect(t.err.join('')).toContain('cannot read nope.hujson')
    const u = io({})
    expect(await runPolicyCheck(['a', 'b'], u.io)).toBe(1)
    expect(u.err.join('')).toContain('usage: keygate policy check')
    const v = io({})
    expect(await runPolicyCheck(['--verbose'], v.io)).toBe(1)
  })

  it('prints warnings but still exits 0', async () => {
    const t = io({ 'empty.hujson': '{}' })
    expect(await runPolicyCheck(['empty.hujson'], t.io)).toBe(0)
    expect(t.err.join('')).toContain('warning: the policy has no grants, so it allows nobody')
  })
})

describe('keygate policy explain', () => {
  const files = { 'policies/policy.hujson': EXAMPLE }

  it('explains an allow, with the grants that matched', async () => {
    const t = io(files)
    const code = await runPolicyExplain(
      ['--user', 'alice@example.com', '--amr', 'pwd,otp', '--auth-age', '10m'],
      t.io,
    )
    expect(code).toBe(0)
    const text = t.out.join('')
    expect(text).toContain('Decision: ALLOW for 8h')
    expect(text).toContain('  eu-1: 10.10.0.0/16, 192.168.10.0/24')
    expect(text).toContain('  + grants[0]: contributes; via group:eng (user:alice@example.com)')
    expect(text).toContain('verdict mfa, amr [pwd, otp]')
    expect(text).toContain('(verdict "mfa" derived from amr; pass --verdict to override; auth age 10m)')
  })

  it('explains a denial with the failed conditions and a step-up demand', async () => {
    const t = io(files)
    const argv = ['--user', 'carol@eng.example', '--idp', 'okta', '--groups', 'engineering', '--amr', 'pwd']
    expect(await runPolicyExplain(argv, t.io)).toBe(0)
    const text = t.out.join('')
    expect(text).toContain('Decision: DENY ASSURANCE_UNMET')
    expect(text).toContain('step-up to "mfa": MFA, max_age 43200s')
    expect(text).toContain('failed MFA_NOT_PROVEN')
  })

  it('prints JSON with --json and honours --file, --acr, --verdict and --gateways', async () => {
    const t = io({ 'x.hujson': EXAMPLE })
    const argv = [
      '--file',
      'x.hujson',
      '--user',
      'root@example.com',
      '--verdict',
      'mfa',
      '--acr',
      'c1',
      '--gateways',
      'us-1',
      '--json',
    ]
    expect(await runPolicyExplain(argv, t.io)).toBe(0)
    const json = JSON.parse(t.out.join(''))
    expect(json.decision).toMatchObject({
      allow: true,
      grants: [{ gateway: 'us-1', routes: ['10.20.0.0/16'] }],
    })
    expect(json.subject).toMatchObject({ acr: 'c1', verdict: 'mfa' })
    expect(json.admin).toBe(true)
  })

  it('exits 1 without --user, with a bad duration, or with a policy that has errors', async () => {
    const a = io(files)
    expect(await runPolicyExplain([], a.io)).toBe(1)
    expect(a.err.join('')).toContain('--user is required')
    const b = io(files)
    expect(await runPolicyExplain(['--user', 'a@example.com', '--auth-age', 'ten'], b.io)).toBe(1)
    const c = io({ 'bad.hujson': BROKEN })
    expect(await runPolicyExplain(['--user', 'a@example.com', '--file', 'bad.hujson'], c.io)).toBe(1)
    expect(c.err.join('')).toContain('unknown gateway "eu-9"')
    const d = io(files)
    expect(await runPolicyExplain(['--user', 'a@example.com', '--bogus'], d.io)).toBe(1)
  })

  it('still explains a policy whose tests fail, and says so', async () => {
    const failing = EXAMPLE.replace(
      '"expect": { "deny": "NO_MATCHING_GRANT" }',
      '"expect": { "deny": "DENIED_BY_RULE" }',
    )
    const t = io({ 'p.hujson': failing })
    expect(await runPolicyExplain(['--file', 'p.hujson', '--user', 'eve@elsewhere.example'], t.io)).toBe(0)
    expect(t.err.join('')).toContain('1 in-file test(s) fail')
    expect(t.out.join('')).toContain('Decision: DENY NO_MATCHING_GRANT')
  })
})
