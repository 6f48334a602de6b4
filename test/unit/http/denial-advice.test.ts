// The portal's advice on a denial (page-context.ts): a step-up only when it would satisfy the policy, a
// fresh sign-in only when age is what fails, "ask your admin" otherwise; and the code is the API's.
import { describe, expect, it } from 'vitest'
import { adviseOnDenial } from '../../../src/adapters/http/pages/page-context.ts'
import type { SessionContext } from '../../../src/core/broker/broker-deps.ts'
import { denialError, subjectOf } from '../../../src/core/broker/issue-lease.ts'
import type { AuthFacts } from '../../../src/core/model.ts'
import { type DenyDecision, evaluatePolicy } from '../../../src/core/policy/index.ts'
import { compile, NOW } from '../policy/helpers.ts'

const POLICY = compile(`{
  "network": { "ipv4": "100.96.0.0/16" },
  "gateways": { "gw-a": { "endpoint": "198.18.0.1:51820", "routes": { "prod": ["10.10.0.0/16"] } } },
  "groups": { "group:eng": ["idp:*:engineering"], "group:sales": ["idp:*:sales"], "group:keys": ["idp:*:keys"] },
  "assurance": {
    "mfa": { "mfa": true, "maxAuthAge": "1h" },
    "hwk": { "amrAny": ["hwk"], "maxAuthAge": "1h" },
  },
  "grants": [
    { "src": ["group:eng"], "dst": ["gw-a:*"], "assurance": "mfa", "ttl": "8h", "onUnmet": "stepUp" },
    { "src": ["group:sales"], "dst": ["gw-a:*"], "assurance": "mfa", "ttl": "8h" },
    { "src": ["group:keys"], "dst": ["gw-a:*"], "assurance": "hwk", "ttl": "8h", "onUnmet": "stepUp" },
  ],
}`)

function session(groups: string[], auth: Partial<AuthFacts>): SessionContext {
  return {
    sessionId: 's1',
    expiresAt: NOW + 3_600_000,
    identityId: 'i1',
    idpId: 'okta',
    issuer: 'https://idp.example',
    subject: 'u1',
    email: 'u1@example.com',
    groups,
    auth: {
      verdict: 'single',
      amr: ['pwd'],
      acr: null,
      acrs: [],
      authTime: Math.floor(NOW / 1000) - 60,
      stepUp: null,
      ...auth,
    },
  }
}

function advise(s: SessionContext) {
  const decision = evaluatePolicy(POLICY, { subject: subjectOf(s) }, NOW)
  expect(decision.allow).toBe(false)
  return adviseOnDenial(POLICY, s, decision as DenyDecision, NOW, '/')
}

describe('advice on a denial', () => {
  it('offers the step-up when Keygate’s own factor would satisfy the grant', () => {
    const advice = advise(session(['engineering'], {}))
    expect(advice.next).toMatchObject({ kind: 'step-up', href: '/step-up?returnTo=%2F' })
    expect(advice.code).toBe('STEP_UP_REQUIRED')
  })

  it('never offers the step-up again once made, when the factor proves too little (no loop)', () => {
    const advice = advise(session(['keys'], { stepUp: 'totp' }))
    expect(advice.next.kind).not.toBe('step-up')
  })

  it('says "sign in again" when only the age of the sign-in stands in the way, under AUTH_TOO_OLD', () => {
    const advice = advise(session(['sales'], { verdict: 'mfa', authTime: Math.floor(NOW / 1000) - 7200 }))
    expect(advice.next).toMatchObject({ kind: 'sign-in', label: 'Sign in again' })
    expect(advice.code).toBe('AUTH_TOO_OLD')
  })

  it('says "ask your admin" when only the IdP’s MFA helps, or no grant names the user', () => {
    const mfa = advise(session(['sales'], { stepUp: 'totp' }))
    expect(mfa.next.kind).toBe('ask-admin')
    expect(mfa.code).toBe('MFA_REQUIRED')
    const none = advise(session(['marketing'], {}))
    expect(none.next.kind).toBe('ask-admin')
    expect(none.code).toBe('POLICY_DENIED')
  })

  it('gives the code the API gives (denialError) in every case', () => {
    for (const s of [session(['engineering'], {}), session(['sales'], {}), session([], {})]) {
      const decision = evaluatePolicy(POLICY, { subject: subjectOf(s) }, NOW) as DenyDecision
      expect(adviseOnDenial(POLICY, s, decision, NOW, '/').code).toBe(denialError(decision).code)
    }
  })
})
