/**
 * Ending a person's access before their leases run out: an administrator's suspension or "sign out
 * everywhere", the user's own "sign out everywhere", the IdP's back-channel logout, and SCIM
 * deprovisioning. Each ends sessions (so no cookie can mint again) and, where the cause calls for it,
 * revokes the live leases (so the gateways drop the peers at once); each is one audit event naming the
 * cause and the actor, plus the usual `lease.revoked` per lease.
 */
import { auditEvent } from '../audit-event.ts'
import { KeygateError, type Reason } from '../errors.ts'
import type { AuditEventType, Identity } from '../model.ts'
import type { BrokerDeps } from './broker-deps.ts'

export interface AccessEnded {
  sessionsEnded: number
  leasesRevoked: number
}

/** Revokes every live lease of an identity and wakes their gateways. */
export async function revokeIdentityLeases(
  deps: BrokerDeps,
  identityId: string,
  reason: string,
  actor: string | null,
): Promise<number> {
  const now = deps.clock.now()
  const leases = await deps.store.listLeases({ identityId, state: 'active' }, now)
  const touched = new Set<string>()
  let revoked = 0
  for (const lease of leases) {
    const done = await deps.store.revokeLease(
      lease.id,
      reason,
      auditEvent('lease.revoked', {
        identityId,
        leaseId: lease.id,
        actor,
        policyHash: deps.policy().hash,
        data: { reason, gateways: lease.grants.map((g) => g.gateway) },
      }),
      now,
    )
    if (done === null) continue
    revoked += 1
    for (const g of lease.grants) touched.add(g.gateway)
  }
  if (touched.size > 0) deps.notifier.publish([...touched])
  return revoked
}

export interface EndAccessInput {
  identityId: string
  /** The audit event type, e.g. `identity.suspended`, `identity.signed_out`. */
  event: Extract<
    AuditEventType,
    'identity.suspended' | 'identity.signed_out_everywhere' | 'identity.deprovisioned'
  >
  actor: string | null
  /** Why, in words, for the audit log and each lease's revocation reason. */
  reason: string
  revokeLeases: boolean
  /** Only these sessions (a back-channel logout naming a `sid`); all of the identity's when absent. */
  idpSid?: string
  data?: Record<string, unknown>
}

export async function endAccess(deps: BrokerDeps, input: EndAccessInput): Promise<AccessEnded> {
  const now = deps.clock.now()
  const ended = await deps.store.endSessions(
    input.idpSid === undefined
      ? { identityId: input.identityId }
      : { identityId: input.identityId, idpSid: input.idpSid },
    now,
  )
  const leasesRevoked = input.revokeLeases
    ? await revokeIdentityLeases(deps, input.identityId, input.reason, input.actor)
    : 0
  await deps.store.appendAudit(
    auditEvent(input.event, {
      identityId: input.identityId,
      actor: input.actor,
      policyHash: deps.policy().hash,
      data: { reason: input.reason, sessionsEnded: ended.length, leasesRevoked, ...input.data },
    }),
    now,
  )
  deps.logger.info(input.event, { identityId: input.identityId, sessions: ended.length, leasesRevoked })
  return { sessionsEnded: ended.length, leasesRevoked }
}

async function requireIdentity(deps: BrokerDeps, identityId: string): Promise<Identity> {
  const identity = await deps.store.getIdentity(identityId)
  if (identity === null) throw new KeygateError('NOT_FOUND', `No identity "${identityId}" exists`)
  return identity
}

/** An administrator suspends someone: no sign-in, no session, no lease until the suspension is lifted. */
export async function suspendIdentity(
  deps: BrokerDeps,
  identityId: string,
  actor: string,
): Promise<AccessEnded & { identity: Identity }> {
  await requireIdentity(deps, identityId)
  const identity = await deps.store.setIdentitySuspended(identityId, true, deps.clock.now())
  if (identity === null) throw new KeygateError('NOT_FOUND', `No identity "${identityId}" exists`)
  const ended = await endAccess(deps, {
    identityId,
    event: 'identity.suspended',
    actor,
    reason: 'identity suspended by an administrator',
    revokeLeases: true,
  })
  return { ...ended, identity }
}

export async function unsuspendIdentity(
  deps: BrokerDeps,
  identityId: string,
  actor: string,
): Promise<Identity> {
  const now = deps.clock.now()
  const identity = await deps.store.setIdentitySuspended(identityId, false, now)
  if (identity === null) throw new KeygateError('NOT_FOUND', `No identity "${identityId}" exists`)
  await deps.store.appendAudit(auditEvent('identity.unsuspended', { identityId, actor }), now)
  return identity
}

/** Every session of the identity ends; leases stay (they expire on their own, or are revoked apart). */
export async function signOutEverywhere(
  deps: BrokerDeps,
  identityId: string,
  actor: string | null,
  by: 'self' | 'admin',
): Promise<AccessEnded> {
  await requireIdentity(deps, identityId)
  return endAccess(deps, {
    identityId,
    event: 'identity.signed_out_everywhere',
    actor,
    reason: by === 'self' ? 'signed out everywhere by the user' : 'signed out everywhere by an administrator',
    revokeLeases: false,
    data: { by },
  })
}

/** Why a sign-in must be refused although the IdP said yes; null when nothing stands in the way. */
export function accessBlock(identity: Identity, scimUser: { active: boolean } | null): Reason | null {
  if (identity.suspendedAt !== null) {
    return { code: 'IDENTITY_SUSPENDED', message: 'an administrator suspended this identity' }
  }
  if (scimUser !== null && !scimUser.active) {
    return { code: 'IDENTITY_DEPROVISIONED', message: 'the IdP deactivated this user (SCIM active: false)' }
  }
  return null
}

/**
 * OIDC Back-Channel Logout 1.0: the IdP says a user (`sub`) or one of its sessions (`sid`) signed out.
 * The token is verified against the IdP's keys and used once; the matching sessions end, and, as the
 * policy's `sessions.idpLogoutRevokesLeases` says (default yes), the identity's live leases are revoked.
 */
export async function backchannelLogout(
  deps: BrokerDeps,
  idpId: string,
  token: unknown,
): Promise<{ identities: number } & AccessEnded> {
  const idp = deps.idps.get(idpId)
  if (idp === undefined)
    throw new KeygateError('INVALID_REQUEST', `No identity provider "${idpId}" is configured`)
  if (typeof token !== 'string' || token === '') {
    throw new KeygateError('INVALID_REQUEST', 'Send the logout token as the form parameter logout_token')
  }
  const logout = await idp.verifyLogoutToken(token)
  const now = deps.clock.now()
  if (
    !(await deps.store.rememberLogoutToken(`${logout.issuer} ${logout.jti}`, logout.expiresAt * 1000, now))
  ) {
    throw new KeygateError('INVALID_REQUEST', 'This logout token was already used (jti seen before)')
  }
  const ended = await deps.store.endSessions(
    { issuer: logout.issuer, subject: logout.subject, idpSid: logout.sid },
    now,
  )
  const identityIds = new Set(ended.map((s) => s.identityId))
  if (logout.subject !== null) {
    const identity = await deps.store.findIdentity(logout.issuer, logout.subject)
    if (identity !== null) identityIds.add(identity.id)
  }
  const revokeLeases = deps.policy().idpLogoutRevokesLeases
  let leasesRevoked = 0
  for (const identityId of identityIds) {
    const revoked = revokeLeases
      ? await revokeIdentityLeases(deps, identityId, 'signed out at the identity provider', `idp:${idpId}`)
      : 0
    leasesRevoked += revoked
    await deps.store.appendAudit(
      auditEvent('logout.backchannel', {
        identityId,
        actor: `idp:${idpId}`,
        policyHash: deps.policy().hash,
        data: {
          sid: logout.sid,
          sessionsEnded: ended.filter((s) => s.identityId === identityId).length,
          leasesRevoked: revoked,
          revokeLeases,
        },
      }),
      now,
    )
  }
  deps.logger.info('logout.backchannel', { idp: idpId, identities: identityIds.size, sessions: ended.length })
  return { identities: identityIds.size, sessionsEnded: ended.length, leasesRevoked }
}
