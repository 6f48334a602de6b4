// Groups from the ID token; an overage reference or a claim of the wrong shape fails closed with no groups.
import { describe, expect, it } from 'vitest'
import { groupsFromClaims } from '../../../src/core/identity/groups.ts'

describe('groupsFromClaims', () => {
  it('reads the groups claim, deduplicated; anything but strings makes it unreadable', () => {
    expect(groupsFromClaims('okta', { groups: ['eng', 'eng', 'ops'] })).toEqual({
      groups: ['eng', 'ops'],
      complete: true,
    })
    expect(groupsFromClaims('okta', { groups: ['eng', 7, 'ops'] })).toMatchObject({ complete: false })
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
    expect(groupsFromClaims('entra', claims)).toEqual({ groups: [], complete: false, incomplete: 'overage' })
  })

  it('hasgroups is an overage too', () => {
    expect(groupsFromClaims('entra', { hasgroups: true })).toEqual({
      groups: [],
      complete: false,
      incomplete: 'overage',
    })
  })

  it('a distributed claim for another name does not hide groups', () => {
    expect(groupsFromClaims('generic', { groups: ['a'], _claim_names: { address: 's' } }).complete).toBe(true)
  })
})

describe('a groups claim Keygate cannot read makes the list incomplete (fail closed)', () => {
  it.each([
    ['an array of objects', [{ value: 'blocked' }]],
    ['an object', { blocked: true }],
    ['a number', 7],
    ['null', null],
    ['a mixed array', ['engineering', { value: 'blocked' }]],
  ])('%s', (_shape, groups) => {
    expect(groupsFromClaims('generic', { groups })).toEqual({
      groups: [],
      complete: false,
      incomplete: 'malformed',
    })
  })

  it('an absent claim is no groups; a string or an array of strings is read as before', () => {
    expect(groupsFromClaims('generic', {})).toEqual({ groups: [], complete: true })
    expect(groupsFromClaims('generic', { groups: 'eng' })).toEqual({ groups: ['eng'], complete: true })
    expect(groupsFromClaims('generic', { groups: ['a', 'b', 'a'] })).toEqual({
      groups: ['a', 'b'],
      complete: true,
    })
  })
})
