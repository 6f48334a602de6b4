// `keygate policy explain`'s account of a decision: which rules and grants name the subject and through
// which member, each grant's status and failed conditions, and the whole rendered text, line by line.
import { describe, expect, it } from 'vitest'
import { explainDecision, renderExplanation } from '../../../src/core/policy/index.ts'
import { compile, NOW, subject } from './helpers.ts'

const POLICY = compile(`{
  "gateways": {
    "eu-1": { "endpoint": "eu-1.example:51820", "routes": { "prod": ["10.10.0.0/16"], "office": ["192.168.10.0/24"] } },
    "us-1": { "endpoint": "us-1.example:51820", "routes": { "prod": ["10.20.0.0/16", "10.21.0.0/16"] } },
  },
  "groups": { "group:eng": ["idp:*:engineering", "user:alice@example.com"], "group:ops": ["user:bob@example.com"] },
  "assurance": {
    "mfa": { "mfa": true, "maxAuthAge": "12h" },
    "hw": { "amrAny": ["hwk"], "acrAny": ["phrh"], "maxAuthAge": "1h" },
    "fresh": { "maxAuthAge": "10m" },
  },
  "grants": [
    { "src": ["group:eng"], "dst": ["eu-1:prod"], "assurance": "mfa", "ttl": "8h" },
    { "src": ["user:alice@example.com", "group:eng"], "dst": ["us-1:prod"], "ttl": "2h" },
    { "src": ["user:alice@example.com"], "dst": ["eu-1:office"], "assurance": "hw", "onUnmet": "stepUp" },
    { "src": ["group:ops"], "dst": ["eu-1:*"] },
    { "src": ["user:carol@example.com"], "dst": ["eu-1:office"], "assurance": "hw", "onUnmet": "stepUp" },
    { "src": ["user:dave@example.com"], "dst": ["eu-1:prod"], "assurance": "fresh", "onUnmet": "stepUp" },
  ],
  "deny": [ { "src": ["user:mallory@example.com", "group:ops"] } ],
  "admins": ["group:eng"],
}`)

const secondsAgo = (s: number) => Math.floor(NOW / 1000) - s
const text = (...lines: string[]) => `${lines.join('\n')}\n`

describe('explainDecision', () => {
  it('an allow: every grant naming the subject, through which member, and what each adds', () => {
    const e = explainDecision(
      POLICY,
      { subject: subject('alice@example.com', { authTime: secondsAgo(90) }) },
      NOW,
    )
    expect(e).toMatchObject({
      policyHash: POLICY.hash,
      subject: {
        email: 'alice@example.com',
        idp: 'okta',
        groups: [],
        verdict: 'mfa',
        amr: ['pwd', 'otp'],
        acr: null,
        authAgeSeconds: 90,
        stepUp: null,
      },
      policyGroups: ['group:eng'],
      admin: true,
      requestedGateways: null,
      denyRules: [],
      otherGrants: 3,
    })
    expect(e.grants).toEqual([
      {
        id: 'grants[0]',
        status: 'contributes',
        via: ['group:eng (user:alice@example.com)'],
        destinations: ['eu-1:prod'],
        assurance: 'mfa',
        ttlMs: 8 * 3_600_000,
        failed: [],
      },
      {
        id: 'grants[1]',
        status: 'contributes',
        via: ['user:alice@example.com', 'group:eng (user:alice@example.com)'],
        destinations: ['us-1:prod'],
        assurance: null,
        ttlMs: 2 * 3_600_000,
        failed: [],
      },
      {
        id: 'grants[2]',
        status: 'assurance-unmet',
        via: ['user:alice@example.com'],
        destinations: ['eu-1:office'],
        assurance: 'hw',
        ttlMs: 8 * 3_600_000,
        failed: [
          {
            code: 'AMR_NOT_MET',
            message: 'grants[2] (assurance "hw") requires one of amr [hwk]; the sign-in had [pwd, otp]',
            source: 'grants[2]',
          },
          {
            code: 'ACR_NOT_MET',
            message: 'grants[2] (assurance "hw") requires one of acr [phrh]; the sign-in had none',
            source: 'grants[2]',
          },
        ],
      },
    ])
    expect(e.decision).toMatchObject({ allow: true, routeNames: ['eu-1:prod', 'us-1:prod'] })
    expect(renderExplanation(e)).toBe(
      text(
        'Decision: ALLOW for 2h (until 2027-01-15T10:00:00.000Z)',
        '  eu-1: 10.10.0.0/16',
        '  us-1: 10.20.0.0/16, 10.21.0.0/16',
        '',
        'Subject: alice@example.com via idp "okta", groups []',
        '  verdict mfa, amr [pwd, otp], acr none, signed in 1m30s ago',
        '  policy groups: group:eng; admin: yes',
        '',
        'Deny rules hit: none',
        '',
        'Grants naming the subject:',
        '  + grants[0]: contributes; via group:eng (user:alice@example.com)',
        '      eu-1:prod; assurance "mfa"; ttl 8h',
        '  + grants[1]: contributes; via user:alice@example.com, group:eng (user:alice@example.com)',
        '      us-1:prod; no assurance; ttl 2h',
        '  - grants[2]: assurance unmet; via user:alice@example.com',
        '      eu-1:office; assurance "hw"; ttl 8h',
        '      failed AMR_NOT_MET: grants[2] (assurance "hw") requires one of amr [hwk]; the sign-in had [pwd, otp]',
        '      failed ACR_NOT_MET: grants[2] (assurance "hw") requires one of acr [phrh]; the sign-in had none',
        'Grants not naming the subject: 3',
        '',
        'Reasons:',
        '  GRANT_MATCHED [grants[0]]: grants[0] allows eu-1:prod at assurance "mfa" for up to 8h',
        '  GRANT_MATCHED [grants[1]]: grants[1] allows us-1:prod for up to 2h',
        '  AMR_NOT_MET [grants[2]]: grants[2] (assurance "hw") requires one of amr [hwk]; the sign-in had [pwd, otp]',
        '  ACR_NOT_MET [grants[2]]: grants[2] (assurance "hw") requires one of acr [phrh]; the sign-in had none',
        '',
        `Policy hash: ${POLICY.hash}`,
      ),
    )
  })

  it('requested gateways put other grants out of scope; no auth_time and a step-up token are shown', () => {
    const e = explainDecision(
      POLICY,
      {
        subject: subject('alice@example.com', {
          verdict: 'single',
          amr: ['pwd'],
          authTime: null,
          stepUp: 'totp',
        }),
        gateways: ['eu-1'],
      },
      NOW,
    )
    expect(e.requestedGateways).toEqual(['eu-1'])
    expect(e.subject).toMatchObject({ authAgeSeconds: null, stepUp: 'totp', verdict: 'single' })
    expect(e.grants.map((g) => [g.id, g.status, g.failed.map((f) => f.code)])).toEqual([
      ['grants[0]', 'assurance-unmet', ['MFA_NOT_PROVEN', 'AUTH_TIME_MISSING']],
      ['grants[1]', 'out-of-scope', []],
      ['grants[2]', 'assurance-unmet', ['AMR_NOT_MET', 'ACR_NOT_MET', 'AUTH_TIME_MISSING']],
    ])
    const lines = renderExplanation(e).split('\n')
    expect(lines.slice(0, 7)).toEqual([
      'Decision: DENY ASSURANCE_UNMET',
      '',
      'Subject: alice@example.com via idp "okta", groups []',
      '  verdict single, amr [pwd], acr none, no auth_time, step-up totp',
      '  policy groups: group:eng; admin: yes',
      '  requested gateways: eu-1',
      '',
    ])
    expect(lines).toContain(
      '  - grants[1]: no requested gateway; via user:alice@example.com, group:eng (user:alice@example.com)',
    )
  })

  it('a step-up demand names what the level asks for, or a fresh sign-in when it asks only for age', () => {
    const carol = explainDecision(
      POLICY,
      {
        subject: subject(
          'carol@example.com',
          { verdict: 'single', amr: ['pwd'], acr: 'c1' },
          { groups: ['x'] },
        ),
      },
      NOW,
    )
    expect(renderExplanation(carol)).toBe(
      text(
        'Decision: DENY ASSURANCE_UNMET',
        '  step-up to "hw": amr one of [hwk], acr one of [phrh], max_age 3600s',
        '',
        'Subject: carol@example.com via idp "okta", groups [x]',
        '  verdict single, amr [pwd], acr c1, signed in 1m ago',
        '  policy groups: none; admin: no',
        '',
        'Deny rules hit: none',
        '',
        'Grants naming the subject:',
        '  - grants[4]: assurance unmet; via user:carol@example.com',
        '      eu-1:office; assurance "hw"; ttl 8h',
        '      failed AMR_NOT_MET: grants[4] (assurance "hw") requires one of amr [hwk]; the sign-in had [pwd]',
        '      failed ACR_NOT_MET: grants[4] (assurance "hw") requires one of acr [phrh]; the sign-in had c1',
        'Grants not naming the subject: 5',
        '',
        'Reasons:',
        '  AMR_NOT_MET [grants[4]]: grants[4] (assurance "hw") requires one of amr [hwk]; the sign-in had [pwd]',
        '  ACR_NOT_MET [grants[4]]: grants[4] (assurance "hw") requires one of acr [phrh]; the sign-in had c1',
        '',
        `Policy hash: ${POLICY.hash}`,
      ),
    )
    const dave = explainDecision(
      POLICY,
      { subject: subject('dave@example.com', { authTime: secondsAgo(3600) }) },
      NOW,
    )
    expect(renderExplanation(dave).split('\n').slice(0, 2)).toEqual([
      'Decision: DENY ASSURANCE_UNMET',
      '  step-up to "fresh": a fresh sign-in, max_age 600s',
    ])
  })

  it('a deny rule: the rule and its member, every grant overridden', () => {
    const e = explainDecision(
      POLICY,
      { subject: subject('bob@example.com', {}, { groups: ['engineering'] }) },
      NOW,
    )
    expect(e.denyRules).toEqual([{ id: 'deny[0]', via: ['group:ops (user:bob@example.com)'] }])
    expect(e.policyGroups).toEqual(['group:eng', 'group:ops'])
    expect(renderExplanation(e)).toBe(
      text(
        'Decision: DENY DENIED_BY_RULE',
        '',
        'Subject: bob@example.com via idp "okta", groups [engineering]',
        '  verdict mfa, amr [pwd, otp], acr none, signed in 1m ago',
        '  policy groups: group:eng, group:ops; admin: yes',
        '',
        'Deny rules hit:',
        '  deny[0] via group:ops (user:bob@example.com)',
        '',
        'Grants naming the subject:',
        '  - grants[0]: overridden by a deny rule; via group:eng (idp:*:engineering)',
        '      eu-1:prod; assurance "mfa"; ttl 8h',
        '  - grants[1]: overridden by a deny rule; via group:eng (idp:*:engineering)',
        '      us-1:prod; no assurance; ttl 2h',
        '  - grants[3]: overridden by a deny rule; via group:ops (user:bob@example.com)',
        '      eu-1:prod, eu-1:office; no assurance; ttl 8h',
        'Grants not naming the subject: 3',
        '',
        'Reasons:',
        '  DENIED_BY_RULE [deny[0]]: deny[0] denies bob@example.com (idp okta, groups engineering) (src: user:mallory@example.com, group:ops)',
        '',
        `Policy hash: ${POLICY.hash}`,
      ),
    )
  })

  it('nobody named: no email, no groups, no grants, a reason without a source', () => {
    const e = explainDecision(POLICY, { subject: subject(null), gateways: ['us-1', 'eu-1'] }, NOW)
    expect(e).toMatchObject({ policyGroups: [], admin: false, denyRules: [], grants: [], otherGrants: 6 })
    expect(renderExplanation(e)).toBe(
      text(
        'Decision: DENY NO_MATCHING_GRANT',
        '',
        'Subject: (no email) via idp "okta", groups []',
        '  verdict mfa, amr [pwd, otp], acr none, signed in 1m ago',
        '  policy groups: none; admin: no',
        '  requested gateways: us-1, eu-1',
        '',
        'Deny rules hit: none',
        '',
        'Grants naming the subject: none',
        'Grants not naming the subject: 6',
        '',
        'Reasons:',
        "  NO_MATCHING_GRANT: no grant's src names anon (idp okta)",
        '',
        `Policy hash: ${POLICY.hash}`,
      ),
    )
  })
})

describe('explainDecision with several of everything', () => {
  const policy = compile(`{
  "gateways": {
    "eu-1": { "endpoint": "eu-1.example:51820", "routes": { "prod": ["10.10.0.0/16"] } },
    "bare": { "endpoint": "bare.example:51820" },
  },
  "groups": { "group:ops": ["user:bob@example.com"], "group:eng": ["idp:*:engineering"] },
  "assurance": { "hw": { "amrAny": ["hwk", "swk"], "acrAny": ["phrh", "c2"] } },
  "grants": [
    { "src": ["group:ops", "user:carol@example.com"], "dst": ["eu-1:prod"], "assurance": "hw", "onUnmet": "stepUp" },
    { "src": ["user:carol@example.com"], "dst": ["bare:*"], "assurance": "hw", "onUnmet": "stepUp" },
  ],
  "deny": [ { "src": ["user:dave@example.com", "group:eng"] } ],
}`)

  it('lists every value a step-up asks for, every group, and a grant that reaches no route', () => {
    const e = explainDecision(
      policy,
      { subject: subject('carol@example.com', { verdict: 'single', amr: ['pwd'] }, { groups: ['a', 'b'] }) },
      NOW,
    )
    expect(e.grants.map((g) => [g.id, g.via, g.destinations])).toEqual([
      ['grants[0]', ['user:carol@example.com'], ['eu-1:prod']],
      ['grants[1]', ['user:carol@example.com'], []],
    ])
    const lines = renderExplanation(e).split('\n')
    expect(lines[1]).toBe('  step-up to "hw": amr one of [hwk, swk], acr one of [phrh, c2], max_age 3600s')
    expect(lines[3]).toBe('Subject: carol@example.com via idp "okta", groups [a, b]')
    expect(lines).toContain('      (no routes); assurance "hw"; ttl 8h')
  })

  it('names every entry of a deny rule that matches', () => {
    const e = explainDecision(
      policy,
      { subject: subject('dave@example.com', {}, { groups: ['engineering'] }) },
      NOW,
    )
    expect(e.denyRules).toEqual([
      { id: 'deny[0]', via: ['user:dave@example.com', 'group:eng (idp:*:engineering)'] },
    ])
    expect(renderExplanation(e)).toContain(
      '\n  deny[0] via user:dave@example.com, group:eng (idp:*:engineering)\n',
    )
  })
})
