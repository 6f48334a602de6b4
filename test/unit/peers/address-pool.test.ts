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
