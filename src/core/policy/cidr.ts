/**
 * IP addresses, CIDR prefixes and endpoints as the policy names them, and whether two prefixes overlap.
 *
 * Addresses are held as bigints so IPv4 and IPv6 share one arithmetic. Only canonical prefixes (no host
 * bits set) are accepted: `10.10.1.0/16` is almost always a typo, and the hint names the canonical form.
 */

export type IpFamily = 4 | 6

export interface IpAddress {
  family: IpFamily
  value: bigint
}

export interface Cidr {
  family: IpFamily
  /** The network address. */
  base: bigint
  prefix: number
  /** Canonical text, e.g. `10.10.0.0/16`. */
  text: string
}

export type CidrParse = { ok: true; cidr: Cidr } | { ok: false; message: string; hint: string }

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 }

export function parseIpv4(text: string): bigint | null {
  const parts = text.split('.')
  if (parts.length !== 4) return null
  let value = 0n
  for (const part of parts) {
    // Leading zeros are refused: some tools read them as octal.
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null
    const n = Number(part)
    if (n > 255) return null
    value = (value << 8n) | BigInt(n)
  }
  return value
}

export function parseIpv6(text: string): bigint | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return null
  const halves = text.split('::')
  if (halves.length > 2) return null
  const groupsOf = (part: string): number[] | null => {
    if (part === '') return []
    const out: number[] = []
    const pieces = part.split(':')
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIpv4(piece)
        if (v4 === null) return null
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn))
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(piece)) {
        out.push(Number.parseInt(piece, 16))
      } else {
        return null
      }
    }
    return out
  }
  const head = groupsOf(halves[0]!)
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : []
  if (head === null || tail === null) return null
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail]
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n)
}

export function parseIp(text: string): IpAddress | null {
  const v4 = parseIpv4(text)
  if (v4 !== null) return { family: 4, value: v4 }
  const v6 = text.includes(':') ? parseIpv6(text) : null
  return v6 === null ? null : { family: 6, value: v6 }
}

export function formatIp(address: IpAddress): string {
  if (address.family === 4) {
    const v = address.value
    return [24n, 16n, 8n, 0n].map((shift) => String((v >> shift) & 0xffn)).join('.')
  }
  const groups: number[] = []
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((address.value >> shift) & 0xffffn))
  // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`
}

function mask(family: IpFamily, prefix: number): bigint {
  const bits = BITS[family]
  return ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - prefix)) - 1n)
}

export function parseCidr(text: string): CidrParse {
  const slash = text.indexOf('/')
  if (slash < 0) {
    const ip = parseIp(text)
    const hint =
      ip === null
        ? 'write an address and a prefix length, e.g. 10.10.0.0/16'
        : `write ${text}/${ip.family === 4 ? 32 : 128} for one address`
    return { ok: false, message: `"${text}" is not a CIDR prefix`, hint }
  }
  const ip = parseIp(text.slice(0, slash))
  const prefixText = text.slice(slash + 1)
  if (ip === null) {
    return {
      ok: false,
      message: `"${text}" does not start with an IP address`,
      hint: 'e.g. 10.10.0.0/16 or fd00:10::/64',
    }
  }
  const bits = BITS[ip.family]
  const prefix = /^(0|[1-9]\d{0,2})$/.test(prefixText) ? Number(prefixText) : Number.NaN
  if (!(prefix >= 0 && prefix <= bits)) {
    return {
      ok: false,
      message: `"${text}" has an invalid prefix length`,
      hint: `IPv${ip.family} prefixes are 0 to ${bits}`,
    }
  }
  const base = ip.value & mask(ip.family, prefix)
  const canonical = `${formatIp({ family: ip.family, value: base })}/${prefix}`
  if (base !== ip.value) {
    return { ok: false, message: `"${text}" has host bits set`, hint: `did you mean ${canonical}?` }
  }
  return { ok: true, cidr: { family: ip.family, base, prefix, text: canonical } }
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false
  const prefix = Math.min(a.prefix, b.prefix)
  const m = mask(a.family, prefix)
  return (a.base & m) === (b.base & m)
}

export type EndpointParse =
  | { ok: true; host: string; port: number }
  | { ok: false; message: string; hint: string }

const HOSTNAME =
  /^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

/** `host:port`, `1.2.3.4:port` or `[v6]:port`, as WireGuard's Endpoint takes it. */
export function parseEndpoint(text: string): EndpointParse {
  const hint = 'write HOST:PORT, e.g. vpn.example.com:51820 or [2001:db8::1]:51820'
  let host: string
  let portText: string
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    if (close < 0 || text[close + 1] !== ':')
      return { ok: false, message: `"${text}" is not a valid endpoint`, hint }
    host = text.slice(1, close)
    portText = text.slice(close + 2)
    if (parseIpv6(host) === null) return { ok: false, message: `"${host}" is not an IPv6 address`, hint }
  } else {
    const colon = text.lastIndexOf(':')
    if (colon < 0) return { ok: false, message: `endpoint "${text}" has no port`, hint }
    host = text.slice(0, colon)
    portText = text.slice(colon + 1)
    if (host.includes(':')) return { ok: false, message: `"${text}" looks like a bare IPv6 address`, hint }
    const looksNumeric = /^[\d.]+$/.test(host)
    if (looksNumeric ? parseIpv4(host) === null : !HOSTNAME.test(host)) {
      return { ok: false, message: `"${host}" is neither a hostname nor an IPv4 address`, hint }
    }
  }
  const port = /^[1-9]\d{0,4}$/.test(portText) ? Number(portText) : 0
  if (port < 1 || port > 65535)
    return { ok: false, message: `"${portText}" is not a port from 1 to 65535`, hint }
  return { ok: true, host, port }
}
