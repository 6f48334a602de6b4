/**
 * What the Cron Trigger does each minute. Workers have no long-lived process for the Node server's
 * 15-second sweeper, and no file watcher for policy swaps, so both become this scheduled run:
 *
 * - the expiry sweep (Store.sweepExpired): frees addresses of expired leases, records their
 *   `lease.expired` events, prunes old feed entries and expired sessions. Gateways have already removed
 *   those peers on their own clocks; this is the control plane catching up.
 * - after a deploy that changed the bundled policy, the one-time re-judging of live leases that the Node
 *   server does on a hot reload (applyPolicySwap). The hash it last applied is kept in KV; the first
 *   run after a deploy sees a different hash and re-judges. Without KV, every run would, so it is skipped
 *   and said so.
 * - the audit retention prune (KEYGATE_AUDIT_RETENTION), held while an export reads.
 */

import { applyPolicySwap } from '../../core/broker/apply-policy-swap.ts'
import { pruneAuditLog } from '../../core/broker/audit-retention.ts'
import type { BrokerDeps } from '../../core/broker/broker-deps.ts'
import { sweepExpiredLeases } from '../../core/broker/sweep-leases.ts'
import type { KvBinding } from './worker-bindings.ts'

const APPLIED_POLICY_KEY = 'keygate:policy:v1:applied-hash'

export interface SweepOutcome {
  expired: number
  /** null when the policy had not changed since the last run (or there is no KV to remember it). */
  reevaluated: { checked: number; revoked: number; updated: number } | null
}

export async function runScheduledSweep(
  broker: BrokerDeps,
  kv: KvBinding | undefined,
  auditRetentionMs: number | null = null,
): Promise<SweepOutcome> {
  const expired = await sweepExpiredLeases(broker)
  // Audit retention, as the Node server's hourly timer does it; a prune with nothing old is one cheap query.
  await pruneAuditLog(broker, auditRetentionMs)
  let reevaluated: SweepOutcome['reevaluated'] = null
  const policy = broker.policy()
  if (kv === undefined) {
    broker.logger.debug('policy.reevaluation_skipped', {
      reason: 'no KEYGATE_CACHE binding to remember the applied policy',
    })
  } else {
    const applied = (await kv.get(APPLIED_POLICY_KEY, 'json')) as string | null
    if (applied !== policy.hash) {
      // The previous policy's text is gone with the previous deploy; re-judging needs only the new one,
      // and the audit events name the old hash. A lease the policy still allows as it is stays untouched,
      // so a first run (no hash remembered yet) costs one pass over the live leases and changes nothing.
      const previous = { ...policy, hash: applied ?? 'unknown' }
      reevaluated = await applyPolicySwap(broker, previous, policy)
      await kv.put(APPLIED_POLICY_KEY, JSON.stringify(policy.hash))
    }
  }
  broker.logger.info('lease.sweep', { expired, policyHash: policy.hash, reevaluated })
  return { expired, reevaluated }
}
