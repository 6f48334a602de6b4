/**
 * The overlay address pool: which host offsets of the policy's `network` Keygate may hand out, and the
 * mapping between an offset and the IPv4 / IPv6 addresses it stands for.
 *
 * One offset names one peer on both families: IPv4 = network + offset and, when an IPv6 prefix is set,
 * IPv6 = prefix + the same offset. Storage allocates offsets (it holds the cursor and the allocations);
 * this module only says what the offsets mean, so the rules live in one pure place.
 *
 * Reserved offsets, never handed out:
 * - 0, the network address;
 * - 1, the first host: by convention the router's address, which admins often give by hand to something
 *   on the overlay (a resolver, a jump host). Keeping it out means no user lease ever collides with it;
 * - the last offset of the IPv4 network, the broadcast address.
 * So a /24 gives 253 addresses, a /29 gives 5 and a /16 gives 65,533. An optional `size` caps the pool
 * below that (tests, staged roll-outs); it never widens it.
 */
import { KeygateError } from '../errors.ts'
import type { AddressPool } from '../ports.ts'
import {
  formatIp,
  type ParsedCidr,
  parseCidr,
  ipToBigInt as toBigInt,
  ipFromBigInt as toBytes,
} from './ip-syntax.ts'

/** The first offset Keygate hands out (0 is the network address, 1 is reserved; see the header). */
export const FIRST_POOL_OFFSET = 2

export interface PoolPlan {
  /** Canonical IPv4 prefix; storage keys the pool's cursor and allocations on it. */
  key: string
  ipv4: ParsedCidr
  ipv6: ParsedCidr | null
  firstOffset: number
  /** Inclusive. */
  lastOffset: number
  /** Usable offsets: lastOffset - firstOffset + 1. */
  size: number
}

function hostBits(cidr: ParsedCidr): number {
  return (cidr.family === 4 ? 32 : 128) - cidr.prefix
}

function parseFamily(text: string, family: 4 | 6, field: string): ParsedCidr {
  const cidr = parseCidr(text, { requirePrefix: true })
  if (cidr === null || cidr.family !== family) {
    throw new KeygateError(
      'CONFIG_INVALID',
      `network.${field} must be an IPv${family} prefix such as ${
        family === 4 ? '100.96.0.0/16' : 'fd7a:115c:a1e0::/64'
      }, got "${text}"`,
    )
  }
  return cidr
}

/** Validates a pool and works out its usable offsets. Throws CONFIG_INVALID when it has none. */
export function planPool(pool: AddressPool): PoolPlan {
  const ipv4 = parseFamily(pool.ipv4, 4, 'ipv4')
  const ipv6 = pool.ipv6 === null ? null : parseFamily(pool.ipv6, 6, 'ipv6')
  // The broadcast address is the last IPv4 offset; an IPv6 prefix smaller than the IPv4 network caps the
  // pool at its own last offset, since both families share offsets.
  let last = (1n << BigInt(hostBits(ipv4))) - 2n
  if (ipv6 !== null) {
    const v6Last = (1n << BigInt(hostBits(ipv6))) - 1n
    if (v6Last < last) last = v6Last
  }
  const natural = last - BigInt(FIRST_POOL_OFFSET) + 1n
  if (natural < 1n) {
    throw new KeygateError('CONFIG_INVALID', `network ${formatCidrText(ipv4)} has no usable address`)
  }
  let size = Number(natural)
  if (pool.size !== undefined) {
    if (!Number.isSafeInteger(pool.size) || pool.size < 1) {
      throw new KeygateError('CONFIG_INVALID', `network size must be a positive integer, got ${pool.size}`)
    }
    size = Math.min(size, pool.size)
  }
  return {
    key: formatCidrText(ipv4),
    ipv4,
    ipv6,
    firstOffset: FIRST_POOL_OFFSET,
    lastOffset: FIRST_POOL_OFFSET + size - 1,
    size,
  }
}

function formatCidrText(cidr: ParsedCidr): string {
  return `${formatIp(cidr.bytes)}/${cidr.prefix}`
}

/** The canonical prefix text of a plan's IPv6 network, or null. */
export function ipv6PrefixText(plan: PoolPlan): string | null {
  return plan.ipv6 === null ? null : formatCidrText(plan.ipv6)
}

/** The address at `offset` inside `cidr` (no range check against a plan; see `addressesAt`). */
export function addressAtOffset(cidr: ParsedCidr, offset: number): string {
  const length = cidr.family === 4 ? 4 : 16
  if (!Number.isSafeInteger(offset) || offset < 0 || BigInt(offset) >= 1n << BigInt(hostBits(cidr))) {
    throw new KeygateError('INTERNAL', `offset ${offset} is outside ${formatCidrText(cidr)}`)
  }
  return formatIp(toBytes(toBigInt(cidr.bytes) + BigInt(offset), length))
}

/** The IPv4 and (when the pool has one) IPv6 address of a usable offset. */
export function addressesAt(plan: PoolPlan, offset: number): { ipv4: string; ipv6: string | null } {
  if (offset < plan.firstOffset || offset > plan.lastOffset) {
    throw new KeygateError('INTERNAL', `offset ${offset} is outside the usable range of ${plan.key}`)
  }
  return {
    ipv4: addressAtOffset(plan.ipv4, offset),
    ipv6: plan.ipv6 === null ? null : addressAtOffset(plan.ipv6, offset),
  }
}

/** The offset of an address inside `cidr`, or null when the address is not in it (or not an address). */
export function offsetOfAddress(cidr: ParsedCidr, address: string): number | null {
  const parsed = parseCidr(address)
  if (parsed === null || parsed.family !== cidr.family || parsed.prefix !== (cidr.family === 4 ? 32 : 128)) {
    return null
  }
  const offset = toBigInt(parsed.bytes) - toBigInt(cidr.bytes)
  if (offset < 0n || offset >= 1n << BigInt(hostBits(cidr))) return null
  return offset > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(offset)
}
