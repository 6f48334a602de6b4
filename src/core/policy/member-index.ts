/**
 * Who-matches-what lookups: members flattened at compile time into hash maps keyed by email, domain and
 * IdP group, so finding the rules that name a subject costs a few lookups however large the policy is.
 */
import type { Subject } from '../model.ts'
import { emailDomain, foldEmail } from './members.ts'
import type { PrimitiveMember } from './resolve-groups.ts'

export interface MemberIndex {
  byUser: Map<string, number[]>
  byDomain: Map<string, number[]>
  /** Keyed `${idp}\n${group}`; idp `*` for any IdP. */
  byIdpGroup: Map<string, number[]>
}

export function createMemberIndex(): MemberIndex {
  return { byUser: new Map(), byDomain: new Map(), byIdpGroup: new Map() }
}

function push(map: Map<string, number[]>, key: string, id: number): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [id])
  else if (list[list.length - 1] !== id) list.push(id)
}

/** Adds rule `id` under each member; ids must be added in ascending order so lists stay sorted. */
export function indexMembers(index: MemberIndex, id: number, members: readonly PrimitiveMember[]): void {
  for (const m of members) {
    if (m.kind === 'user') push(index.byUser, m.email, id)
    else if (m.kind === 'domain') push(index.byDomain, m.domain, id)
    else push(index.byIdpGroup, `${m.idp}\n${m.group}`, id)
  }
}

const NONE: readonly number[] = []

/** The ids of the rules naming the subject, ascending and without repeats. */
export function lookupMembers(index: MemberIndex, subject: Subject): readonly number[] {
  const lists: number[][] = []
  if (subject.email !== null) {
    const email = foldEmail(subject.email)
    const byUser = index.byUser.get(email)
    if (byUser !== undefined) lists.push(byUser)
    const domain = emailDomain(email)
    const byDomain = domain === null ? undefined : index.byDomain.get(domain)
    if (byDomain !== undefined) lists.push(byDomain)
  }
  if (index.byIdpGroup.size > 0) {
    const idp = subject.idpId.toLowerCase()
    for (const group of subject.groups) {
      const exact = index.byIdpGroup.get(`${idp}\n${group}`)
      if (exact !== undefined) lists.push(exact)
      const any = index.byIdpGroup.get(`*\n${group}`)
      if (any !== undefined) lists.push(any)
    }
  }
  if (lists.length === 0) return NONE
  if (lists.length === 1) return lists[0]!
  return mergeSorted(lists)
}

/** Union of ascending id lists. The lists are short (the rules naming one person), so insertion wins. */
function mergeSorted(lists: readonly number[][]): number[] {
  const out: number[] = [...lists[0]!]
  for (let l = 1; l < lists.length; l++) {
    for (const id of lists[l]!) {
      let i = out.length
      while (i > 0 && out[i - 1]! > id) i--
      if (i > 0 && out[i - 1] === id) continue
      out.splice(i, 0, id)
    }
  }
  return out
}

/** Whether one member names the subject (used to explain which member matched). */
export function memberMatches(member: PrimitiveMember, subject: Subject): boolean {
  const email = subject.email === null ? null : foldEmail(subject.email)
  switch (member.kind) {
    case 'user':
      return email === member.email
    case 'domain':
      return email !== null && emailDomain(email) === member.domain
    case 'idp':
      return (
        (member.idp === '*' || member.idp === subject.idpId.toLowerCase()) &&
        subject.groups.includes(member.group)
      )
  }
}
