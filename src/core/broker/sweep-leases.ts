/**
 * The expiry sweep as a use case: ends the leases whose time is up and wakes the gateways whose feeds
 * it moved, like every other write that touches a feed (issue, renew, revoke, policy swap). Gateways
 * remove an expired peer on their own clock anyway; the wake-up keeps the feed, the console and any
 * gateway that missed the expiry in step at once rather than at its next poll.
 */
import type { BrokerDeps } from './broker-deps.ts'

export async function sweepExpiredLeases(
  deps: Pick<BrokerDeps, 'store' | 'clock' | 'notifier'>,
): Promise<number> {
  const { ended, gateways } = await deps.store.sweepExpired(deps.clock.now())
  if (gateways.length > 0) deps.notifier.publish(gateways)
  return ended
}
