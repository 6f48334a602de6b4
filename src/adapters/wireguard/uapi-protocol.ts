/**
 * The text of WireGuard's cross-platform userspace API (wireguard.com/xplatform): building `set=1` requests
 * and reading `get=1` answers. No I/O here; uapi-interface.ts moves the bytes.
 *
 * Keys travel as hex on this protocol and as base64 everywhere else in Keygate; the conversion happens only
 * here. A `set=1` request is `key=value` lines ended by an empty line; the answer is `errno=N` and an empty
 * line. Each peer's block starts at its `public_key=` line.
 */
import { decodeHex, encodeBase64, encodeHex } from '../../core/peers/base64.ts'
import { canonicalCidr } from '../../core/peers/ip-syntax.ts'
import { decodeWireGuardKey } from '../../core/peers/keys.ts'
import type { InterfacePeer, PeerDelta } from '../../core/sync/peer-state.ts'

const ZERO_KEY_HEX = '0'.repeat(64)

export function keyToHex(base64: string): string {
  const bytes = decodeWireGuardKey(base64)
  if (bytes === null) throw new Error('not a WireGuard key')
  return encodeHex(bytes)
}

function hexToKey(hex: string): string | null {
  const bytes = decodeHex(hex)
  if (bytes === null || bytes.length !== 32) return null
  return bytes.every((b) => b === 0) ? null : encodeBase64(bytes)
}

/**
 * The body of one `set=1` transaction for a whole delta: removals first, then upserts with their allowed IPs
 * and preshared key replaced (a zero key clears it), so the result never depends on what was there before.
 */
export function formatSetRequest(delta: PeerDelta): string {
  const lines = ['set=1']
  for (const key of delta.remove) lines.push(`public_key=${keyToHex(key)}`, 'remove=true')
  for (const peer of delta.set) {
    lines.push(
      `public_key=${keyToHex(peer.publicKey)}`,
      `preshared_key=${peer.presharedKey === null ? ZERO_KEY_HEX : keyToHex(peer.presharedKey)}`,
      'replace_allowed_ips=true',
    )
    for (const ip of peer.allowedIps) {
      const canonical = canonicalCidr(ip)
      if (canonical === null) throw new Error('allowed IP is not a CIDR prefix')
      lines.push(`allowed_ip=${canonical}`)
    }
  }
  return `${lines.join('\n')}\n\n`
}

export interface UapiDevice {
  privateKey: string | null
  listenPort: number | null
  peers: InterfacePeer[]
}

/** Reads a `get=1` answer (without checking errno: the caller does). */
export function parseGetResponse(text: string): UapiDevice {
  const device: UapiDevice = { privateKey: null, listenPort: null, peers: [] }
  let peer: (InterfacePeer & { sec: number; nsec: number }) | null = null
  const finish = () => {
    if (peer === null) return
    const { sec, nsec, ...rest } = peer
    device.peers.push({
      ...rest,
      latestHandshake: sec === 0 && nsec === 0 ? null : sec * 1000 + Math.floor(nsec / 1e6),
    })
  }
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=')
    if (eq < 0) continue
    const key = line.slice(0, eq)
    const value = line.slice(eq + 1)
    if (key === 'public_key') {
      finish()
      const publicKey = hexToKey(value)
      if (publicKey === null) throw new Error('UAPI get returned a malformed public key')
      peer = {
        publicKey,
        presharedKey: null,
        allowedIps: [],
        endpoint: null,
        latestHandshake: null,
        sec: 0,
        nsec: 0,
      }
      continue
    }
    if (peer === null) {
      if (key === 'private_key') device.privateKey = hexToKey(value)
      else if (key === 'listen_port') device.listenPort = Number(value)
      continue
    }
    if (key === 'preshared_key') peer.presharedKey = hexToKey(value)
    else if (key === 'allowed_ip') peer.allowedIps.push(canonicalCidr(value) ?? value)
    else if (key === 'endpoint') peer.endpoint = value
    else if (key === 'last_handshake_time_sec') peer.sec = Number(value)
    else if (key === 'last_handshake_time_nsec') peer.nsec = Number(value)
  }
  finish()
  return device
}

/** The errno of an answer: 0 on success; null when the answer is incomplete. */
export function responseErrno(text: string): number | null {
  const match = /(?:^|\n)errno=(-?\d+)\n\n$/.exec(text)
  return match === null ? null : Number(match[1])
}
