/**
 * Where a profile finds the user's groups in the ID token, and whether the list is complete.
 *
 * An incomplete list must fail closed for `idp:` members: Entra replaces `groups` with an overage
 * reference (`_claim_names.groups`, pointing at Microsoft Graph) above 200 groups, and signals it with
 * `hasgroups` in some flows. Keygate does not call Graph, so such a user gets no groups rather than a
 * partial list that a `deny` rule could miss.
 */
import { DEFAULT_GROUPS_CLAIM, type IdpProfileName, type ProfileOptions } from './profiles.ts'

export interface GroupsResult {
  groups: string[]
  /** False when the list cannot be trusted to be whole; `groups` is then empty. */
  complete: boolean
  /** Why it is incomplete: the IdP said it left groups out, or the claim has a shape Keygate cannot read. */
  incomplete?: 'overage' | 'malformed'
}

export function groupsFromClaims(
  _profile: IdpProfileName,
  claims: Readonly<Record<string, unknown>>,
  options: ProfileOptions = {},
): GroupsResult {
  const claim = options.groupsClaim ?? DEFAULT_GROUPS_CLAIM
  // Distributed/aggregated claims (OIDC Core 5.6.2) are how any IdP, not just Entra, says "elsewhere".
  const names = claims._claim_names
  const referenced = typeof names === 'object' && names !== null && Object.hasOwn(names, claim)
  if (referenced || claims.hasgroups === true || claims.hasgroups === 'true')
    return { groups: [], complete: false, incomplete: 'overage' }
  if (!Object.hasOwn(claims, claim)) return { groups: [], complete: true }
  const value = claims[claim]
  // A claim that is there but not a string or a list of strings (`[{"value":"blocked"}]`, `{"blocked":
  // true}`) names groups Keygate cannot read: reading it as "no groups" would let a deny rule miss.
  if (typeof value === 'string') return { groups: value === '' ? [] : [value], complete: true }
  if (Array.isArray(value) && value.every((item) => typeof item === 'string'))
    return { groups: [...new Set(value as string[])], complete: true }
  return { groups: [], complete: false, incomplete: 'malformed' }
}
