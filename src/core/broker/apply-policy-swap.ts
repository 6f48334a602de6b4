/**
 * After a policy swap, every live lease is judged again with the identity and sign-in facts stored on
 * it: leases the new policy no longer allows are revoked, leases it allows for less time are shortened,
 * leases whose routes changed are updated. Each outcome is an audit event naming both policy hashes, and
 * the touched gateways are woken so the change reaches them at once.
 */
import type { Identity, Subject } from '../model.ts'
import { type CompiledPolicy, reevaluateLease } from '../policy/index.ts'
import type { BrokerDeps } from './broker-deps.ts'

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
  const now = deps.clock.now()
  const leases = await deps.store.listLeases({ state: 'active' }, now)
  const identities = new Map<string, Identity | null>()
  const touched = new Set<string>()
  const outcome: PolicySwapOutcome = { checked: leases.length, revoked: 0, updated: 0 }

  for (const lease of leases) {
    if (!identities.has(lease.identityId))
      identities.set(lease.identityId, await deps.store.getIdentity(lease.identityId))
    const identity = identities.get(lease.identityId) ?? null
    const subject: Subject | null =
      identity === null
        ? null
        : {
            idpId: identity.idpId,
            issuer: identity.issuer,
            subject: identity.subject,
            email: identity.email,
            groups: identity.groups,
            auth: lease.auth,
          }
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
      gatewayId: null,
      actor: 'policy',
      policyHash: next.hash,
      data: { previousPolicyHash: previous.hash, policyHash: next.hash, reasons: verdict.reasons },
    }
    if (verdict.action === 'revoke') {
      const done = await deps.store.revokeLease(
        lease.id,
        'no longer allowed by the policy',
        { type: 'lease.revoked', ...audit },
        now,
      )
      if (done !== null) outcome.revoked += 1
    } else {
      const shortened = verdict.expiresAt < lease.expiresAt
      const done = await deps.store.updateLease(
        lease.id,
        { expiresAt: verdict.expiresAt, grants: verdict.grants, policyHash: next.hash },
        {
          type: shortened ? 'lease.shortened' : 'lease.updated',
          ...audit,
          data: {
            ...audit.data,
            previousExpiresAt: lease.expiresAt,
            expiresAt: verdict.expiresAt,
            grants: verdict.grants,
          },
        },
        now,
      )
      if (done !== null) outcome.updated += 1
    }
    for (const g of lease.grants) touched.add(g.gateway)
  }
  if (touched.size > 0) deps.notifier.publish([...touched])
  deps.logger.info('policy.leases_reevaluated', { previous: previous.hash, next: next.hash, ...outcome })
  return outcome
}
