/**
 * The gateway's own expiry schedule: when the next peer must go, and dropping those whose time has come.
 *
 * This is what keeps DESIGN.md's "a lease never outlives its expiry on any gateway, broker up or down": the
 * agent arms one timer for `nextExpiry` and calls `dropExpired` when it fires, with no broker involved.
 * A linear scan is deliberate: at 50k peers it costs well under a millisecond per re-arm, less than keeping
 * a heap consistent with upserts that move expiries both ways.
 */
import type { DesiredPeers, PeerState } from './peer-state.ts'

/** The earliest expiry among the peers (possibly already past), or null when none expires. */
export function nextExpiry(desired: Iterable<PeerState>, _now: number): number | null {
  let earliest: number | null = null
  for (const peer of desired) {
    if (peer.expiresAt !== undefined && (earliest === null || peer.expiresAt < earliest))
      earliest = peer.expiresAt
  }
  return earliest
}

/** Removes expired peers (expiresAt <= now) from `desired` and returns their public keys, to remove from the interface. */
export function dropExpired(desired: DesiredPeers, now: number): string[] {
  const removed: string[] = []
  for (const [key, peer] of desired) {
    if (peer.expiresAt !== undefined && peer.expiresAt <= now) {
      desired.delete(key)
      removed.push(key)
    }
  }
  return removed
}
