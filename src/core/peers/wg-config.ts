/**
 * WireGuard config text: rendering the client's wg-quick file, stripping it down to what `wg setconf`
 * accepts, and a strict parser for both.
 *
 * The renderer is the injection boundary of DESIGN.md's invariant "nothing from a user can inject a line":
 * every value is checked against a narrow grammar (keys, CIDRs, endpoints) and written by us, and the only
 * free text, the device and gateway names, appears solely inside a comment line after every control,
 * line-separator and format character is removed. No input can therefore start a new line or section.
 */
import { KeygateError } from '../errors.ts'
import { canonicalCidr, isEndpoint, isHostname, isInterfaceAddress, parseIp } from './ip-syntax.ts'
import { isWireGuardKey, parseWireGuardPublicKey } from './keys.ts'

/** Where the client puts its private key; the broker never has it. Not valid base64, so `wg` refuses it unfilled. */
export const PRIVATE_KEY_PLACEHOLDER = '{{PRIVATE_KEY}}'

const PLACEHOLDER_GRAMMAR = /^[A-Za-z0-9_{}<>.-]{1,64}$/
export const MAX_COMMENT_LENGTH = 64

export interface ClientConfigPeer {
  publicKey: string
  presharedKey?: string | null
  endpoint: string
  allowedIps: string[]
  persistentKeepalive?: number
  /** The gateway's name, written only as a comment. */
  name?: string
}

export interface ClientConfigInput {
  addresses: string[]
  dns: string[]
  privateKeyPlaceholder?: string
  peers: ClientConfigPeer[]
  /** The user's device name, written only as a sanitised comment. */
  name?: string
}

function invalid(message: string): KeygateError {
  return new KeygateError('CONFIG_INVALID', message)
}

/**
 * Free text made safe for one comment line: control, format, line and paragraph separator characters are
 * removed (not escaped), whitespace runs become one space, and the result is cut to MAX_COMMENT_LENGTH.
 */
export function sanitizeComment(text: string): string {
  const cleaned = text
    .replace(/[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Cn}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
  return Array.from(cleaned).slice(0, MAX_COMMENT_LENGTH).join('').trim()
}

function checkKey(value: unknown, what: string): string {
  if (!isWireGuardKey(value)) throw invalid(`${what} is not a 32-byte base64 WireGuard key`)
  return value
}

function checkAllowedIps(list: string[], what: string): string[] {
  if (list.length === 0) throw invalid(`${what} has no allowed IPs`)
  return list.map((entry) => {
    const canonical = typeof entry === 'string' ? canonicalCidr(entry) : null
    if (canonical === null) throw invalid(`${what} has an allowed IP that is not a CIDR prefix`)
    return canonical
  })
}

export function renderClientConfig(input: ClientConfigInput): string {
  const placeholder = input.privateKeyPlaceholder ?? PRIVATE_KEY_PLACEHOLDER
  if (!PLACEHOLDER_GRAMMAR.test(placeholder))
    throw invalid('The private key placeholder has characters outside [A-Za-z0-9_{}<>.-]')
  if (input.addresses.length === 0) throw invalid('A client config needs at least one address')
  for (const address of input.addresses) {
    if (typeof address !== 'string' || !isInterfaceAddress(address))
      throw invalid('An interface address is not an IP address')
  }
  for (const server of input.dns) {
    if (typeof server !== 'string' || (parseIp(server) === null && !isHostname(server))) {
      throw invalid('A DNS entry is neither an IP address nor a domain name')
    }
  }

  const lines: string[] = []
  const deviceName = input.name === undefined ? '' : sanitizeComment(input.name)
  lines.push('# Keygate: short-lived WireGuard access. Sign in again when it expires.')
  if (deviceName !== '') lines.push(`# Device: ${deviceName}`)
  lines.push('[Interface]', `PrivateKey = ${placeholder}`, `Address = ${input.addresses.join(', ')}`)
  if (input.dns.length > 0) lines.push(`DNS = ${input.dns.join(', ')}`)

  input.peers.forEach((peer, index) => {
    const what = `Peer ${index + 1}`
    const publicKey = parseWireGuardPublicKey(peer.publicKey)
    const allowedIps = checkAllowedIps(peer.allowedIps, what)
    if (typeof peer.endpoint !== 'string' || !isEndpoint(peer.endpoint))
      throw invalid(`${what} has an endpoint that is not host:port`)
    const keepalive = peer.persistentKeepalive ?? 0
    if (!Number.isInteger(keepalive) || keepalive < 0 || keepalive > 65535)
      throw invalid(`${what} has a keepalive outside 0-65535`)
    lines.push('')
    const gatewayName = peer.name === undefined ? '' : sanitizeComment(peer.name)
    if (gatewayName !== '') lines.push(`# Gateway: ${gatewayName}`)
    lines.push('[Peer]', `PublicKey = ${publicKey}`)
    if (peer.presharedKey != null)
      lines.push(`PresharedKey = ${checkKey(peer.presharedKey, `${what}'s preshared key`)}`)
    lines.push(`Endpoint = ${peer.endpoint}`, `AllowedIPs = ${allowedIps.join(', ')}`)
    if (keepalive > 0) lines.push(`PersistentKeepalive = ${keepalive}`)
  })
  return `${lines.join('\n')}\n`
}

/** Puts the client's private key where the placeholder is; the key is checked so it cannot add a line either. */
export function fillPrivateKey(
  config: string,
  privateKey: string,
  placeholder = PRIVATE_KEY_PLACEHOLDER,
): string {
  checkKey(privateKey, 'The private key')
  const line = `PrivateKey = ${placeholder}`
  if (!config.split('\n').includes(line)) throw invalid('The config has no private key placeholder')
  return config
    .split('\n')
    .map((l) => (l === line ? `PrivateKey = ${privateKey}` : l))
    .join('\n')
}

/** Keys only wg-quick understands; `wg setconf` refuses them. */
const WG_QUICK_ONLY = new Set([
  'address',
  'dns',
  'mtu',
  'table',
  'preup',
  'postup',
  'predown',
  'postdown',
  'saveconfig',
])

/** wg-quick text to what `wg setconf` accepts: drops Address, DNS, MTU, Table, the hooks and SaveConfig. */
export function stripWgQuickFields(text: string): string {
  const kept = text.split('\n').filter((raw) => {
    const content = raw.replace(/#.*$/, '')
    const eq = content.indexOf('=')
    if (eq < 0) return true
    return !WG_QUICK_ONLY.has(content.slice(0, eq).trim().toLowerCase())
  })
  return kept.join('\n')
}

export interface ParsedInterfaceSection {
  privateKey: string
  addresses: string[]
  dns: string[]
  listenPort: number | null
  mtu: number | null
  /** wg-quick-only keys other than Address/DNS/MTU, as written (Table, hooks, SaveConfig). */
  extra: Record<string, string[]>
}

export interface ParsedPeerSection {
  publicKey: string
  presharedKey: string | null
  endpoint: string | null
  allowedIps: string[]
  persistentKeepalive: number | null
}

export interface ParsedWireGuardConfig {
  interface: ParsedInterfaceSection
  peers: ParsedPeerSection[]
  /** Comment lines' text (after `#`, trimmed), in order. */
  comments: string[]
}

const INTERFACE_KEYS = new Set(['privatekey', 'listenport', 'fwmark', ...WG_QUICK_ONLY])
const PEER_KEYS = new Set(['publickey', 'presharedkey', 'allowedips', 'endpoint', 'persistentkeepalive'])
const REPEATABLE = new Set(['address', 'dns', 'allowedips', 'preup', 'postup', 'predown', 'postdown'])

/**
 * A strict reading of wg / wg-quick config text, in wg's own lexical rules (`#` starts a comment, keys are
 * case-insensitive, whitespace around `=` is ignored) and stricter values: unknown keys, a second
 * [Interface], repeated single-valued keys and malformed values are errors naming the line.
 */
export function parseWireGuardConfig(
  text: string,
  options: { allowPlaceholder?: boolean } = {},
): ParsedWireGuardConfig {
  const fail = (line: number, message: string): never => {
    throw new KeygateError('CONFIG_INVALID', `line ${line}: ${message}`)
  }
  let section: 'none' | 'interface' | 'peer' = 'none'
  let iface: Map<string, string[]> | null = null
  const peers: Map<string, string[]>[] = []
  const comments: string[] = []
  const lines = text.split('\n')
  lines.forEach((raw, i) => {
    const n = i + 1
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (/[\p{Cc}]/u.test(line.replace(/\t/g, ''))) fail(n, 'control character')
    const hash = line.indexOf('#')
    if (hash >= 0) comments.push(line.slice(hash + 1).trim())
    const content = (hash >= 0 ? line.slice(0, hash) : line).trim()
    if (content === '') return
    if (/^\[[^\]]*\]$/.test(content)) {
      const name = content.slice(1, -1).trim().toLowerCase()
      if (name === 'interface') {
        if (iface !== null) fail(n, 'a second [Interface] section')
        iface = new Map()
        section = 'interface'
      } else if (name === 'peer') {
        peers.push(new Map())
        section = 'peer'
      } else {
        fail(n, `unknown section ${content}`)
      }
      return
    }
    const eq = content.indexOf('=')
    if (eq <= 0) fail(n, 'expected "Key = Value"')
    const key = content.slice(0, eq).trim().toLowerCase()
    const value = content.slice(eq + 1).trim()
    if (section === 'none') fail(n, 'a key outside any section')
    const target = section === 'interface' ? iface! : peers[peers.length - 1]!
    const allowed = section === 'interface' ? INTERFACE_KEYS : PEER_KEYS
    if (!allowed.has(key))
      fail(
        n,
        `unknown key ${content.slice(0, eq).trim()} in [${section === 'interface' ? 'Interface' : 'Peer'}]`,
      )
    const existing = target.get(key)
    if (existing !== undefined && !REPEATABLE.has(key)) fail(n, `repeated key ${content.slice(0, eq).trim()}`)
    const list = (
      REPEATABLE.has(key) && !key.startsWith('pre') && !key.startsWith('post')
        ? value.split(',').map((v) => v.trim())
        : [value]
    ).filter((v) => v !== '')
    target.set(key, [...(existing ?? []), ...list])
    // Validate as we go so the error names the line.
    for (const v of list) {
      const ok =
        key === 'privatekey'
          ? isWireGuardKey(v) || (options.allowPlaceholder === true && PLACEHOLDER_GRAMMAR.test(v))
          : key === 'publickey'
            ? isPublicKey(v)
            : key === 'presharedkey'
              ? isWireGuardKey(v)
              : key === 'allowedips'
                ? canonicalCidr(v) !== null
                : key === 'address'
                  ? isInterfaceAddress(v)
                  : key === 'dns'
                    ? parseIp(v) !== null || isHostname(v)
                    : key === 'endpoint'
                      ? isEndpoint(v)
                      : key === 'listenport' || key === 'mtu' || key === 'persistentkeepalive'
                        ? /^\d{1,5}$/.test(v) && Number(v) <= 65535
                        : true
      if (!ok) fail(n, `invalid value for ${content.slice(0, eq).trim()}`)
    }
  })
  if (iface === null) throw new KeygateError('CONFIG_INVALID', 'no [Interface] section')
  const ifaceMap: Map<string, string[]> = iface
  const one = (map: Map<string, string[]>, key: string): string | null => map.get(key)?.[0] ?? null
  const privateKey = one(ifaceMap, 'privatekey')
  if (privateKey === null) throw new KeygateError('CONFIG_INVALID', '[Interface] has no PrivateKey')
  const extra: Record<string, string[]> = {}
  for (const [key, values] of ifaceMap) {
    if (WG_QUICK_ONLY.has(key) && key !== 'address' && key !== 'dns' && key !== 'mtu') extra[key] = values
  }
  const num = (v: string | null): number | null => (v === null ? null : Number(v))
  return {
    interface: {
      privateKey,
      addresses: ifaceMap.get('address') ?? [],
      dns: ifaceMap.get('dns') ?? [],
      listenPort: num(one(ifaceMap, 'listenport')),
      mtu: num(one(ifaceMap, 'mtu')),
      extra,
    },
    peers: peers.map((peer, index) => {
      const publicKey = one(peer, 'publickey')
      if (publicKey === null) throw new KeygateError('CONFIG_INVALID', `[Peer] ${index + 1} has no PublicKey`)
      return {
        publicKey,
        presharedKey: one(peer, 'presharedkey'),
        endpoint: one(peer, 'endpoint'),
        allowedIps: (peer.get('allowedips') ?? []).map((v) => canonicalCidr(v)!),
        persistentKeepalive: num(one(peer, 'persistentkeepalive')),
      }
    }),
    comments,
  }
}

function isPublicKey(text: string): boolean {
  try {
    parseWireGuardPublicKey(text)
    return true
  } catch {
    return false
  }
}
