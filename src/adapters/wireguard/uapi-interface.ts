/**
 * A WireGuardInterface over the UAPI socket of a userspace implementation (wireguard-go, boringtun):
 * `/var/run/wireguard/<iface>.sock`. No process is spawned; a delta of any size is one connection and one
 * `set=1` write per chunk, and reading the interface is one `get=1`.
 *
 * Chunks bound the request size (and how long wireguard-go holds its device lock) while keeping the number
 * of round trips per 10,000 peers in single digits.
 */
import { createConnection } from 'node:net'
import { join } from 'node:path'
import { encodeBase64 } from '../../core/peers/base64.ts'
import { decodeWireGuardKey, publicKeyOf } from '../../core/peers/keys.ts'
import type { InterfacePeer, PeerDelta, WireGuardInterface } from '../../core/sync/peer-state.ts'
import {
  formatSetRequest,
  keyToHex,
  parseGetResponse,
  responseErrno,
  type UapiDevice,
} from './uapi-protocol.ts'

export const DEFAULT_UAPI_DIR = '/var/run/wireguard'

export interface UapiOptions {
  socketDir?: string
  /** Peers (set + remove) per `set=1` transaction. */
  chunkSize?: number
  timeoutMs?: number
  /** The exchange to use (tests count the transactions through it); `uapiExchange` by default. */
  exchange?: typeof uapiExchange
}

export function uapiSocketPath(name: string, socketDir = DEFAULT_UAPI_DIR): string {
  return join(socketDir, `${name}.sock`)
}

/** One request/answer exchange on a fresh connection. */
export function uapiExchange(path: string, request: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path)
    const chunks: Buffer[] = []
    let settled = false
    const done = (error: Error | null, text?: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (error === null) resolve(text!)
      else reject(error)
    }
    const timer = setTimeout(
      () => done(new Error(`UAPI ${path}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    )
    socket.on('error', (error) => done(new Error(`UAPI ${path}: ${error.message}`)))
    socket.on('data', (chunk) => {
      chunks.push(chunk)
      // The answer always ends with "errno=N\n\n"; check only the tail so a large get stays linear.
      if (chunk.length >= 2 && chunk[chunk.length - 1] === 10 && chunk[chunk.length - 2] === 10) {
        const text = Buffer.concat(chunks).toString('utf8')
        if (responseErrno(text) !== null) done(null, text)
      }
    })
    socket.on('end', () => done(new Error(`UAPI ${path}: connection closed before the answer`)))
    socket.write(request)
  })
}

export function createUapiInterface(name: string, options: UapiOptions = {}): WireGuardInterface {
  const path = uapiSocketPath(name, options.socketDir)
  const chunkSize = options.chunkSize ?? 5_000
  const timeoutMs = options.timeoutMs ?? 30_000
  const exchange = options.exchange ?? uapiExchange

  async function set(request: string, what: string): Promise<void> {
    const answer = await exchange(path, request, timeoutMs)
    const errno = responseErrno(answer)
    if (errno !== 0) throw new Error(`UAPI ${name}: ${what} failed with errno=${errno}`)
  }

  async function get(): Promise<UapiDevice> {
    const answer = await exchange(path, 'get=1\n\n', timeoutMs)
    const errno = responseErrno(answer)
    if (errno !== 0) throw new Error(`UAPI ${name}: get failed with errno=${errno}`)
    return parseGetResponse(answer)
  }

  return {
    name,
    async listPeers(): Promise<InterfacePeer[]> {
      return (await get()).peers
    },
    async applyPeers(delta: PeerDelta): Promise<void> {
      if (delta.set.length + delta.remove.length === 0) return
      if (delta.set.length + delta.remove.length <= chunkSize) {
        await set(formatSetRequest(delta), 'apply')
        return
      }
      // Removals first, in their own chunks, so a key moving between chunks is never removed after its upsert.
      for (let i = 0; i < delta.remove.length; i += chunkSize) {
        await set(formatSetRequest({ set: [], remove: delta.remove.slice(i, i + chunkSize) }), 'remove')
      }
      for (let i = 0; i < delta.set.length; i += chunkSize) {
        await set(formatSetRequest({ set: delta.set.slice(i, i + chunkSize), remove: [] }), 'set')
      }
    },
    async getPrivateKey() {
      return (await get()).privateKey
    },
    async getPublicKey() {
      const privateKey = (await get()).privateKey
      return privateKey === null ? null : publicKeyOf(privateKey)
    },
    async setPrivateKey(privateKey: string) {
      const bytes = decodeWireGuardKey(privateKey)
      if (bytes === null) throw new Error('not a WireGuard private key')
      await set(`set=1\nprivate_key=${keyToHex(encodeBase64(bytes))}\n\n`, 'private key')
    },
    async setListenPort(port: number) {
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('listen port out of range')
      await set(`set=1\nlisten_port=${port}\n\n`, 'listen port')
    },
  }
}
