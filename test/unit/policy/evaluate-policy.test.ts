// The decision semantics of DESIGN.md, one rule per test, plus explanations and admins.
import { describe, expect, it } from 'vitest'
import {
  evaluatePolicy,
  explainDecision,
  isPolicyAdmin,
  renderExplanation,
} from '../../../src/core/policy/index.ts'
import { compile, NOW, subject } from './helpers.ts'

const H = 3_600_000
const authAgo = (ms: number) => Math.floor((NOW - ms) / 1000)

const POLICY = compile(`{
  "network": { "ipv4": "100.96.0.0/16" },
  "gateways": {
    "eu-1": { "endpoint": "eu-1.example:51820", "routes": { "prod": ["10.10.0.0/16"], "office": ["192.168.10.0/24"], "dup": ["10.10.0.0/16"] } },
    "us-1": { "endpoint": "us-1.example:51820", "routes": { "prod": ["10.20.0.0/16"] } },
  },
  "groups": {
    "group:eng": ["idp:*:engineering", "user:Alice@Example.com"],
    "group:oncall": ["idp:okta:pager"],
    "group:all-eng": ["group:eng", "group:oncall"],
    "group:contractors": ["domain:contractor.example"],
    "group:admins": ["user:root@example.com"],
  },
  "assurance": {
    "mfa": { "mfa": true, "maxAuthAge": "12h" },
    "hw": { "amrAny": ["hwk"], "maxAuthAge": "1h" },
    "acr": { "acrAny": ["phrh", "c2"] },
  },
  "grants": [
    { "src": ["group:eng"], "dst": ["eu-1:prod"], "assurance": "mfa", "ttl": "8h", "onUnmet": "stepUp" },
    { "src": ["group:all-eng"], "dst": ["us-1:prod"], "assurance": "mfa", "ttl": "4h", "onUnmet": "stepUp" },
    { "src": ["group:contractors"], "dst": ["eu-1:office"], "assurance": "hw", "ttl": "2h" },
    { "src": ["user:alice@example.com"], "dst": ["eu-1:office", "eu-1:dup"], "assurance": "hw", "onUnmet": "stepUp" },
    { "src": ["user:nomfa@example.com"], "dst": ["eu-1:office"] },
    { "src": ["user:acr@example.com"], "dst": ["eu-1:office"], "assurance": "acr" },
  ],
  "deny": [ { "src": ["user:mallory@example.com", "idp:okta:blocked"] } ],
  "admins": ["group:admins"],
}`)

describe('evaluatePolicy', () => {
  it('denies by default with NO_MATCHING_GRANT and a reason', () => {
    const d = evaluatePolicy(POLICY, { subject: subject('eve@elsewhere.example') }, NOW)
    expect(d).toEqual({
      allow: false,
      code: 'NO_MATCHING_GRANT',
      stepUp: null,
      reasons: [
        { code: 'NO_MATCHING_GRANT', message: "no grant's src names eve@elsewhere.example (idp okta)" },
      ],
    })
  })

  it('an empty policy grants nothing', () => {
    const empty = compile('')
    expect(evaluatePolicy(empty, { subject: subject('root@example.com') }, NOW)).toMatchObject({
      allow: false,
      code: 'NO_MATCHING_GRANT',
    })
    expect(isPolicyAdmin(empty, subject('root@example.com'))).toBe(false)
  })

  it('a matching deny wins over every grant, by email or IdP group', () => {
    const byEmail = evaluatePolicy(
      POLICY,
      { subject: subject('mallory@example.com', {}, { groups: ['engineering'] }) },
      NOW,
    )
    expect(byEmail).toMatchObject({ allow: false, code: 'DENIED_BY_RULE', stepUp: null })
    expect(byEmail.reasons[0]).toMatchObject({ code: 'DENIED_BY_RULE', source: 'deny[0]' })
    const byGroup = evaluatePolicy(
      POLICY,
      { subject: subject('x@example.com', {}, { groups: ['engineering', 'blocked'] }) },
      NOW,
    )
    expect(byGroup).toMatchObject({ allow: false, code: 'DENIED_BY_RULE' })
    const otherIdp = evaluatePolicy(
      POLICY,
      { subject: subject('x@example.com', {}, { groups: ['engineering', 'blocked'], idpId: 'google' }) },
      NOW,
    )
    expect(otherIdp.allow).toBe(true)
  })

  it('gives the union of routes per gateway over the satisfied grants, in file order, without duplicates', () => {
    const d = evaluatePolicy(POLICY, { subject: subject('alice@example.com', { amr: ['pwd', 'hwk'] }) }, NOW)
    expect(d).toMatchObject({
      allow: true,
      grants: [
        { gateway: 'eu-1', routes: ['10.10.0.0/16', '192.168.10.0/24'] },
        { gateway: 'us-1', routes: ['10.20.0.0/16'] },
      ],
      routeNames: ['eu-1:prod', 'eu-1:office', 'eu-1:dup', 'us-1:prod'],
      matchedGrants: ['grants[0]', 'grants[1]', 'grants[3]'],
    })
    expect(d.reasons.map((r) => r.source)).toEqual(['grants[0]', 'grants[1]', 'grants[3]'])
  })

  it('matches user: case-insensitively, idp:*: for any IdP, idp:ID: only for that IdP, nested groups', () => {
    expect(evaluatePolicy(POLICY, { subject: subject('ALICE@example.COM') }, NOW).allow).toBe(true)
    const viaGroup = evaluatePolicy(
      POLICY,
      { subject: subject('dev@corp.example', {}, { groups: ['engineering'], idpId: 'entra' }) },
      NOW,
    )
    expect(viaGroup).toMatchObject({ allow: true, matchedGrants: ['grants[0]', 'grants[1]'] })
    const pager = evaluatePolicy(
      POLICY,
      { subject: subject('p@corp.example', {}, { groups: ['pager'] }) },
      NOW,
    )
    expect(pager).toMatchObject({ allow: true, matchedGrants: ['grants[1]'] })
    const pagerElsewhere = evaluatePolicy(
      POLICY,
      { subject: subject('p@corp.example', {}, { groups: ['pager'], idpId: 'google' }) },
      NOW,
    )
    expect(pagerElsewhere).toMatchObject({ allow: false, code: 'NO_MATCHING_GRANT' })
    const wrongCase = evaluatePolicy(
      POLICY,
      { subject: subject('p@corp.example', {}, { groups: ['Engineering'] }) },
      NOW,
    )
    expect(wrongCase.allow).toBe(false)
  })

  it('matches domain: on the email domain only', () => {
    const hw = { amr: ['pwd', 'hwk'] }
    expect(evaluatePolicy(POLICY, { subject: subject('c@contractor.example', hw) }, NOW)).toMatchObject({
      allow: true,
      matchedGrants: ['grants[2]'],
    })
    expect(evaluatePolicy(POLICY, { subject: subject('c@sub.contractor.example', hw) }, NOW).allow).toBe(
      false,
    )
    expect(evaluatePolicy(POLICY, { subject: subject(null, hw) }, NOW).allow).toBe(false)
  })

  it('takes the smallest TTL of the contributing grants', () => {
    const d = evaluatePolicy(
      POLICY,
      { subject: subject('dev@corp.example', { authTime: authAgo(0) }, { groups: ['engineering'] }) },
      NOW,
    )
    expect(d).toMatchObject({ allow: true, ttlMs: 4 * H, expiresAt: NOW + 4 * H })
  })

  it('takes what maxAuthAge still allows since auth_time when that is smaller', () => {
    const d = evaluatePolicy(
      POLICY,
      { subject: subject('dev@corp.example', { authTime: authAgo(9 * H) }, { groups: ['engineering'] }) },
      NOW,
    )
    expect(d).toMatchObject({ allow: true, ttlMs: 3 * H, expiresAt: NOW + 3 * H })
    const hw = evaluatePolicy(
      POLICY,
      { subject: subject('c@contractor.example', { amr: ['hwk'], authTime: authAgo(H - 60_000) }) },
      NOW,
    )
    expect(hw).toMatchObject({ allow: true, ttlMs: 60_000 })
  })

  it('uses 8h when a grant has no ttl and no assurance', () => {
    const d = evaluatePolicy(
      POLICY,
      { subject: subject('nomfa@example.com', { verdict: 'single', amr: ['pwd'] }) },
      NOW,
    )
    expect(d).toMatchObject({
      allow: true,
      ttlMs: 8 * H,
      grants: [{ gateway: 'eu-1', routes: ['192.168.10.0/24'] }],
    })
  })

  it('refuses a grant with maxAuthAge when auth_time is missing or too old', () => {
    const missing = evaluatePolicy(
      POLICY,
      { subject: subject('c@contractor.example', { amr: ['hwk'], authTime: null }) },
      NOW,
    )
    expect(missing).toMatchObject({ allow: false, code: 'ASSURANCE_UNMET', stepUp: null })
    expect(missing.reasons.map((r) => r.code)).toEqual(['AUTH_TIME_MISSING'])
    const old = evaluatePolicy(
      POLICY,
      { subject: subject('c@contractor.example', { amr: ['hwk'], authTime: authAgo(H) }) },
      NOW,
    )
    expect(old.reasons).toEqual([
      {
        code: 'AUTH_TOO_OLD',
        message: 'grants[2] (assurance "hw") requires a sign-in within 1h; this one is 1h old',
        source: 'grants[2]',
      },
    ])
  })

  it('an auth_time in the future never buys more than maxAuthAge', () => {
    const d = evaluatePolicy(
      POLICY,
      { subject: subject('c@contractor.example', { amr: ['hwk'], authTime: authAgo(-5 * H) }) },
      NOW,
    )
    expect(d).toMatchObject({ allow: true, ttlMs: H })
  })

  it('MFA is met only by the mfa verdict or a Keygate step-up', () => {
    const who = (auth: object) =>
      evaluatePolicy(POLICY, { subject: subject('dev@corp.example', auth, { groups: ['engineering'] }) }, NOW)
    expect(who({ verdict: 'unknown', amr: ['mfa'] }).allow).toBe(false)
    expect(who({ verdict: 'single' }).allow).toBe(false)
    expect(who({ verdict: 'single', stepUp: 'totp' }).allow).toBe(true)
    expect(who({ verdict: 'mfa' }).allow).toBe(true)
  })

  it('amrAny is met by an amr value, or by a step-up proving one where the grant says onUnmet stepUp', () => {
    const contractor = (auth: object) =>
      evaluatePolicy(POLICY, { subject: subject('c@contractor.example', auth) }, NOW)
    expect(contractor({ amr: ['pwd', 'otp'] })).toMatchObject({ allow: false, code: 'ASSURANCE_UNMET' })
    expect(contractor({ amr: ['pwd', 'hwk'] }).allow).toBe(true)
    // The contractors' grant has no onUnmet "stepUp": only what the IdP asserted counts.
    expect(contractor({ amr: ['pwd'], stepUp: 'webauthn:hwk' }).allow).toBe(false)
    // Alice's office grant (hw, onUnmet stepUp); her eu-1:prod comes from group:eng's mfa grant.
    const aliceOffice = (stepUp: string) => {
      const d = evaluatePolicy(
        POLICY,
        { subject: subject('alice@example.com', { verdict: 'single', amr: ['pwd'], stepUp }) },
        NOW,
      )
      return d.allow && d.routeNames.includes('eu-1:office')
    }
    expect(aliceOffice('webauthn:hwk')).toBe(true)
    // A key without trusted attestation proves swk, a TOTP app otp: neither is hwk.
    expect(aliceOffice('webauthn')).toBe(false)
    expect(aliceOffice('totp')).toBe(false)
  })

  it('acrAny is met by acr or by one of acrs', () => {
    const who = (auth: object) => evaluatePolicy(POLICY, { subject: subject('acr@example.com', auth) }, NOW)
    expect(who({ acr: 'phrh' }).allow).toBe(true)
    expect(who({ acr: null, acrs: ['c1', 'c2'] }).allow).toBe(true)
    expect(who({ acr: '0' })).toMatchObject({ allow: false, reasons: [{ code: 'ACR_NOT_MET' }] })
  })

  it('demands a step-up only when every blocking grant allows it, naming the level', () => {
    const eng = evaluatePolicy(
      POLICY,
      {
        subject: subject(
          'dev@corp.example',
          { verdict: 'single', amr: ['pwd'] },
          { groups: ['engineering'] },
        ),
      },
      NOW,
    )
    expect(eng).toMatchObject({
      allow: false,
      code: 'ASSURANCE_UNMET',
      stepUp: { assurance: 'mfa', mfa: true, amrAny: null, acrAny: null, maxAgeSeconds: 12 * 3600 },
    })
    expect(eng.reasons.map((r) => `${r.source} ${r.code}`)).toEqual([
      'grants[0] MFA_NOT_PROVEN',
      'grants[1] MFA_NOT_PROVEN',
    ])
    const contractor = evaluatePolicy(
      POLICY,
      { subject: subject('c@contractor.example', { amr: ['pwd'] }) },
      NOW,
    )
    expect(contractor).toMatchObject({ code: 'ASSURANCE_UNMET', stepUp: null })
  })

  it('allows with the satisfied grants and names the unmet ones in the reasons', () => {
    const d = evaluatePolicy(POLICY, { subject: subject('alice@example.com', { amr: ['pwd', 'otp'] }) }, NOW)
    expect(d).toMatchObject({ allow: true, matchedGrants: ['grants[0]', 'grants[1]'] })
    expect(d.reasons.map((r) => r.code)).toEqual(['GRANT_MATCHED', 'GRANT_MATCHED', 'AMR_NOT_MET'])
    expect(d.reasons[2]).toMatchObject({ source: 'grants[3]' })
  })

  it('restricts to the requested gateways', () => {
    const eng = subject('dev@corp.example', {}, { groups: ['engineering'] })
    expect(evaluatePolicy(POLICY, { subject: eng, gateways: ['us-1'] }, NOW)).toMatchObject({
      allow: true,
      grants: [{ gateway: 'us-1', routes: ['10.20.0.0/16'] }],
      matchedGrants: ['grants[1]'],
      ttlMs: 4 * H,
    })
    expect(evaluatePolicy(POLICY, { subject: eng, gateways: ['ap-1'] }, NOW)).toMatchObject({
      allow: false,
      code: 'NO_MATCHING_GRANT',
      reasons: [{ message: 'no grant gives dev@corp.example (idp okta, groups engineering) access to ap-1' }],
    })
    expect(evaluatePolicy(POLICY, { subject: eng, gateways: [] }, NOW)).toMatchObject({
      allow: true,
      matchedGrants: ['grants[0]', 'grants[1]'],
    })
  })
})

describe('admins', () => {
  it('come from the policy, through groups', () => {
    expect(isPolicyAdmin(POLICY, subject('ROOT@example.com'))).toBe(true)
    expect(isPolicyAdmin(POLICY, subject('alice@example.com'))).toBe(false)
  })
})

describe('explainDecision', () => {
  it('names the matching member, the failed conditions, and the grants that contribute', () => {
    const e = explainDecision(
      POLICY,
      { subject: subject('alice@example.com', { amr: ['pwd', 'otp'], authTime: authAgo(600_000) }) },
      NOW,
    )
    expect(e.policyGroups).toEqual(['group:eng', 'group:all-eng'])
    expect(e.grants.map((g) => [g.id, g.status, g.via])).toEqual([
      ['grants[0]', 'contributes', ['group:eng (user:Alice@Example.com)']],
      ['grants[1]', 'contributes', ['group:all-eng (user:Alice@Example.com)']],
      ['grants[3]', 'assurance-unmet', ['user:alice@example.com']],
    ])
    expect(e.grants[2]!.failed.map((f) => f.code)).toEqual(['AMR_NOT_MET'])
    expect(e.otherGrants).toBe(3)
    expect(e.subject.authAgeSeconds).toBe(600)
    const text = renderExplanation(e)
    expect(text).toContain('Decision: ALLOW for 4h')
    expect(text).toContain('  + grants[0]: contributes; via group:eng (user:Alice@Example.com)')
    expect(text).toContain(
      '      failed AMR_NOT_MET: grants[3] (assurance "hw") requires one of amr [hwk]; the sign-in had [pwd, otp]',
    )
  })

  it('shows deny rules hit and marks grants overridden', () => {
    const e = explainDecision(
      POLICY,
      { subject: subject('mallory@example.com', {}, { groups: ['engineering'] }) },
      NOW,
    )
    expect(e.denyRules).toEqual([{ id: 'deny[0]', via: ['user:mallory@example.com'] }])
    expect(e.grants.map((g) => g.status)).toEqual(['overridden-by-deny', 'overridden-by-deny'])
    expect(renderExplanation(e)).toContain('Decision: DENY DENIED_BY_RULE')
  })

  it('renders a step-up demand', () => {
    const e = explainDecision(
      POLICY,
      { subject: subject('dev@corp.example', { verdict: 'single' }, { groups: ['engineering'] }) },
      NOW,
    )
    expect(renderExplanation(e)).toContain('  step-up to "mfa": MFA, max_age 43200s')
  })
})

describe('emails match with ASCII case folding only', () => {
  const policy = compile(`{
  "gateways": { "eu-1": { "endpoint": "eu-1.example:51820", "routes": { "prod": ["10.10.0.0/16"] } } },
  "grants": [
    { "src": ["user:kim@example.com"], "dst": ["eu-1:*"] },
    { "src": ["domain:kelp.example"], "dst": ["eu-1:*"] },
  ],
  "admins": ["user:kim@example.com"],
}`)

  it('a Kelvin-sign look-alike (U+212A) matches neither the user nor the domain it folds to', () => {
    const lookAlike = subject('\u212Aim@example.com')
    expect(evaluatePolicy(policy, { subject: lookAlike }, NOW)).toMatchObject({
      allow: false,
      code: 'NO_MATCHING_GRANT',
    })
    expect(isPolicyAdmin(policy, lookAlike)).toBe(false)
    expect(evaluatePolicy(policy, { subject: subject('eve@\u212Aelp.example') }, NOW).allow).toBe(false)
  })

  it('ASCII case still folds: KIM@Example.COM is kim@example.com', () => {
    expect(evaluatePolicy(policy, { subject: subject('KIM@Example.COM') }, NOW).allow).toBe(true)
    expect(isPolicyAdmin(policy, subject('Kim@EXAMPLE.com'))).toBe(true)
    expect(evaluatePolicy(policy, { subject: subject('x@KELP.example') }, NOW).allow).toBe(true)
  })
})
