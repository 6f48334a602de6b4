/**
 * The agent's desired peer set and how a sync response changes it.
 *
 * `applyFeedPage` mutates the map the agent owns and returns exactly the interface writes the page implies,
 * so a delta of k changes costs O(k), whatever the number of peers (only a reset is O(n)). The set it returns
 * goes straight to `WireGuardInterface.applyPeers`; nothing reads the interface on this path.
 */

import { type DesiredPeers, type PeerDelta, type PeerState, samePeerConfig } from './peer-state.ts'
import type { SyncResponse } from './protocol.ts'
import { reconcilePeers } from './reconcile.ts'

/**
 * Applies one response to `desired`:
 * - reset: the upserts become the whole set (the delta is against the previous desired set, which is what
 *   the interface holds while the agent owns it);
 * - upserts replace a peer by public key; an unchanged peer whose expiry moved costs no interface write;
 * - removals delete;
 * - an upsert that has already expired never adds a peer, and removes the key if it was held: the broker has
 *   moved that lease's end into the past, and the gateway fails closed.
 */
export function applyFeedPage(desired: DesiredPeers, page: SyncResponse, now: number): PeerDelta {
  if (page.reset) {
    const next: PeerState[] = []
    for (const u of page.upserts) if (u.expiresAt > now) next.push(toPeer(u))
    const delta = reconcilePeers([...desired.values()], next, now)
    desired.clear()
    for (const peer of next) desired.set(peer.publicKey, peer)
    return delta
  }
  const set: PeerState[] = []
  const remove: string[] = []
  for (const key of page.removals) {
    if (desired.delete(key)) remove.push(key)
  }
  for (const u of page.upserts) {
    const current = desired.get(u.publicKey)
    if (u.expiresAt <= now) {
      if (current !== undefined) {
        desired.delete(u.publicKey)
        remove.push(u.publicKey)
      }
      continue
    }
    const peer = toPeer(u)
    desired.set(peer.publicKey, peer)
    if (current === undefined || !samePeerConfig(current, peer)) set.push(peer)
  }
  return { set, remove }
}

function toPeer(u: SyncResponse['upserts'][number]): PeerState {
  return {
    publicKey: u.publicKey,
    presharedKey: u.presharedKey,
    allowedIps: u.allowedIps,
    expiresAt: u.expiresAt,
  }
}
