import { describe, expect, it } from 'vitest'
import { canonicalCidr, isEndpoint, isHostname } from '../../../src/core/peers/ip-syntax.ts'

describe('ip syntax', () => {
  it.each([
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['10.1.2.3', '10.1.2.3/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['FD7A:115C:A1E0:0:0:0:0:5/128', 'fd7a:115c:a1e0::5/128'],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ['::/0', '::/0'],
    ['::ffff:192.0.2.1/128', '::ffff:c000:201/128'],
  ])('canonicalises %s', (input, expected) => {
    expect(canonicalCidr(input)).toBe(expected)
  })

  it.each([
    '10.0.0.0/33',
    '010.0.0.1/32',
    '10.0.0.1.5/32',
    '10..0.1/32',
    '10.0.0.256/8',
    '10.0.0/8',
    '1::2::3/64',
    '10.0.0.0/08',
    ' 10.0.0.0/8',
    '10.0.0.0/8\n',
    'fe80::1%eth0/64',
  ])('rejects %j', (input) => {
    expect(canonicalCidr(input)).toBeNull()
  })

  it('checks endpoints and host names', () => {
    expect(isEndpoint('vpn.example.com:51820')).toBe(true)
    expect(isEndpoint('198.18.0.1:1')).toBe(true)
    expect(isEndpoint('[fd00::1]:51820')).toBe(true)
    expect(isEndpoint('fd00::1:51820')).toBe(false)
    expect(isEndpoint('vpn.example.com:65536')).toBe(false)
    expect(isEndpoint('vpn example.com:1')).toBe(false)
    expect(isHostname('-bad.example')).toBe(false)
    expect(isHostname('1.2.3')).toBe(false)
  })
})
