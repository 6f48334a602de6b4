/**
 * A user's (or an admin's) handling of existing leases: listing, revoking, renewing.
 *
 * Ownership is checked here, not in the HTTP layer, so every entrypoint gets the same answer:
 * a lease that is not yours is NOT_FOUND (not FORBIDDEN), so ids of others' leases leak nothing.
 */
import { KeygateError } from '../errors.ts'
import { type Lease, leaseState } from '../model.ts'
import { evaluatePolicy } from '../policy/index.ts'
import type { BrokerDeps, SessionContext } from './broker-deps.ts'
import { denialError, subjectOf } from './issue-lease.ts'
import { auditAuth } from './sign-in.ts'

export interface LeaseView {
  id: string
  name: string | null
  publicKey: string
  addresses: string[]
  gateways: Lease['grants']
  state: ReturnType<typeof leaseState>
  createdAt: string
  expiresAt: string
  revokedAt: string | null
  revokedReason: string | null
  verdict: string
  stepUp: string | null
}

export function viewLease(lease: Lease, now: number): LeaseView {
  return {
    id: lease.id,
    name: lease.name,
    publicKey: lease.publicKey,
    addresses: [lease.addressV4, ...(lease.addressV6 === null ? [] : [lease.addressV6])],
    gateways: lease.grants,
    state: leaseState(lease, now),
    createdAt: new Date(lease.createdAt).toISOString(),
    expiresAt: new Date(lease.expiresAt).toISOString(),
    revokedAt: lease.revokedAt === null ? null : new Date(lease.revokedAt).toISOString(),
    revokedReason: lease.revokedReason,
    verdict: lease.auth.verdict,
    stepUp: lease.auth.stepUp,
  }
}

export async function listOwnLeases(deps: BrokerDeps, session: SessionContext): Promise<Lease[]> {
  return deps.store.listLeases({ identityId: session.identityId }, deps.clock.now())
}

export async function revokeOwnLease(
  deps: BrokerDeps,
  session: SessionContext,
  leaseId: string,
): Promise<Lease> {
  return revokeLeaseAs(
    deps,
    await findOwnLease(deps, session, leaseId),
    session.email,
    'revoked by its owner',
  )
}

async function findOwnLease(deps: BrokerDeps, session: SessionContext, leaseId: string): Promise<Lease> {
  const lease = await deps.store.getLease(leaseId)
  if (lease === null || lease.identityId !== session.identityId) {
    throw new KeygateError('NOT_FOUND', `No lease "${leaseId}" of yours exists`)
  }
  return lease
}

export async function revokeLeaseAsAdmin(
  deps: BrokerDeps,
  adminActor: string,
  leaseId: string,
): Promise<Lease> {
  const lease = await deps.store.getLease(leaseId)
  if (lease === null) throw new KeygateError('NOT_FOUND', `No lease "${leaseId}" exists`)
  return revokeLeaseAs(deps, lease, adminActor, 'revoked by an administrator')
}

async function revokeLeaseAs(
  deps: BrokerDeps,
  lease: Lease,
  actor: string | null,
  reason: string,
): Promise<Lease> {
  const now = deps.clock.now()
  if (leaseState(lease, now) !== 'active') {
    throw new KeygateError('LEASE_NOT_ACTIVE', `Lease "${lease.id}" has already ended`)
  }
  const revoked = await deps.store.revokeLease(
    lease.id,
    reason,
    {
      type: 'lease.revoked',
      identityId: lease.identityId,
      leaseId: lease.id,
      gatewayId: null,
      actor,
      policyHash: deps.policy().hash,
      data: { reason, gateways: lease.grants.map((g) => g.gateway) },
    },
    now,
  )
  if (revoked === null) throw new KeygateError('LEASE_NOT_ACTIVE', `Lease "${lease.id}" has already ended`)
  deps.notifier.publish(lease.grants.map((g) => g.gateway))
  deps.logger.info('lease.revoked', { leaseId: lease.id, reason })
  return revoked
}

/**
 * Renewal keeps the key and the address and moves only the expiry (and routes, if the policy changed),
 * so the WireGuard session carries on. The session's sign-in must satisfy the policy now, so a renewal
 * after the auth age ran out is a step-up demand, never a silent extension.
 */
export async function renewOwnLease(
  deps: BrokerDeps,
  session: SessionContext,
  leaseId: string,
): Promise<Lease> {
  const lease = await findOwnLease(deps, session, leaseId)
  const now = deps.clock.now()
  if (leaseState(lease, now) !== 'active') {
    throw new KeygateError('LEASE_NOT_ACTIVE', `Lease "${lease.id}" has ended; request a new one`)
  }
  const policy = deps.policy()
  const decision = evaluatePolicy(
    policy,
    { subject: subjectOf(session), gateways: lease.grants.map((g) => g.gateway) },
    now,
  )
  if (!decision.allow) throw denialError(decision)
  const renewed = await deps.store.updateLease(
    lease.id,
    {
      expiresAt: Math.max(decision.expiresAt, lease.expiresAt),
      grants: decision.grants,
      auth: session.auth,
      policyHash: policy.hash,
    },
    {
      type: 'lease.renewed',
      identityId: lease.identityId,
      leaseId: lease.id,
      gatewayId: null,
      actor: session.email,
      policyHash: policy.hash,
      data: { previousExpiresAt: lease.expiresAt, expiresAt: decision.expiresAt, ...auditAuth(session.auth) },
    },
    now,
  )
  if (renewed === null)
    throw new KeygateError('LEASE_NOT_ACTIVE', `Lease "${lease.id}" has ended; request a new one`)
  deps.notifier.publish([...new Set([...lease.grants, ...renewed.grants].map((g) => g.gateway))])
  return renewed
}
