/**
 * Re-judging live leases: after a policy swap (every live lease, under the new policy) and after an
 * identity's groups changed at the IdP (that identity's leases, under the live policy). Each lease is
 * judged with the identity as it is now and the sign-in facts stored on it: leases no longer allowed are
 * revoked, leases allowed for less time are shortened, leases whose routes changed are updated. Each
 * outcome is an audit event naming its cause, and the touched gateways are woken so the change reaches
 * them at once.
 */

import { auditEvent } from '../audit-event.ts'
import type { Identity, Lease } from '../model.ts'
import { type CompiledPolicy, reevaluateLease } from '../policy/index.ts'
import type { BrokerDeps } from './broker-deps.ts'
import { subjectFromIdentity } from './subject.ts'

export interface PolicySwapOutcome {
  checked: number
  revoked: number
  updated: number
}

export async function applyPolicySwap(
  deps: BrokerDeps,
  previous: CompiledPolicy,
  next: CompiledPolicy,
): Promise<PolicySwapOutcome> {
  const leases = await deps.store.listLeases({ state: 'active' }, deps.clock.now())
  const outcome = await reevaluateLeases(deps, leases, next, {
    actor: 'policy',
    data: { previousPolicyHash: previous.hash, policyHash: next.hash },
  })
  deps.logger.info('policy.leases_reevaluated', { previous: previous.hash, next: next.hash, ...outcome })
  return outcome
}

/** Re-judges one identity's live leases under the live policy, e.g. after SCIM changed its groups. */
export async function reevaluateIdentityLeases(
  deps: BrokerDeps,
  identityId: string,
  cause: { actor: string; data: Record<string, unknown> },
): Promise<PolicySwapOutcome> {
  const leases = await deps.store.listLeases({ identityId, state: 'active' }, deps.clock.now())
  return reevaluateLeases(deps, leases, deps.policy(), cause)
}

async function reevaluateLeases(
  deps: BrokerDeps,
  leases: readonly Lease[],
  next: CompiledPolicy,
  cause: { actor: string; data: Record<string, unknown> },
): Promise<PolicySwapOutcome> {
  const now = deps.clock.now()
  const identities = new Map<string, Identity | null>()
  const touched = new Set<string>()
  const outcome: PolicySwapOutcome = { checked: leases.length, revoked: 0, updated: 0 }

  for (const lease of leases) {
    if (!identities.has(lease.identityId))
      identities.set(lease.identityId, await deps.store.getIdentity(lease.identityId))
    const identity = identities.get(lease.identityId) ?? null
    // Built as sign-in builds it (an unverified email never counts), with the sign-in kept on the lease.
    const subject = identity === null ? null : subjectFromIdentity(identity, lease.auth)
    const verdict =
      subject === null
        ? {
            action: 'revoke' as const,
            reasons: [{ code: 'IDENTITY_UNKNOWN', message: 'the lease’s identity no longer exists' }],
          }
        : reevaluateLease(next, lease, subject, now)
    if (verdict.action === 'keep') continue

    const audit = {
      identityId: lease.identityId,
      leaseId: lease.id,
      actor: cause.actor,
      policyHash: next.hash,
      data: { ...cause.data, reasons: verdict.reasons },
    }
    if (verdict.action === 'revoke') {
      const done = await deps.store.revokeLease(
        lease.id,
        'no longer allowed by the policy',
        auditEvent('lease.revoked', audit),
        now,
      )
      if (done !== null) outcome.revoked += 1
    } else {
      const shortened = verdict.expiresAt < lease.expiresAt
      const done = await deps.store.updateLease(
        lease.id,
        {
          expiresAt: verdict.expiresAt,
          grants: verdict.grants,
          matchedGrants: verdict.matchedGrants,
          policyHash: next.hash,
        },
        auditEvent(shortened ? 'lease.shortened' : 'lease.updated', {
          ...audit,
          data: {
            ...audit.data,
            previousExpiresAt: lease.expiresAt,
            expiresAt: verdict.expiresAt,
            grants: verdict.grants,
            matchedGrants: verdict.matchedGrants,
          },
        }),
        now,
      )
      if (done !== null) outcome.updated += 1
    }
    for (const g of lease.grants) touched.add(g.gateway)
    if (verdict.action === 'update') for (const g of verdict.grants) touched.add(g.gateway)
  }
  if (touched.size > 0) deps.notifier.publish([...touched])
  return outcome
}
