// The registries of Keygate's vocabularies (audit event types, reason codes, verdicts) and the one
// audit-event builder. The compiler keeps callers inside the registries; this keeps the registries sane.
import { describe, expect, it } from 'vitest'
import { auditEvent } from '../../src/core/audit-event.ts'
import { REASON_CODES } from '../../src/core/errors.ts'
import { AUDIT_EVENT_TYPES, isVerdict, VERDICTS } from '../../src/core/model.ts'

describe('vocabularies', () => {
  it('names each audit event type once, as noun.verb (or a bare noun)', () => {
    expect(new Set(AUDIT_EVENT_TYPES).size).toBe(AUDIT_EVENT_TYPES.length)
    for (const type of AUDIT_EVENT_TYPES) expect(type).toMatch(/^[a-z_]+(\.[a-z_]+)?$/)
  })

  it('names each reason code once, in SCREAMING_SNAKE', () => {
    expect(new Set(REASON_CODES).size).toBe(REASON_CODES.length)
    for (const code of REASON_CODES) expect(code).toMatch(/^[A-Z][A-Z_]+[A-Z]$/)
  })

  it('knows a verdict from anything else', () => {
    for (const verdict of VERDICTS) expect(isVerdict(verdict)).toBe(true)
    for (const other of ['MFA', 'none', '', null, 1]) expect(isVerdict(other)).toBe(false)
  })
})

describe('auditEvent', () => {
  it('fills every field it is not given with null, and data with an empty object', () => {
    expect(auditEvent('logout', { identityId: 'id-1' })).toEqual({
      type: 'logout',
      identityId: 'id-1',
      leaseId: null,
      gatewayId: null,
      actor: null,
      policyHash: null,
      data: {},
    })
    expect(
      auditEvent('lease.revoked', {
        leaseId: 'l',
        actor: 'a',
        policyHash: 'h',
        gatewayId: 'g',
        data: { x: 1 },
      }),
    ).toEqual({
      type: 'lease.revoked',
      identityId: null,
      leaseId: 'l',
      gatewayId: 'g',
      actor: 'a',
      policyHash: 'h',
      data: { x: 1 },
    })
  })
})
