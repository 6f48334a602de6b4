/**
 * What SCIM provisioning does to access. The SCIM protocol (resources, filters, PATCH) is the adapter's;
 * this module gets the before and after of each user or group write and acts on the difference:
 *
 * - a user set `active: false` or deleted: sessions end and live leases are revoked at once (the gateways
 *   are woken, so they drop the peers within their long poll's reaction time), and sign-in is refused
 *   (sign-in.ts checks the SCIM user);
 * - a group gained or lost members (or was renamed, or deleted): each affected identity's `idp:ID:GROUP`
 *   values change, and its live leases are re-judged exactly as on a policy swap, audited with the cause.
 *
 * One bearer token per IdP, made by an administrator (`keygate scim token IDP`); only its hash is kept.
 */
import { auditEvent } from '../audit-event.ts'
import { KeygateError } from '../errors.ts'
import { type ScimGroup, type ScimUser, scimGroupValues } from '../model.ts'
import { reevaluateIdentityLeases } from './apply-policy-swap.ts'
import type { BrokerDeps } from './broker-deps.ts'
import { hashSecret } from './gateway-feed.ts'
import { endAccess } from './identity-lifecycle.ts'
import { randomId } from './sign-in.ts'

export async function createScimToken(deps: BrokerDeps, idpId: string, actor: string): Promise<string> {
  if (!deps.idps.has(idpId)) {
    throw new KeygateError('UNKNOWN_IDP', `No identity provider "${idpId}" is configured`, {
      details: { known: [...deps.idps.keys()] },
    })
  }
  const token = `kgs_${randomId(deps, 32)}`
  const now = deps.clock.now()
  await deps.store.setScimToken(idpId, hashSecret(token), now)
  await deps.store.appendAudit(auditEvent('scim.token_created', { actor, data: { idp: idpId } }), now)
  return token
}

/** The IdP a SCIM bearer token belongs to; UNAUTHENTICATED for anything else. */
export async function authenticateScim(deps: BrokerDeps, token: string | null): Promise<string> {
  const idpId = token === null ? null : await deps.store.findScimTokenIdp(hashSecret(token))
  if (idpId === null || !deps.idps.has(idpId)) {
    throw new KeygateError('UNAUTHENTICATED', 'Unknown SCIM bearer token')
  }
  return idpId
}

/** After a user write or delete (`after` null): deprovisioning ends the linked identity's access. */
export async function applyScimUserChange(
  deps: BrokerDeps,
  before: ScimUser | null,
  after: ScimUser | null,
): Promise<void> {
  const user = after ?? before
  if (user === null || user.identityId === null) return
  const wasActive = before === null || before.active
  const isActive = after?.active === true
  if (!wasActive || isActive) return
  await endAccess(deps, {
    identityId: user.identityId,
    event: 'identity.deprovisioned',
    actor: `scim:${user.idpId}`,
    reason: after === null ? 'deleted at the IdP (SCIM)' : 'deactivated at the IdP (SCIM active: false)',
    revokeLeases: true,
    data: { idp: user.idpId, scimUser: user.id, userName: user.userName },
  })
}

/**
 * After a group write or delete (`after` null): every member that gained or lost the group's values gets
 * its identity's groups changed and its leases re-judged.
 */
export async function applyScimGroupChange(
  deps: BrokerDeps,
  before: ScimGroup | null,
  after: ScimGroup | null,
): Promise<{ identities: number; revoked: number; updated: number }> {
  const group = after ?? before
  const outcome = { identities: 0, revoked: 0, updated: 0 }
  if (group === null) return outcome
  const oldValues = before === null ? [] : scimGroupValues(before)
  const newValues = after === null ? [] : scimGroupValues(after)
  const renamed = oldValues.join('\n') !== newValues.join('\n')
  const oldMembers = new Set(before?.members ?? [])
  const newMembers = new Set(after?.members ?? [])
  const affected = new Set<string>()
  for (const id of oldMembers) if (!newMembers.has(id) || renamed) affected.add(id)
  for (const id of newMembers) if (!oldMembers.has(id) || renamed) affected.add(id)

  for (const userId of affected) {
    const user = await deps.store.getScimUser(group.idpId, userId)
    if (user === null || user.identityId === null) continue
    const identity = await deps.store.getIdentity(user.identityId)
    if (identity === null) continue
    const removed = oldMembers.has(userId) ? oldValues : []
    const added = newMembers.has(userId) ? newValues : []
    // Values another of the user's groups still gives stay (two SCIM groups may share a display name).
    const still = new Set(
      (await deps.store.listScimGroups(group.idpId, { memberId: userId }))
        .filter((g) => g.id !== group.id)
        .flatMap(scimGroupValues),
    )
    const groups = new Set(identity.groups)
    for (const value of removed) if (!still.has(value)) groups.delete(value)
    for (const value of added) groups.add(value)
    const next = [...groups].sort()
    if (next.join('\n') === [...identity.groups].sort().join('\n')) continue
    await deps.store.setIdentityGroups(identity.id, next)
    const cause = {
      cause: 'scim.group_membership',
      idp: group.idpId,
      group: group.displayName,
      added: added.filter((v) => !identity.groups.includes(v)),
      removed: removed.filter((v) => !still.has(v) && identity.groups.includes(v)),
    }
    const now = deps.clock.now()
    await deps.store.appendAudit(
      auditEvent('identity.groups_changed', {
        identityId: identity.id,
        actor: `scim:${group.idpId}`,
        policyHash: deps.policy().hash,
        data: { ...cause, groups: next },
      }),
      now,
    )
    const judged = await reevaluateIdentityLeases(deps, identity.id, {
      actor: `scim:${group.idpId}`,
      data: cause,
    })
    // A session judged with a group the person no longer has must not mint with it: it ends, and the next
    // sign-in carries the IdP's current groups.
    if (cause.removed.length > 0) await deps.store.endSessions({ identityId: identity.id }, now)
    outcome.identities += 1
    outcome.revoked += judged.revoked
    outcome.updated += judged.updated
  }
  return outcome
}
