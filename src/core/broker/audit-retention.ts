/**
 * Audit retention: events older than the configured retention (KEYGATE_AUDIT_RETENTION) are deleted by a
 * scheduled prune (a timer on Node, the Cron Trigger on Workers). A running export holds the prune (see
 * Store.holdAudit), so an export never loses the older events it has yet to read. Each prune that deletes
 * something says so in the log it prunes.
 */
import { auditEvent } from '../audit-event.ts'
import type { BrokerDeps } from './broker-deps.ts'

export async function pruneAuditLog(
  deps: Pick<BrokerDeps, 'store' | 'clock' | 'logger'>,
  retentionMs: number | null,
): Promise<{ deleted: number; held: boolean }> {
  if (retentionMs === null) return { deleted: 0, held: false }
  const now = deps.clock.now()
  const before = now - retentionMs
  const outcome = await deps.store.pruneAudit(before, now)
  if (outcome.held) deps.logger.info('audit.prune_held', { reason: 'an export is reading the audit log' })
  if (outcome.deleted > 0) {
    await deps.store.appendAudit(
      auditEvent('audit.pruned', {
        actor: 'system',
        data: { before, deleted: outcome.deleted, retentionMs },
      }),
      now,
    )
    deps.logger.info('audit.pruned', { before: new Date(before).toISOString(), deleted: outcome.deleted })
  }
  return outcome
}
