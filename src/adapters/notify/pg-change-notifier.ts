/**
 * Wake-ups across broker replicas that share one PostgreSQL: LISTEN/NOTIFY carries only the names of
 * gateways whose feed moved, never the data, so a lost notification costs latency, never correctness
 * (every waiter also times out and re-reads). NOTIFY runs after the commit, outside the issuing
 * transaction, so it never takes the global commit lock on the hot path's transaction.
 */
import type postgres from 'postgres'
import type { ChangeNotifier, Logger } from '../../core/ports.ts'
import { createLocalChangeNotifier } from './local-change-notifier.ts'

export const FEED_CHANNEL = 'keygate_feed'

export async function createPgChangeNotifier(
  sql: postgres.Sql,
  logger: Logger,
): Promise<ChangeNotifier & { close(): Promise<void> }> {
  const local = createLocalChangeNotifier()
  const subscription = await sql.listen(FEED_CHANNEL, (payload) => {
    local.wakeLocal(payload.split(',').filter((name) => name.length > 0))
  })
  return {
    publish(gateways) {
      if (gateways.length === 0) return
      local.wakeLocal(gateways)
      // Names only; a payload stays far below NOTIFY's 8,000-byte limit for any sane gateway count.
      sql.notify(FEED_CHANNEL, [...new Set(gateways)].join(',')).catch((error: unknown) => {
        logger.warn('feed.notify_failed', { error: error instanceof Error ? error.message : String(error) })
      })
    },
    waitForChange: local.waitForChange,
    async close() {
      await subscription.unlisten()
    },
  }
}
