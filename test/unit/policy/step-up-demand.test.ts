// Which assurance level a denial asks the person to step up to (RFC 9470's acr_values and max_age come
// from it): the level that unblocks the most grants, the first in file order on a tie, and the policy's
// longest sign-in age when the level names none.
import { describe, expect, it } from 'vitest'
import { evaluatePolicy } from '../../../src/core/policy/index.ts'
import { compile, NOW, subject } from './helpers.ts'

function policyWith(grants: string) {
  return compile(`{
  "gateways": {
    "eu-1": { "endpoint": "eu-1.example:51820", "routes": { "prod": ["10.10.0.0/16"] } },
    "us-1": { "endpoint": "us-1.example:51820", "routes": { "prod": ["10.20.0.0/16"], "dev": ["10.21.0.0/16"] } },
  },
  "assurance": {
    "hw": { "amrAny": ["hwk"], "maxAuthAge": "1h" },
    "acr": { "acrAny": ["c2"] },
  },
  "grants": [ ${grants} ],
}`)
}

const passwordOnly = subject('dev@example.com', { verdict: 'single', amr: ['pwd'] })

describe('the step-up demand of an ASSURANCE_UNMET denial', () => {
  it('asks for the level that unblocks the most grants', () => {
    const policy = policyWith(`
      { "src": ["user:dev@example.com"], "dst": ["eu-1:prod"], "assurance": "hw", "onUnmet": "stepUp" },
      { "src": ["user:dev@example.com"], "dst": ["us-1:prod"], "assurance": "acr", "onUnmet": "stepUp" },
      { "src": ["user:dev@example.com"], "dst": ["us-1:dev"], "assurance": "acr", "onUnmet": "stepUp" }`)
    const decision = evaluatePolicy(policy, { subject: passwordOnly }, NOW)
    expect(decision).toMatchObject({ allow: false, code: 'ASSURANCE_UNMET' })
    if (decision.allow) return
    // No maxAuthAge on the level: the demand carries the policy's own longest sign-in age.
    expect(policy.maxLoginAgeSeconds).toBeGreaterThan(0)
    expect(decision.stepUp).toEqual({
      assurance: 'acr',
      mfa: false,
      amrAny: null,
      acrAny: ['c2'],
      maxAgeSeconds: policy.maxLoginAgeSeconds,
    })
  })

  it('on a tie, asks for the level of the first grant in the file', () => {
    const policy = policyWith(`
      { "src": ["user:dev@example.com"], "dst": ["eu-1:prod"], "assurance": "hw", "onUnmet": "stepUp" },
      { "src": ["user:dev@example.com"], "dst": ["us-1:prod"], "assurance": "acr", "onUnmet": "stepUp" }`)
    const decision = evaluatePolicy(policy, { subject: passwordOnly }, NOW)
    expect(decision.allow).toBe(false)
    if (decision.allow) return
    expect(decision.stepUp).toEqual({
      assurance: 'hw',
      mfa: false,
      amrAny: ['hwk'],
      acrAny: null,
      maxAgeSeconds: 3600,
    })
  })
})

describe('denial messages', () => {
  it('name the rule and the person, or the gateways no grant reaches', () => {
    const policy = compile(`{
  "gateways": {
    "eu-1": { "endpoint": "eu-1.example:51820", "routes": { "prod": ["10.10.0.0/16"] } },
    "us-1": { "endpoint": "us-1.example:51820", "routes": { "prod": ["10.20.0.0/16"] } },
  },
  "grants": [ { "src": ["user:dev@example.com", "user:mallory@example.com"], "dst": ["us-1:prod"] } ],
  "deny": [ { "src": ["user:mallory@example.com"] } ],
}`)
    const denied = evaluatePolicy(policy, { subject: subject('mallory@example.com') }, NOW)
    expect(denied).toMatchObject({
      allow: false,
      reasons: [
        {
          code: 'DENIED_BY_RULE',
          message: 'deny[0] denies mallory@example.com (idp okta) (src: user:mallory@example.com)',
          source: 'deny[0]',
        },
      ],
    })
    const elsewhere = evaluatePolicy(policy, { subject: passwordOnly, gateways: ['eu-1'] }, NOW)
    expect(elsewhere).toMatchObject({
      allow: false,
      code: 'NO_MATCHING_GRANT',
      reasons: [{ message: 'no grant gives dev@example.com (idp okta) access to eu-1' }],
    })
  })
})
