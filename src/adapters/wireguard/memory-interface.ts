/**
 * An in-memory WireGuardInterface for unit tests and for the bench's extra agents beyond the real ones.
 * It counts operations, so tests can assert that a delta is one write and that nothing dumps per write.
 */
import { publicKeyOf } from '../../core/peers/keys.ts'
import type { InterfacePeer, PeerDelta, WireGuardInterface } from '../../core/sync/peer-state.ts'

export interface MemoryInterface extends WireGuardInterface {
  readonly peers: Map<string, InterfacePeer>
  readonly stats: { applies: number; lists: number; peersSet: number; peersRemoved: number }
  /** Makes the next operations fail, to test retries. */
  failNext(count: number): void
}

export function createMemoryInterface(
  name: string,
  initial: { privateKey?: string | null } = {},
): MemoryInterface {
  const peers = new Map<string, InterfacePeer>()
  const stats = { applies: 0, lists: 0, peersSet: 0, peersRemoved: 0 }
  let privateKey = initial.privateKey ?? null
  let failures = 0
  const maybeFail = () => {
    if (failures > 0) {
      failures--
      throw new Error(`memory interface ${name}: injected failure`)
    }
  }
  return {
    name,
    peers,
    stats,
    failNext(count) {
      failures = count
    },
    async listPeers() {
      maybeFail()
      stats.lists++
      return [...peers.values()].map((p) => ({ ...p, allowedIps: [...p.allowedIps] }))
    },
    async applyPeers(delta: PeerDelta) {
      maybeFail()
      stats.applies++
      for (const key of delta.remove) if (peers.delete(key)) stats.peersRemoved++
      for (const p of delta.set) {
        const existing = peers.get(p.publicKey)
        peers.set(p.publicKey, {
          publicKey: p.publicKey,
          presharedKey: p.presharedKey,
          allowedIps: [...p.allowedIps],
          endpoint: existing?.endpoint ?? null,
          latestHandshake: existing?.latestHandshake ?? null,
        })
        stats.peersSet++
      }
    },
    async getPrivateKey() {
      return privateKey
    },
    async getPublicKey() {
      return privateKey === null ? null : publicKeyOf(privateKey)
    },
    async setPrivateKey(key) {
      privateKey = key
    },
    async setListenPort() {},
  }
}
