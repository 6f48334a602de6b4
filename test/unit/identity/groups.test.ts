// Groups from the ID token; an overage reference fails closed with no groups.
import { describe, expect, it } from 'vitest'
import { groupsFromClaims } from '../../../src/core/identity/groups.ts'

describe('groupsFromClaims', () => {
  it('reads the groups claim, deduplicated, strings only', () => {
    expect(groupsFromClaims('okta', { groups: ['eng', 'eng', 7, 'ops'] })).toEqual({
      groups: ['eng', 'ops'],
      complete: true,
    })
  })

  it('accepts a single string and an absent claim', () => {
    expect(groupsFromClaims('generic', { groups: 'eng' }).groups).toEqual(['eng'])
    expect(groupsFromClaims('google', { hd: 'example.com' })).toEqual({ groups: [], complete: true })
  })

  it('reads a configured claim name', () => {
    expect(
      groupsFromClaims(
        'auth0',
        { 'https://example.com/groups': ['a'] },
        { groupsClaim: 'https://example.com/groups' },
      ),
    ).toEqual({ groups: ['a'], complete: true })
  })

  it('entra overage: no groups, marked incomplete', () => {
    const claims = {
      groups: ['partial'],
      _claim_names: { groups: 'src1' },
      _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/x/getMemberObjects' } },
    }
    expect(groupsFromClaims('entra', claims)).toEqual({ groups: [], complete: false })
  })

  it('hasgroups is an overage too', () => {
    expect(groupsFromClaims('entra', { hasgroups: true })).toEqual({ groups: [], complete: false })
  })

  it('a distributed claim for another name does not hide groups', () => {
    expect(groupsFromClaims('generic', { groups: ['a'], _claim_names: { address: 's' } }).complete).toBe(true)
  })
})
