// How a policy names people, exactly: each member form parsed or refused with its own message and hint
// (src/core/policy/members.ts), groups flattened through nesting and cycles (resolve-groups.ts), and
// the index that finds the rules naming a subject (member-index.ts), compared with the one-by-one match.
import { describe, expect, it } from 'vitest'
import {
  createMemberIndex,
  indexMembers,
  lookupMembers,
  memberMatches,
} from '../../../src/core/policy/member-index.ts'
import { emailDomain, type Member, memberKey, parseMember } from '../../../src/core/policy/members.ts'
import type { GroupSpec } from '../../../src/core/policy/policy-document.ts'
import {
  expandMembers,
  flattenGroups,
  type PrimitiveMember,
} from '../../../src/core/policy/resolve-groups.ts'
import { subject } from './helpers.ts'

const FORMS = 'members are user:EMAIL, domain:DOMAIN, idp:IDP_ID:GROUP or group:NAME'

function member(text: string): Member {
  const parsed = parseMember(text)
  if (!parsed.ok) throw new Error(`${text}: ${parsed.message}`)
  return parsed.member
}

function primitive(text: string): PrimitiveMember {
  const parsed = member(text)
  if (parsed.kind === 'group') throw new Error(`${text} is a group`)
  return parsed
}

describe('parseMember', () => {
  it('reads each of the four forms, folding emails and domains to lower case (ASCII only)', () => {
    expect(parseMember('user:Alice@Example.COM')).toEqual({
      ok: true,
      member: { kind: 'user', email: 'alice@example.com', text: 'user:Alice@Example.COM' },
    })
    expect(parseMember('domain:Example.COM')).toEqual({
      ok: true,
      member: { kind: 'domain', domain: 'example.com', text: 'domain:Example.COM' },
    })
    expect(parseMember('idp:okta:Engineering')).toEqual({
      ok: true,
      member: { kind: 'idp', idp: 'okta', group: 'Engineering', text: 'idp:okta:Engineering' },
    })
    expect(parseMember('idp:*:a:b')).toEqual({
      ok: true,
      member: { kind: 'idp', idp: '*', group: 'a:b', text: 'idp:*:a:b' },
    })
    expect(parseMember('group:eng.ops-1')).toEqual({
      ok: true,
      member: { kind: 'group', name: 'group:eng.ops-1', text: 'group:eng.ops-1' },
    })
  })

  it.each([
    // No @, an empty local part, a domain without a dot, a space, a bare domain that looks valid.
    ['user:alice', '"alice" is not an email address'],
    ['user:@example.com', '"@example.com" is not an email address'],
    ['user:alice@example', '"alice@example" is not an email address'],
    ['user:al ice@example.com', '"al ice@example.com" is not an email address'],
    ['user:example.com', '"example.com" is not an email address'],
  ])('refuses %s as an email address', (text, message) => {
    expect(parseMember(text)).toEqual({ ok: false, message, hint: 'e.g. user:alice@example.com' })
  })

  it('refuses a domain with an @ or without a dot', () => {
    for (const rest of ['@example.com', 'localhost']) {
      expect(parseMember(`domain:${rest}`)).toEqual({
        ok: false,
        message: `"${rest}" is not a domain name`,
        hint: 'e.g. domain:example.com, without @',
      })
    }
  })

  it.each(['idp:okta', 'idp:okta:', 'idp::engineering', 'idp:Okta:engineering'])(
    'refuses %s as an IdP group member',
    (text) => {
      expect(parseMember(text)).toEqual({
        ok: false,
        message: `"${text}" is not an IdP group member`,
        hint: 'write idp:IDP_ID:GROUP, e.g. idp:okta:engineering or idp:*:engineering (IDP_ID in lower case)',
      })
    },
  )

  it('refuses a group name that is empty or starts with a sign', () => {
    for (const text of ['group:', 'group:-ops']) {
      expect(parseMember(text)).toEqual({
        ok: false,
        message: `"${text}" is not a group name`,
        hint: 'group names use letters, digits, _ . -',
      })
    }
  })

  it('suggests user: only for a bare address without any prefix', () => {
    expect(parseMember('alice@example.com')).toEqual({
      ok: false,
      message: '"alice@example.com" is not a member',
      hint: `did you mean "user:alice@example.com"? ${FORMS}`,
    })
    // A prefix, even an empty or unknown one, is not a forgotten `user:`.
    for (const text of ['mailto:alice@example.com', ':alice@example.com', 'alice']) {
      expect(parseMember(text)).toEqual({ ok: false, message: `"${text}" is not a member`, hint: FORMS })
    }
    // Without a colon there is no kind, whatever the text starts with.
    expect(parseMember('users')).toEqual({ ok: false, message: '"users" is not a member', hint: FORMS })
  })
})

describe('memberKey and emailDomain', () => {
  it('keys each kind by its normalised value, so spellings of one member are one', () => {
    expect(memberKey(member('user:Alice@Example.com'))).toBe('user:alice@example.com')
    expect(memberKey(member('domain:EXAMPLE.com'))).toBe('domain:example.com')
    expect(memberKey(member('idp:okta:Eng'))).toBe('idp:okta:Eng')
    expect(memberKey(member('group:eng'))).toBe('group:eng')
  })

  it('takes the part after the last @, lower-cased, or nothing without an @', () => {
    expect(emailDomain('a@b@Example.COM')).toBe('example.com')
    expect(emailDomain('@example.com')).toBe('example.com')
    expect(emailDomain('alice')).toBeNull()
  })
})

function groupSpec(name: string, members: string[]): GroupSpec {
  const at = { offset: 0, path: `groups["${name}"]` }
  return { name, at, members: members.map((text) => ({ value: member(text), at })) }
}

describe('flattenGroups and expandMembers', () => {
  it('reaches people through nested groups, each member once, in first-seen order', () => {
    const flat = flattenGroups([
      groupSpec('group:all', ['group:eng', 'user:bob@example.com', 'group:ops']),
      groupSpec('group:eng', ['user:alice@example.com', 'idp:*:engineering']),
      groupSpec('group:ops', ['user:Alice@example.com', 'domain:ops.example.com', 'user:bob@example.com']),
    ])
    expect(flat.get('group:all')?.map((m) => m.text)).toEqual([
      'user:alice@example.com',
      'idp:*:engineering',
      'user:bob@example.com',
      'domain:ops.example.com',
    ])
    expect(flat.get('group:ops')?.map((m) => m.text)).toEqual([
      'user:Alice@example.com',
      'domain:ops.example.com',
      'user:bob@example.com',
    ])
  })

  it('a cycle contributes nothing more than what its members name, and ends', () => {
    const flat = flattenGroups([
      groupSpec('group:a', ['group:b', 'user:a@example.com']),
      groupSpec('group:b', ['group:a', 'user:b@example.com']),
    ])
    expect(flat.get('group:a')?.map((m) => m.text)).toEqual(['user:b@example.com', 'user:a@example.com'])
    // Resolved inside a's resolution, b saw a as in progress: b reaches only its own member.
    expect(flat.get('group:b')?.map((m) => m.text)).toEqual(['user:b@example.com'])
  })

  it('a group reached through two paths counts once, and an unknown group reaches no one', () => {
    const flat = flattenGroups([
      groupSpec('group:top', ['group:leaf', 'group:mid', 'group:nobody']),
      groupSpec('group:mid', ['group:leaf']),
      groupSpec('group:leaf', ['user:leaf@example.com']),
    ])
    expect(flat.get('group:top')?.map((m) => m.text)).toEqual(['user:leaf@example.com'])
    expect(flat.get('group:mid')?.map((m) => m.text)).toEqual(['user:leaf@example.com'])
    expect(flat.has('group:nobody')).toBe(false)
  })

  it('expands a member list, groups replaced by whom they reach, without repeats', () => {
    const flat = flattenGroups([groupSpec('group:eng', ['user:alice@example.com', 'idp:*:eng'])])
    const expanded = expandMembers(
      [member('user:ALICE@example.com'), member('group:eng'), member('group:unknown'), member('idp:*:eng')],
      flat,
    )
    expect(expanded.map((m) => m.text)).toEqual(['user:ALICE@example.com', 'idp:*:eng'])
  })
})

describe('the member index', () => {
  const rules: Array<[number, string[]]> = [
    [0, ['user:alice@example.com']],
    [1, ['domain:example.com', 'user:alice@example.com']],
    [2, ['idp:okta:eng']],
    [3, ['idp:*:eng', 'idp:*:ops']],
    [4, ['user:bob@example.com', 'domain:other.example']],
    [5, ['idp:okta:ops', 'domain:example.com']],
  ]
  const index = createMemberIndex()
  for (const [id, members] of rules) indexMembers(index, id, members.map(primitive))

  /** The rules naming a subject, one member at a time: what the index must answer. */
  const oneByOne = (s: ReturnType<typeof subject>) =>
    rules.filter(([, members]) => members.some((m) => memberMatches(primitive(m), s))).map(([id]) => id)

  it.each([
    ['alice by email, domain and two groups', subject('Alice@Example.com', {}, { groups: ['eng', 'ops'] })],
    ['bob by email alone', subject('bob@example.com')],
    ['a group member of another IdP', subject(null, {}, { groups: ['eng'], idpId: 'Entra' })],
    ['Okta spelled in capitals', subject(null, {}, { groups: ['ops'], idpId: 'OKTA' })],
    ['someone no rule names', subject('carol@elsewhere.example', {}, { groups: ['sales'] })],
    ['no email at all', subject(null)],
  ])('finds the same rules as matching each member: %s', (_, s) => {
    expect(lookupMembers(index, s)).toEqual(oneByOne(s))
  })

  it('answers ascending ids without repeats when several lists name one rule', () => {
    const s = subject('alice@example.com', {}, { groups: ['eng', 'ops'], idpId: 'okta' })
    expect(lookupMembers(index, s)).toEqual([0, 1, 2, 3, 5])
    expect(lookupMembers(index, subject('bob@example.com'))).toEqual([1, 4, 5])
  })

  it('lists a rule once under a member it names twice', () => {
    const twice = createMemberIndex()
    indexMembers(twice, 7, [primitive('user:a@example.com'), primitive('user:A@example.com')])
    indexMembers(twice, 9, [primitive('user:a@example.com')])
    expect(twice.byUser.get('a@example.com')).toEqual([7, 9])
  })

  it('matches one member to a subject as the index does', () => {
    const alice = subject('Alice@Example.com', {}, { groups: ['eng'], idpId: 'Okta' })
    expect(memberMatches(primitive('user:alice@example.com'), alice)).toBe(true)
    expect(memberMatches(primitive('domain:example.com'), alice)).toBe(true)
    expect(memberMatches(primitive('domain:other.example'), alice)).toBe(false)
    expect(memberMatches(primitive('domain:example.com'), subject(null))).toBe(false)
    expect(memberMatches(primitive('idp:okta:eng'), alice)).toBe(true)
    expect(memberMatches(primitive('idp:*:eng'), alice)).toBe(true)
    expect(memberMatches(primitive('idp:entra:eng'), alice)).toBe(false)
    expect(memberMatches(primitive('idp:okta:ops'), alice)).toBe(false)
  })
})
