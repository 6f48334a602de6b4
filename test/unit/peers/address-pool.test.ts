import { describe, expect, it } from 'vitest'
import { isKeygateError } from '../../../src/core/errors.ts'
import {
  addressAtOffset,
  addressesAt,
  FIRST_POOL_OFFSET,
  ipv6PrefixText,
  offsetOfAddress,
  planPool,
} from '../../../src/core/peers/address-pool.ts'
import { thrownBy } from '../../support/refusal.ts'

describe('planPool', () => {
  it('skips the network address, the reserved first host and the broadcast address', () => {
    const plan = planPool({ ipv4: '10.0.0.0/24', ipv6: null })
    expect(plan.key).toBe('10.0.0.0/24')
    expect(plan.firstOffset).toBe(FIRST_POOL_OFFSET)
    expect(plan.lastOffset).toBe(254)
    expect(plan.size).toBe(253)
    expect(addressesAt(plan, plan.firstOffset).ipv4).toBe('10.0.0.2')
    expect(addressesAt(plan, plan.lastOffset).ipv4).toBe('10.0.0.254')
  })

  it('sizes the common prefixes', () => {
    expect(planPool({ ipv4: '100.96.0.0/16', ipv6: 'fd7a:115c:a1e0::/64' }).size).toBe(65_533)
    expect(planPool({ ipv4: '10.0.0.0/29', ipv6: null }).size).toBe(5)
    expect(planPool({ ipv4: '10.0.0.0/30', ipv6: null }).size).toBe(1)
  })

  it('caps the pool with an explicit size but never widens it', () => {
    expect(planPool({ ipv4: '10.0.0.0/24', ipv6: null, size: 4 })).toMatchObject({ size: 4, lastOffset: 5 })
    expect(planPool({ ipv4: '10.0.0.0/29', ipv6: null, size: 100 }).size).toBe(5)
  })

  it('caps the pool at a small IPv6 prefix, since both families share offsets', () => {
    const plan = planPool({ ipv4: '10.0.0.0/16', ipv6: 'fd00::/120' })
    expect(plan.lastOffset).toBe(255)
    expect(addressesAt(plan, 255)).toEqual({ ipv4: '10.0.0.255', ipv6: 'fd00::ff' })
  })

  it('canonicalises the prefixes', () => {
    const plan = planPool({ ipv4: '100.96.7.9/16', ipv6: 'FD7A:115C:A1E0:0:0:0:0:0/64' })
    expect(plan.key).toBe('100.96.0.0/16')
    expect(ipv6PrefixText(plan)).toBe('fd7a:115c:a1e0::/64')
  })

  it.each([
    [{ ipv4: 'fd00::/64', ipv6: null }],
    [{ ipv4: '10.0.0.0/33', ipv6: null }],
    [{ ipv4: '10.0.0.0', ipv6: null }],
    [{ ipv4: '10.0.0.0/31', ipv6: null }],
    [{ ipv4: '10.0.0.0/24', ipv6: '10.1.0.0/16' }],
    [{ ipv4: '10.0.0.0/24', ipv6: null, size: 0 }],
    [{ ipv4: '10.0.0.0/24', ipv6: null, size: 1.5 }],
  ])('refuses %j with CONFIG_INVALID', (pool) => {
    expect(() => planPool(pool)).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }))
  })
})

describe('offsets and addresses', () => {
  const plan = planPool({ ipv4: '100.96.0.0/16', ipv6: 'fd7a:115c:a1e0::/64' })

  it('gives IPv6 the same offset as IPv4', () => {
    expect(addressesAt(plan, 2)).toEqual({ ipv4: '100.96.0.2', ipv6: 'fd7a:115c:a1e0::2' })
    expect(addressesAt(plan, 258)).toEqual({ ipv4: '100.96.1.2', ipv6: 'fd7a:115c:a1e0::102' })
    expect(addressesAt(plan, 65_534)).toEqual({ ipv4: '100.96.255.254', ipv6: 'fd7a:115c:a1e0::fffe' })
  })

  it('round-trips offsets through addresses', () => {
    for (const offset of [2, 3, 255, 256, 4097, 65_534]) {
      const { ipv4, ipv6 } = addressesAt(plan, offset)
      expect(offsetOfAddress(plan.ipv4, ipv4)).toBe(offset)
      expect(offsetOfAddress(plan.ipv6!, ipv6!)).toBe(offset)
    }
  })

  it('says null for addresses outside the prefix or of the other family', () => {
    expect(offsetOfAddress(plan.ipv4, '100.97.0.1')).toBeNull()
    expect(offsetOfAddress(plan.ipv4, 'fd7a:115c:a1e0::2')).toBeNull()
    expect(offsetOfAddress(plan.ipv4, 'not an address')).toBeNull()
  })

  it('refuses offsets outside the usable range', () => {
    for (const offset of [0, 1, 65_535, -1]) {
      expect(() => addressesAt(plan, offset)).toThrow()
    }
    let error: unknown
    try {
      addressAtOffset(plan.ipv4, 65_536)
    } catch (caught) {
      error = caught
    }
    expect(isKeygateError(error, 'INTERNAL')).toBe(true)
  })
})

describe('planPool, exactly', () => {
  it('plans a pool whole', () => {
    expect(planPool({ ipv4: '10.0.0.7/29', ipv6: 'fd00::9/126', size: 2 })).toEqual({
      key: '10.0.0.0/29',
      ipv4: { family: 4, bytes: new Uint8Array([10, 0, 0, 0]), prefix: 29 },
      ipv6: { family: 6, bytes: new Uint8Array([0xfd, ...new Array(14).fill(0), 8]), prefix: 126 },
      firstOffset: 2,
      lastOffset: 3,
      size: 2,
    })
  })

  it('caps at the IPv6 prefix only when it is the smaller', () => {
    // A /126 has offsets 0-3, all usable on IPv6 (no broadcast there): offsets 2 and 3.
    expect(planPool({ ipv4: '10.0.0.0/24', ipv6: 'fd00::/126' })).toMatchObject({ lastOffset: 3, size: 2 })
    // A /30 and a /126 are the same size, and the IPv4 broadcast still comes off.
    expect(planPool({ ipv4: '10.0.0.0/30', ipv6: 'fd00::/126' })).toMatchObject({ lastOffset: 2, size: 1 })
    expect(planPool({ ipv4: '10.0.0.0/24', ipv6: 'fd00::/64' })).toMatchObject({ lastOffset: 254, size: 253 })
    expect(planPool({ ipv4: '10.0.0.0/24', ipv6: null }).ipv6).toBeNull()
    expect(ipv6PrefixText(planPool({ ipv4: '10.0.0.0/24', ipv6: null }))).toBeNull()
  })

  it('takes an explicit size of exactly one, or of exactly the whole pool', () => {
    expect(planPool({ ipv4: '10.0.0.0/24', ipv6: null, size: 1 })).toMatchObject({ lastOffset: 2, size: 1 })
    expect(planPool({ ipv4: '10.0.0.0/24', ipv6: null, size: 253 })).toMatchObject({
      lastOffset: 254,
      size: 253,
    })
  })

  it.each([
    [
      { ipv4: 'fd00::/64', ipv6: null },
      'network.ipv4 must be an IPv4 prefix such as 100.96.0.0/16, got "fd00::/64"',
    ],
    [
      { ipv4: '10.0.0.0', ipv6: null },
      'network.ipv4 must be an IPv4 prefix such as 100.96.0.0/16, got "10.0.0.0"',
    ],
    [
      { ipv4: '10.0.0.0/24', ipv6: '10.1.0.0/16' },
      'network.ipv6 must be an IPv6 prefix such as fd7a:115c:a1e0::/64, got "10.1.0.0/16"',
    ],
    [
      { ipv4: '10.0.0.0/24', ipv6: 'fd00::' },
      'network.ipv6 must be an IPv6 prefix such as fd7a:115c:a1e0::/64, got "fd00::"',
    ],
    [{ ipv4: '10.0.0.9/31', ipv6: null }, 'network 10.0.0.8/31 has no usable address'],
    [{ ipv4: '10.0.0.9/32', ipv6: null }, 'network 10.0.0.9/32 has no usable address'],
    [{ ipv4: '10.0.0.0/24', ipv6: 'fd00::/127' }, 'network 10.0.0.0/24 has no usable address'],
    [{ ipv4: '10.0.0.0/24', ipv6: null, size: 0 }, 'network size must be a positive integer, got 0'],
    [{ ipv4: '10.0.0.0/24', ipv6: null, size: -3 }, 'network size must be a positive integer, got -3'],
    [{ ipv4: '10.0.0.0/24', ipv6: null, size: 2.5 }, 'network size must be a positive integer, got 2.5'],
    [
      { ipv4: '10.0.0.0/24', ipv6: null, size: 2 ** 53 },
      'network size must be a positive integer, got 9007199254740992',
    ],
  ])('refuses %j: %s', (pool, message) => {
    expect(thrownBy(() => planPool(pool))).toEqual({ code: 'CONFIG_INVALID', message })
  })
})

describe('offsets and addresses, at their bounds', () => {
  const plan = planPool({ ipv4: '10.0.0.0/24', ipv6: 'fd00::/120' })

  it('maps every offset of the prefix, and no other', () => {
    expect(addressAtOffset(plan.ipv4, 0)).toBe('10.0.0.0')
    expect(addressAtOffset(plan.ipv4, 255)).toBe('10.0.0.255')
    expect(addressAtOffset(plan.ipv6!, 255)).toBe('fd00::ff')
    expect(thrownBy(() => addressAtOffset(plan.ipv4, 256))).toEqual({
      code: 'INTERNAL',
      message: 'offset 256 is outside 10.0.0.0/24',
    })
    expect(thrownBy(() => addressAtOffset(plan.ipv6!, 256))).toEqual({
      code: 'INTERNAL',
      message: 'offset 256 is outside fd00::/120',
    })
    expect(thrownBy(() => addressAtOffset(plan.ipv4, -1))?.message).toBe('offset -1 is outside 10.0.0.0/24')
    expect(thrownBy(() => addressAtOffset(plan.ipv4, 1.5))?.message).toBe('offset 1.5 is outside 10.0.0.0/24')
  })

  it('hands out only the usable range', () => {
    expect(addressesAt(plan, 2)).toEqual({ ipv4: '10.0.0.2', ipv6: 'fd00::2' })
    expect(addressesAt(plan, 254)).toEqual({ ipv4: '10.0.0.254', ipv6: 'fd00::fe' })
    expect(addressesAt(planPool({ ipv4: '10.0.0.0/24', ipv6: null }), 2)).toEqual({
      ipv4: '10.0.0.2',
      ipv6: null,
    })
    expect(thrownBy(() => addressesAt(plan, 1))).toEqual({
      code: 'INTERNAL',
      message: 'offset 1 is outside the usable range of 10.0.0.0/24',
    })
    expect(thrownBy(() => addressesAt(plan, 255))?.message).toBe(
      'offset 255 is outside the usable range of 10.0.0.0/24',
    )
  })

  it('finds the offset of any address of the prefix, and null outside it', () => {
    const v4 = planPool({ ipv4: '100.96.0.0/16', ipv6: null }).ipv4
    expect(offsetOfAddress(v4, '100.96.0.0')).toBe(0)
    expect(offsetOfAddress(v4, '100.96.255.255')).toBe(65_535)
    expect(offsetOfAddress(v4, '100.96.1.2/32')).toBe(258)
    expect(offsetOfAddress(v4, '100.96.1.2/24')).toBeNull()
    expect(offsetOfAddress(v4, '100.95.255.255')).toBeNull()
    expect(offsetOfAddress(v4, '100.97.0.0')).toBeNull()
    const v6 = planPool({ ipv4: '10.0.0.0/8', ipv6: 'fd7a:115c:a1e0::/64' }).ipv6!
    expect(offsetOfAddress(v6, 'fd7a:115c:a1e0::1:0')).toBe(65_536)
    expect(offsetOfAddress(v6, 'fd7a:115c:a1e0::1/64')).toBeNull()
    expect(offsetOfAddress(v6, '10.0.0.1')).toBeNull()
    // Past Number.MAX_SAFE_INTEGER an offset could not be handed out exactly: none.
    expect(offsetOfAddress(v6, 'fd7a:115c:a1e0:0:1f:ffff:ffff:ffff')).toBe(Number.MAX_SAFE_INTEGER)
    expect(offsetOfAddress(v6, 'fd7a:115c:a1e0:0:20::')).toBeNull()
    expect(offsetOfAddress(v6, 'fd7a:115c:a1e0:1::')).toBeNull()
  })
})
