/**
 * Group membership, flattened: every `group:NAME` becomes the set of people-naming members (user, domain,
 * idp) it reaches through nested groups. Cycles and unknown groups are reported by validation; here they
 * simply contribute nothing, so resolution always terminates.
 */
import { type Member, memberKey } from './members.ts'
import type { GroupSpec } from './policy-document.ts'

export type PrimitiveMember = Exclude<Member, { kind: 'group' }>

export function flattenGroups(groups: readonly GroupSpec[]): Map<string, PrimitiveMember[]> {
  const byName = new Map(groups.map((g) => [g.name, g]))
  const done = new Map<string, PrimitiveMember[]>()
  const visiting = new Set<string>()

  const resolve = (name: string): PrimitiveMember[] => {
    const cached = done.get(name)
    if (cached !== undefined) return cached
    const group = byName.get(name)
    if (group === undefined || visiting.has(name)) return []
    visiting.add(name)
    const seen = new Set<string>()
    const out: PrimitiveMember[] = []
    for (const { value: member } of group.members) {
      for (const m of member.kind === 'group' ? resolve(member.name) : [member]) {
        if (!seen.has(memberKey(m))) {
          seen.add(memberKey(m))
          out.push(m)
        }
      }
    }
    visiting.delete(name)
    done.set(name, out)
    return out
  }

  for (const group of groups) resolve(group.name)
  return done
}

/** A member list with its groups replaced by what they reach. */
export function expandMembers(
  members: readonly Member[],
  flat: ReadonlyMap<string, PrimitiveMember[]>,
): PrimitiveMember[] {
  const seen = new Set<string>()
  const out: PrimitiveMember[] = []
  for (const member of members) {
    for (const m of member.kind === 'group' ? (flat.get(member.name) ?? []) : [member]) {
      if (!seen.has(memberKey(m))) {
        seen.add(memberKey(m))
        out.push(m)
      }
    }
  }
  return out
}
