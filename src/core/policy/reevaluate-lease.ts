/**
 * After a policy swap: what becomes of one live lease under the new policy, judged with the identity and
 * sign-in facts stored on it. A lease is never lengthened and never given new gateways; it keeps its
 * routes, loses or gains routes on its own gateways, is shortened, or is revoked.
 *
 * Time limits count from when the lease was issued (a grant's ttl) and from auth_time (maxAuthAge), so a
 * ttl cut from 8h to 2h ends a 3-hour-old lease now rather than two hours from now.
 */
import type { Reason } from '../errors.ts'
import { type GatewayGrant, type Lease, leaseState, type Subject } from '../model.ts'
import type { CompiledPolicy } from './compiled-policy.ts'
import { assessPolicy, decide } from './evaluate-policy.ts'

export type LeaseReevaluation =
  | { action: 'keep' }
  | { action: 'revoke'; reasons: Reason[] }
  | {
      action: 'update'
      expiresAt: number
      grants: GatewayGrant[]
      /** The grants that allow the lease under the new policy, e.g. `grants[0]`. */
      matchedGrants: string[]
      reasons: Reason[]
    }

export function reevaluateLease(
  policy: CompiledPolicy,
  lease: Lease,
  subject: Subject,
  now: number,
): LeaseReevaluation {
  if (leaseState(lease, now) !== 'active' || lease.grants.length === 0) return { action: 'keep' }
  const request = { subject, gateways: lease.grants.map((g) => g.gateway) }
  const assessment = assessPolicy(policy, request, now)
  const decision = decide(policy, request, assessment, now)
  if (!decision.allow) return { action: 'revoke', reasons: decision.reasons }

  const allowedUntil = Math.min(lease.createdAt + assessment.ttlLimitMs, assessment.authDeadline)
  const expiresAt = Math.min(lease.expiresAt, allowedUntil)
  if (expiresAt <= now) {
    return {
      action: 'revoke',
      reasons: [
        {
          code: 'LEASE_TTL_EXCEEDED',
          message: `policy ${short(policy.hash)} allows this lease only until ${iso(allowedUntil)}, which has passed`,
          source: decision.matchedGrants.join(', '),
        },
      ],
    }
  }
  const reasons: Reason[] = []
  if (expiresAt < lease.expiresAt) {
    reasons.push({
      code: 'LEASE_SHORTENED',
      message: `policy ${short(policy.hash)} moves the expiry from ${iso(lease.expiresAt)} to ${iso(expiresAt)}`,
      source: decision.matchedGrants.join(', '),
    })
  }
  if (!sameGrants(lease.grants, decision.grants)) {
    reasons.push({
      code: 'LEASE_ROUTES_CHANGED',
      message: `policy ${short(policy.hash)} changes the routes from ${render(lease.grants)} to ${render(decision.grants)}`,
      source: decision.matchedGrants.join(', '),
    })
  }
  if (reasons.length === 0) return { action: 'keep' }
  return {
    action: 'update',
    expiresAt,
    grants: decision.grants,
    matchedGrants: decision.matchedGrants,
    reasons,
  }
}

function sameGrants(a: readonly GatewayGrant[], b: readonly GatewayGrant[]): boolean {
  const key = (grants: readonly GatewayGrant[]) =>
    grants
      .map((g) => `${g.gateway}=${[...g.routes].sort().join(',')}`)
      .sort()
      .join(';')
  return key(a) === key(b)
}

function render(grants: readonly GatewayGrant[]): string {
  return grants.map((g) => `${g.gateway} [${g.routes.join(', ')}]`).join(', ') || 'nothing'
}

function short(hash: string): string {
  return hash.slice(0, 12)
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}
