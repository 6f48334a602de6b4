/**
 * Strict grammars for the network values that go into WireGuard configs and the gateway protocol: IP
 * addresses, CIDR prefixes, endpoints (host:port) and DNS names.
 *
 * Everything that reaches a config line or a `wg` argument passes through here, so each check is a whole
 * match on a narrow alphabet: no spaces, commas, newlines or `=` can survive. Prefixes are also brought to
 * one canonical spelling (host bits cleared, RFC 5952 IPv6), the form `wg show` prints back, so the
 * gateway's reconcile compares like with like.
 */

export type IpFamily = 4 | 6

export interface ParsedCidr {
  family: IpFamily
  /** 4 or 16 bytes, network order, host bits cleared. */
  bytes: Uint8Array
  prefix: number
}

/** Dotted quad, each part 0-255 without leading zeros (no octal look-alikes). A hand scan: this runs per peer. */
export function parseIpv4(text: string): Uint8Array | null {
  if (text.length < 7 || text.length > 15) return null
  const out = new Uint8Array(4)
  let part = 0
  let value = 0
  let digits = 0
  for (let i = 0; i <= text.length; i++) {
    const code = i === text.length ? 46 : text.charCodeAt(i)
    if (code === 46) {
      if (digits === 0 || part > 3) return null
      out[part++] = value
      value = 0
      digits = 0
    } else if (code >= 48 && code <= 57) {
      if (digits > 0 && value === 0) return null
      value = value * 10 + (code - 48)
      if (++digits > 3 || value > 255) return null
    } else {
      return null
    }
  }
  return part === 4 ? out : null
}

export function parseIpv6(text: string): Uint8Array | null {
  if (text.length < 2 || text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return null
  const halves = text.split('::')
  if (halves.length > 2) return null
  const groups = (part: string): number[] | null => {
    if (part === '') return []
    const out: number[] = []
    const pieces = part.split(':')
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIpv4(piece)
        if (v4 === null) return null
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        out.push(Number.parseInt(piece, 16))
      } else {
        return null
      }
    }
    return out
  }
  const head = groups(halves[0]!)
  const tail = halves.length === 2 ? groups(halves[1]!) : []
  if (head === null || tail === null) return null
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail]
  const bytes = new Uint8Array(16)
  all.forEach((group, i) => {
    bytes[i * 2] = group >> 8
    bytes[i * 2 + 1] = group & 255
  })
  return bytes
}

/** An address's bytes as one number, so prefixes of both families share one arithmetic. */
export function ipToBigInt(bytes: Uint8Array): bigint {
  let value = 0n
  for (const byte of bytes) value = (value << 8n) | BigInt(byte)
  return value
}

export function ipFromBigInt(value: bigint, length: number): Uint8Array {
  const bytes = new Uint8Array(length)
  let rest = value
  for (let i = length - 1; i >= 0; i--) {
    bytes[i] = Number(rest & 255n)
    rest >>= 8n
  }
  return bytes
}

export function parseIp(text: string): { family: IpFamily; bytes: Uint8Array } | null {
  const v4 = parseIpv4(text)
  if (v4 !== null) return { family: 4, bytes: v4 }
  const v6 = parseIpv6(text)
  return v6 === null ? null : { family: 6, bytes: v6 }
}

export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!)
  // RFC 5952: compress the longest run of two or more zero groups (the first one on a tie).
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

/** `ip/prefix`, or a bare address meaning a single host; null when malformed. Host bits are cleared. */
export function parseCidr(text: string, options: { requirePrefix?: boolean } = {}): ParsedCidr | null {
  const slash = text.indexOf('/')
  const address = slash < 0 ? text : text.slice(0, slash)
  const ip = parseIp(address)
  if (ip === null) return null
  const max = ip.family === 4 ? 32 : 128
  let prefix = max
  if (slash >= 0) {
    const digits = text.slice(slash + 1)
    if (!/^(0|[1-9]\d{0,2})$/.test(digits)) return null
    prefix = Number(digits)
    if (prefix > max) return null
  } else if (options.requirePrefix === true) {
    return null
  }
  const bytes = ip.bytes.slice()
  for (let bit = prefix; bit < max; bit++) bytes[bit >> 3] = bytes[bit >> 3]! & ~(128 >> (bit & 7))
  return { family: ip.family, bytes, prefix }
}

export function formatCidr(cidr: ParsedCidr): string {
  return `${formatIp(cidr.bytes)}/${cidr.prefix}`
}

/** The canonical spelling of a prefix (`10.0.0.0/8`, `fd00::/64`), or null when malformed. */
export function canonicalCidr(text: string): string | null {
  const parsed = parseCidr(text)
  return parsed === null ? null : formatCidr(parsed)
}

/** An interface address: an IP with an optional prefix, host bits kept (`100.96.0.5/16` is fine). */
export function isInterfaceAddress(text: string): boolean {
  const slash = text.indexOf('/')
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash))
  if (ip === null) return false
  if (slash < 0) return true
  const digits = text.slice(slash + 1)
  return /^(0|[1-9]\d{0,2})$/.test(digits) && Number(digits) <= (ip.family === 4 ? 32 : 128)
}

const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/

/** A DNS host name: dot-separated labels of letters, digits and inner hyphens; at most 253 characters. */
export function isHostname(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false
  const labels = (text.endsWith('.') ? text.slice(0, -1) : text).split('.')
  return labels.every((label) => LABEL.test(label)) && !/^\d+$/.test(labels[labels.length - 1]!)
}

/** `host:port` with an IPv4 address or host name, or `[ipv6]:port`; the port 1-65535. */
export function isEndpoint(text: string): boolean {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text)
  if (match === null) return false
  const port = Number(match[3])
  if (!/^[1-9]\d*$/.test(match[3]!) || port > 65535) return false
  if (match[1] !== undefined) return parseIpv6(match[1]) !== null
  const host = match[2]!
  return parseIpv4(host) !== null || isHostname(host)
}

/** True when every address of `inner` lies in `outer` (same family, `outer` no longer than `inner`). */
export function cidrContains(outer: ParsedCidr, inner: ParsedCidr): boolean {
  if (outer.family !== inner.family || outer.prefix > inner.prefix) return false
  return samePrefixBits(outer.bytes, inner.bytes, outer.prefix)
}

/** True when two prefixes share an address: for prefixes that means one contains the other. */
export function cidrsIntersect(a: ParsedCidr, b: ParsedCidr): boolean {
  return a.family === b.family && samePrefixBits(a.bytes, b.bytes, Math.min(a.prefix, b.prefix))
}

function samePrefixBits(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let i = 0; i < bits >> 3; i++) if (a[i] !== b[i]) return false
  const rest = bits & 7
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return ((a[bits >> 3]! ^ b[bits >> 3]!) & mask) === 0
}
