/**
 * IP addresses, CIDR prefixes and endpoints as the policy names them, and whether two prefixes overlap.
 *
 * The address grammar is peers/ip-syntax.ts's (one grammar for configs, the protocol and the policy);
 * here addresses are held as bigints so IPv4 and IPv6 share one arithmetic. Only canonical prefixes (no host
 * bits set) are accepted: `10.10.1.0/16` is almost always a typo, and the hint names the canonical form.
 */

import {
  formatIp as formatIpBytes,
  type IpFamily,
  ipFromBigInt,
  ipToBigInt,
  parseIp as parseIpBytes,
  parseIpv4,
  parseIpv6,
} from '../peers/ip-syntax.ts'

export type { IpFamily }

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

export function parseIp(text: string): IpAddress | null {
  const parsed = parseIpBytes(text)
  return parsed === null ? null : { family: parsed.family, value: ipToBigInt(parsed.bytes) }
}

export function formatIp(address: IpAddress): string {
  return formatIpBytes(ipFromBigInt(address.value, address.family === 4 ? 4 : 16))
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
