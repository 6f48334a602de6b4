/**
 * The terminal client's WireGuard interface on Linux: made with `ip link add … type wireguard` (kernel),
 * or by starting `wireguard-go` where the module is missing; configured with `wg syncconf` from a 0600
 * file in a fresh 0700 directory (keys never in argv, and syncconf changes only what differs, so a peer
 * update keeps the sessions of unchanged peers); given the lease's addresses and one route per allowed
 * prefix. `down` deletes the interface, which takes its addresses and routes with it, and stops the
 * wireguard-go it started. Every command goes through run-command (an argument list, never a shell).
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TunnelDescription } from '../../core/device/tunnel.ts'
import { fillPrivateKey, renderClientConfig, stripWgQuickFields } from '../../core/peers/wg-config.ts'
import { mustRunCommand, runCommand } from '../runtime/run-command.ts'

export const DEFAULT_CLIENT_INTERFACE = 'keygate0'
const KEEPALIVE_SECONDS = 25

/** The wg-quick text of a lease (for `--config-only`, and, stripped of wg-quick keys, for `wg syncconf`). */
export function renderTunnelConfig(
  tunnel: TunnelDescription,
  keys: { privateKey: string; presharedKey: string },
  name: string | null,
): string {
  const text = renderClientConfig({
    addresses: tunnel.addresses,
    dns: tunnel.dns,
    peers: tunnel.peers.map((peer) => ({
      publicKey: peer.publicKey,
      presharedKey: keys.presharedKey,
      endpoint: peer.endpoint,
      allowedIps: peer.allowedIps,
      persistentKeepalive: KEEPALIVE_SECONDS,
      name: peer.gateway,
    })),
    ...(name === null ? {} : { name }),
  })
  return fillPrivateKey(text, keys.privateKey)
}

export interface InterfaceStats {
  publicKey: string
  endpoint: string | null
  latestHandshake: number | null
  rxBytes: number
  txBytes: number
}

export interface LinuxTunnel {
  readonly name: string
  /** The pid of the wireguard-go this tunnel started, or null (kernel module). */
  readonly userspacePid: number | null
  /** Writes keys and peers (only what differs) and makes the routes match. */
  apply(tunnel: TunnelDescription, keys: { privateKey: string; presharedKey: string }): Promise<void>
  stats(): Promise<InterfaceStats[]>
  down(): Promise<void>
}

export async function interfaceExists(name: string): Promise<boolean> {
  return (await runCommand(['ip', 'link', 'show', 'dev', name])).code === 0
}

export async function createLinuxTunnel(
  name: string,
  options: { userspace?: 'auto' | 'always' } = {},
): Promise<LinuxTunnel> {
  if (!/^[A-Za-z0-9_.=+-]{1,15}$/.test(name)) throw new Error(`not a valid interface name: ${name}`)
  if (await interfaceExists(name)) {
    throw new Error(`interface ${name} already exists: run "keygate down" first, or pick --interface`)
  }
  let userspacePid: number | null = null
  const kernel =
    options.userspace !== 'always' &&
    (await runCommand(['ip', 'link', 'add', 'dev', name, 'type', 'wireguard'])).code === 0
  if (!kernel) userspacePid = await startWireGuardGo(name)
  await mustRunCommand(['ip', 'link', 'set', 'dev', name, 'mtu', '1420'])
  const routes = new Set<string>()
  const addresses = new Set<string>()

  return {
    name,
    userspacePid,
    async apply(tunnel, keys) {
      const dir = await mkdtemp(join(tmpdir(), 'keygate-client-'))
      try {
        const file = join(dir, 'wg.conf')
        await writeFile(file, stripWgQuickFields(renderTunnelConfig(tunnel, keys, null)), {
          mode: 0o600,
          flag: 'wx',
        })
        await mustRunCommand(['wg', 'syncconf', name, file])
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
      for (const address of tunnel.addresses) {
        if (addresses.has(address)) continue
        await mustRunCommand([
          'ip',
          address.includes(':') ? '-6' : '-4',
          'address',
          'add',
          address,
          'dev',
          name,
        ])
        addresses.add(address)
      }
      await mustRunCommand(['ip', 'link', 'set', 'dev', name, 'up'])
      const wanted = new Set(tunnel.peers.flatMap((p) => p.allowedIps))
      for (const route of routes) {
        if (wanted.has(route)) continue
        await mustRunCommand([
          'ip',
          route.includes(':') ? '-6' : '-4',
          'route',
          'del',
          route,
          'dev',
          name,
        ]).catch(() => {})
        routes.delete(route)
      }
      for (const route of wanted) {
        if (routes.has(route)) continue
        await mustRunCommand([
          'ip',
          route.includes(':') ? '-6' : '-4',
          'route',
          'replace',
          route,
          'dev',
          name,
        ])
        routes.add(route)
      }
    },
    async stats() {
      return parseDumpStats(await mustRunCommand(['wg', 'show', name, 'dump']))
    },
    async down() {
      await removeInterface(name, userspacePid)
    },
  }
}

/** Deletes the interface (its addresses and routes go with it) and stops a wireguard-go we started. */
export async function removeInterface(name: string, userspacePid: number | null): Promise<void> {
  if (await interfaceExists(name)) await mustRunCommand(['ip', 'link', 'del', 'dev', name])
  if (userspacePid !== null) {
    try {
      process.kill(userspacePid, 'SIGTERM')
    } catch {
      // already gone with its interface
    }
  }
}

/** wireguard-go in the foreground as our child, so it never outlives the client unnoticed. */
async function startWireGuardGo(name: string): Promise<number> {
  const child = spawn('wireguard-go', [name], {
    env: { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' },
    stdio: 'ignore',
    detached: false,
  })
  await new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new Error(`wireguard-go: ${error.message}`)))
    const started = Date.now()
    const check = () => {
      interfaceExists(name).then((exists) => {
        if (exists) resolve()
        else if (child.exitCode !== null) reject(new Error(`wireguard-go exited with ${child.exitCode}`))
        else if (Date.now() - started > 5_000) reject(new Error('wireguard-go made no interface in 5 s'))
        else setTimeout(check, 50)
      }, reject)
    }
    check()
  })
  child.unref()
  if (child.pid === undefined) throw new Error('wireguard-go did not start')
  return child.pid
}

/** `wg show IFACE dump` peer lines: key, psk, endpoint, allowed, handshake, rx, tx, keepalive. */
export function parseDumpStats(text: string): InterfaceStats[] {
  return text
    .split('\n')
    .slice(1)
    .filter((line) => line !== '')
    .map((line) => {
      const [publicKey, , endpoint, , handshake, rx, tx] = line.split('\t')
      const seconds = Number(handshake ?? '0')
      return {
        publicKey: publicKey ?? '',
        endpoint: endpoint === undefined || endpoint === '(none)' ? null : endpoint,
        latestHandshake: seconds > 0 ? seconds * 1000 : null,
        rxBytes: Number(rx ?? '0'),
        txBytes: Number(tx ?? '0'),
      }
    })
}
