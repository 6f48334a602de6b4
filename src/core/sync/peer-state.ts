/**
 * The gateway's view of one peer, shared by the sync protocol, the reconcile logic and the interface adapters,
 * and the interface port the agent drives.
 *
 * Allowed IPs are kept in canonical CIDR form (see peers/ip-syntax.ts), the form `wg show` and UAPI print,
 * so comparing a desired peer with what an interface reports is a plain string comparison.
 */

export interface PeerState {
  /** Base64 public key: the peer's identity on the interface. */
  publicKey: string
  /** Base64 preshared key, or null for none. */
  presharedKey: string | null
  /** Canonical CIDR prefixes. */
  allowedIps: string[]
  /** Milliseconds since the epoch when the gateway must drop the peer; absent for what an interface reports. */
  expiresAt?: number
  /** Destination prefixes the peer may reach (its packet filter); absent for what an interface reports. */
  routes?: string[]
}

/** What the agent believes the interface must hold, keyed by public key. The agent owns and mutates it. */
export type DesiredPeers = Map<string, PeerState>

/** One batch of interface writes: peers to add or update, then public keys to remove. */
export interface PeerDelta {
  set: PeerState[]
  remove: string[]
}

/** A peer as an interface reports it. */
export interface InterfacePeer extends PeerState {
  endpoint: string | null
  /** Milliseconds since the epoch of the latest handshake, or null when there was none. */
  latestHandshake: number | null
}

/**
 * One WireGuard interface, as the agent needs it. Implementations (UAPI socket, `wg` CLI, in memory) live in
 * adapters/wireguard. `applyPeers` writes a whole delta in as few operations as it can (one UAPI write or one
 * `wg set` per chunk of many peers), and never reads the interface to do so.
 */
export interface WireGuardInterface {
  readonly name: string
  /** One full read of the interface (one UAPI `get` or one `wg show dump`). */
  listPeers(): Promise<InterfacePeer[]>
  /** Upserts `set` (allowed IPs and preshared key replaced, not merged) and removes `remove`. */
  applyPeers(delta: PeerDelta): Promise<void>
  /** Base64 private key, or null when the interface has none. Never log it. */
  getPrivateKey(): Promise<string | null>
  getPublicKey(): Promise<string | null>
  setPrivateKey(privateKey: string): Promise<void>
  setListenPort(port: number): Promise<void>
}

export function samePeerConfig(a: PeerState, b: PeerState): boolean {
  if (a.presharedKey !== b.presharedKey || a.allowedIps.length !== b.allowedIps.length) return false
  if (a.allowedIps.every((ip, i) => ip === b.allowedIps[i])) return true
  const left = [...a.allowedIps].sort()
  const right = [...b.allowedIps].sort()
  return left.every((ip, i) => ip === right[i])
}
