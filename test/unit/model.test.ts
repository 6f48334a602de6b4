// The little behaviour the domain model has: a lease's state at an instant, and a SCIM group's member values.
import { describe, expect, it } from 'vitest'
import { leaseState, scimGroupValues } from '../../src/core/model.ts'

describe('leaseState', () => {
  it('is active until the expiry instant, expired from it on', () => {
    expect(leaseState({ revokedAt: null, expiresAt: 1_000 }, 999)).toBe('active')
    expect(leaseState({ revokedAt: null, expiresAt: 1_000 }, 1_000)).toBe('expired')
    expect(leaseState({ revokedAt: null, expiresAt: 1_000 }, 1_001)).toBe('expired')
  })

  it('is revoked once revoked, whatever the time, even when revoked at 0', () => {
    expect(leaseState({ revokedAt: 500, expiresAt: 1_000 }, 600)).toBe('revoked')
    expect(leaseState({ revokedAt: 500, expiresAt: 1_000 }, 2_000)).toBe('revoked')
    expect(leaseState({ revokedAt: 0, expiresAt: 1_000 }, 1)).toBe('revoked')
  })
})

describe('scimGroupValues', () => {
  it('gives the name, and the external id too when it differs', () => {
    expect(scimGroupValues({ displayName: 'Engineering', externalId: null })).toEqual(['Engineering'])
    expect(scimGroupValues({ displayName: 'Engineering', externalId: 'Engineering' })).toEqual([
      'Engineering',
    ])
    expect(scimGroupValues({ displayName: 'Engineering', externalId: 'grp-42' })).toEqual([
      'Engineering',
      'grp-42',
    ])
  })
})
