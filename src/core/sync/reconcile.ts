/**
 * Reconcile: the writes that make an interface's actual peer set equal to the desired one.
 *
 * The agent owns the interface's peer set, so anything on the interface that is not desired (a stray added by
 * hand, a peer whose lease ended while the agent was down) is removed. Runs in O(actual + desired) with one
 * map, so a 50k-peer interface reconciles in milliseconds; it is used on start and for the periodic drift
 * check, never per change.
 */
import { type PeerDelta, type PeerState, samePeerConfig } from './peer-state.ts'

export function reconcilePeers(
  actual: readonly PeerState[],
  desired: readonly PeerState[],
  now: number,
): PeerDelta {
  const have = new Map<string, PeerState>()
  for (const peer of actual) have.set(peer.publicKey, peer)
  const set: PeerState[] = []
  const wanted = new Set<string>()
  for (const peer of desired) {
    // An expired peer is not wanted even if the caller has not dropped it yet: fail closed.
    if (peer.expiresAt !== undefined && peer.expiresAt <= now) continue
    wanted.add(peer.publicKey)
    const current = have.get(peer.publicKey)
    if (current === undefined || !samePeerConfig(current, peer)) set.push(peer)
  }
  const remove: string[] = []
  for (const key of have.keys()) if (!wanted.has(key)) remove.push(key)
  return { set, remove }
}
