/**
 * A WireGuardInterface through the `wg` tool, for kernel interfaces (which have no UAPI socket).
 *
 * Writes are one `wg set IFACE peer … peer …` process per chunk of many peers, never one per peer (a spawn
 * costs over a millisecond). Preshared keys never appear in argv, which any local user can read: each
 * goes into its own file, mode 0600, inside a fresh private directory (mode 0700) that is deleted when the
 * process exits; `wg` takes a key only as a file path. The private key goes the same way (not /dev/stdin:
 * Node's stdin pipes are socketpairs, which `wg` cannot fopen).
 * Reading is one `wg show IFACE dump`, used for reconcile and status, never on the write path.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canonicalCidr } from '../../core/peers/ip-syntax.ts'
import { isWireGuardKey, parseWireGuardPublicKey } from '../../core/peers/keys.ts'
import type { InterfacePeer, PeerDelta, WireGuardInterface } from '../../core/sync/peer-state.ts'
import { mustRunCommand } from '../runtime/run-command.ts'

export interface WgCliOptions {
  wgPath?: string
  /** Peers per `wg set` process; bounded by the kernel's argv limits (about 150 bytes of argv per peer). */
  chunkSize?: number
  /** Where the private directories for preshared-key files are made. */
  tempDir?: string
  /** Prefix for running `wg` elsewhere, e.g. ['ip', 'netns', 'exec', 'ns1'] for a kernel interface in a namespace. */
  commandPrefix?: string[]
}

/** One `wg show IFACE dump`: the interface line, then one tab-separated line per peer. */
export function parseWgDump(text: string): { privateKey: string | null; peers: InterfacePeer[] } {
  const lines = text.split('\n').filter((l) => l !== '')
  const head = lines[0]?.split('\t') ?? []
  const privateKey = head[0] !== undefined && isWireGuardKey(head[0]) ? head[0] : null
  const peers = lines.slice(1).map((line): InterfacePeer => {
    const [publicKey, psk, endpoint, allowed, handshake] = line.split('\t')
    const seconds = Number(handshake ?? '0')
    return {
      publicKey: publicKey!,
      presharedKey: psk !== undefined && isWireGuardKey(psk) ? psk : null,
      endpoint: endpoint === undefined || endpoint === '(none)' ? null : endpoint,
      allowedIps:
        allowed === undefined || allowed === '(none)' || allowed === ''
          ? []
          : allowed.split(',').map((ip) => canonicalCidr(ip) ?? ip),
      latestHandshake: seconds > 0 ? seconds * 1000 : null,
    }
  })
  return { privateKey, peers }
}

export function createWgCliInterface(name: string, options: WgCliOptions = {}): WireGuardInterface {
  const wg = [...(options.commandPrefix ?? []), options.wgPath ?? 'wg']
  const chunkSize = options.chunkSize ?? 2_000

  async function applyChunk(delta: PeerDelta): Promise<void> {
    const args = ['set', name]
    for (const key of delta.remove) args.push('peer', parseWireGuardPublicKey(key), 'remove')
    const needsFiles = delta.set.some((p) => p.presharedKey !== null)
    const dir = needsFiles ? await mkdtemp(join(options.tempDir ?? tmpdir(), 'keygate-psk-')) : null
    try {
      const writes: Promise<void>[] = []
      delta.set.forEach((peer, i) => {
        args.push('peer', parseWireGuardPublicKey(peer.publicKey))
        if (peer.presharedKey === null) {
          args.push('preshared-key', '/dev/null') // an empty file clears the key
        } else {
          if (!isWireGuardKey(peer.presharedKey)) throw new Error('preshared key is not a WireGuard key')
          const file = join(dir!, String(i))
          writes.push(writeFile(file, `${peer.presharedKey}\n`, { mode: 0o600, flag: 'wx' }))
          args.push('preshared-key', file)
        }
        const ips = peer.allowedIps.map((ip) => {
          const canonical = canonicalCidr(ip)
          if (canonical === null) throw new Error('allowed IP is not a CIDR prefix')
          return canonical
        })
        args.push('allowed-ips', ips.join(','))
      })
      await Promise.all(writes)
      await mustRunCommand([...wg, ...args])
    } finally {
      if (dir !== null) await rm(dir, { recursive: true, force: true })
    }
  }

  return {
    name,
    async listPeers() {
      return parseWgDump(await mustRunCommand([...wg, 'show', name, 'dump'])).peers
    },
    async applyPeers(delta) {
      if (delta.set.length + delta.remove.length === 0) return
      for (let i = 0; i < delta.remove.length; i += chunkSize) {
        await applyChunk({ set: [], remove: delta.remove.slice(i, i + chunkSize) })
      }
      for (let i = 0; i < delta.set.length; i += chunkSize) {
        await applyChunk({ set: delta.set.slice(i, i + chunkSize), remove: [] })
      }
    },
    async getPrivateKey() {
      const out = (await mustRunCommand([...wg, 'show', name, 'private-key'])).trim()
      return isWireGuardKey(out) ? out : null
    },
    async getPublicKey() {
      const out = (await mustRunCommand([...wg, 'show', name, 'public-key'])).trim()
      return isWireGuardKey(out) ? out : null
    },
    async setPrivateKey(privateKey) {
      if (!isWireGuardKey(privateKey)) throw new Error('not a WireGuard private key')
      const dir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'keygate-key-'))
      try {
        const file = join(dir, 'private.key')
        await writeFile(file, `${privateKey}\n`, { mode: 0o600, flag: 'wx' })
        await mustRunCommand([...wg, 'set', name, 'private-key', file])
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },
    async setListenPort(port) {
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('listen port out of range')
      await mustRunCommand([...wg, 'set', name, 'listen-port', String(port)])
    },
  }
}
