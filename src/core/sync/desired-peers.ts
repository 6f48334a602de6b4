/**
 * The agent's desired peer set and how a sync response changes it.
 *
 * `applyFeedPage` mutates the map the agent owns and returns exactly the interface writes and the filter
 * change the page implies, so a delta of k changes costs O(k), whatever the number of peers (only a reset is
 * O(n)). Nothing reads the interface or the filter on this path.
 */

import { diffElements, type FilterChange, type FilterElement, filterElementsOf } from './packet-filter.ts'
import { type DesiredPeers, type PeerDelta, type PeerState, samePeerConfig } from './peer-state.ts'
import { type RefusedUpsert, type SyncResponse, vetUpserts } from './protocol.ts'
import { reconcilePeers } from './reconcile.ts'

/** What one sync response asks of the interface and of the filter (order them with `orderApply`). */
export interface PagePlan {
  peers: PeerDelta
  filter: FilterChange
  /** Upserts the agent would not install (see `vetUpserts`); their keys were treated as removed. */
  refused: RefusedUpsert[]
}

/**
 * Applies one response to `desired`:
 * - reset: the upserts become the whole set (the delta is against the previous desired set, which is what
 *   the interface holds while the agent owns it);
 * - upserts replace a peer by public key; an unchanged peer whose expiry moved costs no interface write,
 *   and one whose routes alone changed costs a filter change only;
 * - removals delete;
 * - an upsert that has already expired never adds a peer, and removes the key if it was held: the broker has
 *   moved that lease's end into the past, and the gateway fails closed. So does a refused upsert.
 */
export function applyFeedPage(desired: DesiredPeers, page: SyncResponse, now: number): PagePlan {
  const { accepted, refused } = vetUpserts(page)
  if (page.reset) {
    const next: PeerState[] = []
    for (const u of accepted) if (u.expiresAt > now) next.push(toPeer(u))
    const before = elementsOf(desired.values())
    const peers = reconcilePeers([...desired.values()], next, now)
    desired.clear()
    for (const peer of next) desired.set(peer.publicKey, peer)
    return { peers, filter: diffElements(before, elementsOf(next)), refused }
  }
  const set: PeerState[] = []
  const remove: string[] = []
  const before: FilterElement[] = []
  const after: FilterElement[] = []
  const drop = (key: string) => {
    const current = desired.get(key)
    if (current === undefined) return
    desired.delete(key)
    remove.push(key)
    before.push(...filterElementsOf(current))
  }
  for (const key of page.removals) drop(key)
  for (const r of refused) drop(r.publicKey)
  for (const u of accepted) {
    if (u.expiresAt <= now) {
      drop(u.publicKey)
      continue
    }
    const current = desired.get(u.publicKey)
    const peer = toPeer(u)
    desired.set(peer.publicKey, peer)
    if (current !== undefined) before.push(...filterElementsOf(current))
    after.push(...filterElementsOf(peer))
    if (current === undefined || !samePeerConfig(current, peer)) set.push(peer)
  }
  return { peers: { set, remove }, filter: diffElements(before, after), refused }
}

/** Every pair the given peers may send: what the filter must hold for them. */
export function elementsOf(peers: Iterable<PeerState>): FilterElement[] {
  const elements: FilterElement[] = []
  for (const peer of peers) elements.push(...filterElementsOf(peer))
  return elements
}

function toPeer(u: SyncResponse['upserts'][number]): PeerState {
  return {
    publicKey: u.publicKey,
    presharedKey: u.presharedKey,
    allowedIps: u.allowedIps,
    routes: u.routes,
    expiresAt: u.expiresAt,
  }
}
