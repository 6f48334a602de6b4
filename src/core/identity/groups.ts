/**
 * Where a profile finds the user's groups in the ID token, and whether the list is complete.
 *
 * An incomplete list must fail closed for `idp:` members: Entra replaces `groups` with an overage
 * reference (`_claim_names.groups`, pointing at Microsoft Graph) above 200 groups, and signals it with
 * `hasgroups` in some flows. Keygate does not call Graph, so such a user gets no groups rather than a
 * partial list that a `deny` rule could miss.
 */
import { stringList } from './assess-authentication.ts'
import { DEFAULT_GROUPS_CLAIM, type IdpProfileName, type ProfileOptions } from './profiles.ts'

export interface GroupsResult {
  groups: string[]
  /** False when the IdP said there are groups it did not include; `groups` is then empty. */
  complete: boolean
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
    return { groups: [], complete: false }
  return { groups: [...new Set(stringList(claims[claim]))], complete: true }
}
