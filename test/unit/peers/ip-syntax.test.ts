import { describe, expect, it } from 'vitest'
import {
  canonicalCidr,
  cidrContains,
  cidrsIntersect,
  formatIp,
  ipFromBigInt,
  ipToBigInt,
  isEndpoint,
  isHostname,
  isInterfaceAddress,
  parseCidr,
  parseIp,
  parseIpv4,
  parseIpv6,
} from '../../../src/core/peers/ip-syntax.ts'

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

describe('IPv4', () => {
  it.each([
    ['1.2.3.4', [1, 2, 3, 4]],
    ['0.0.0.0', [0, 0, 0, 0]],
    ['255.255.255.255', [255, 255, 255, 255]],
    ['10.0.100.9', [10, 0, 100, 9]],
  ])('reads %s', (text, bytes) => {
    expect(parseIpv4(text)).toEqual(new Uint8Array(bytes))
  })

  it.each([
    '1.2.3',
    '11.22.333',
    '10.20.30',
    '100.200.1',
    '1.2.3.',
    '.1.2.3',
    '1.2.3.4.',
    '1.2.3.4.5',
    '00.1.2.3',
    '1.2.3.04',
    '1234.1.1',
    '256.1.1.1',
    '1.2.3.a',
    '1.2.3.4 ',
    '255.255.255.2550',
  ])('refuses %j', (text) => {
    expect(parseIpv4(text)).toBeNull()
  })
})

describe('IPv6', () => {
  const groups = (...g: number[]) => {
    const bytes = new Uint8Array(16)
    g.forEach((v, i) => {
      bytes[i * 2] = v >> 8
      bytes[i * 2 + 1] = v & 255
    })
    return bytes
  }

  it.each([
    ['::', groups()],
    ['::1', groups(0, 0, 0, 0, 0, 0, 0, 1)],
    ['1::', groups(1)],
    ['1:2:3:4:5:6:7:8', groups(1, 2, 3, 4, 5, 6, 7, 8)],
    ['1:2:3:4:5:6::8', groups(1, 2, 3, 4, 5, 6, 0, 8)],
    ['1:2:3:4:5:6:7::', groups(1, 2, 3, 4, 5, 6, 7, 0)],
    ['::2:3:4:5:6:7:8', groups(0, 2, 3, 4, 5, 6, 7, 8)],
    ['FFFF::abcd', groups(0xffff, 0, 0, 0, 0, 0, 0, 0xabcd)],
    ['::ffff:1.2.3.4', groups(0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304)],
    ['0000:0000:0000:0000:0000:ffff:255.255.255.255', groups(0, 0, 0, 0, 0, 0xffff, 0xffff, 0xffff)],
  ])('reads %s', (text, bytes) => {
    expect(parseIpv6(text)).toEqual(bytes)
  })

  it.each([
    ':',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1::2:3:4:5:6:7:8',
    '1::2::3',
    '1:2:3:4:5:6:7:8::1::2',
    ':1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:',
    '12345::',
    'g::',
    '::1.2.3.4:5',
    '::1.2.3.256',
    '1.2.3.4',
    '00000:0000:0000:0000:0000:ffff:255.255.255.255',
  ])('refuses %j', (text) => {
    expect(parseIpv6(text)).toBeNull()
  })

  it.each([
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['abcd:ef01:2345:6789:abcd:ef01:2345:6789', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789'],
    ['0:1:0:0:1:0:0:0', '0:1:0:0:1::'],
  ])('writes %s as %s (RFC 5952)', (text, expected) => {
    expect(formatIp(parseIpv6(text)!)).toBe(expected)
  })

  it('writes IPv4 as a dotted quad and parses back through parseIp', () => {
    expect(formatIp(new Uint8Array([192, 0, 2, 255]))).toBe('192.0.2.255')
    expect(parseIp('192.0.2.1')).toEqual({ family: 4, bytes: new Uint8Array([192, 0, 2, 1]) })
    expect(parseIp('::2')).toEqual({ family: 6, bytes: groups(0, 0, 0, 0, 0, 0, 0, 2) })
    expect(parseIp('nope')).toBeNull()
  })
})

describe('prefixes', () => {
  it.each([
    ['255.255.255.255/1', '128.0.0.0/1'],
    ['255.255.255.255/31', '255.255.255.254/31'],
    ['255.255.255.255/0', '0.0.0.0/0'],
    ['255.255.255.255/32', '255.255.255.255/32'],
    ['10.255.0.0/9', '10.128.0.0/9'],
    ['ffff:ffff::/17', 'ffff:8000::/17'],
    ['fd00::1/128', 'fd00::1/128'],
    ['fd00::1', 'fd00::1/128'],
  ])('clears the host bits of %s', (text, expected) => {
    expect(canonicalCidr(text)).toBe(expected)
  })

  it.each(['10.0.0.0/', '/8', '10.0.0.0/8/8', 'fd00::/129', '10.0.0.0/1000', '10.0.0.0/-1', '10.0.0.0/ 8'])(
    'refuses %j',
    (text) => {
      expect(canonicalCidr(text)).toBeNull()
    },
  )

  it('can require the prefix length', () => {
    expect(parseCidr('10.0.0.1', { requirePrefix: true })).toBeNull()
    expect(parseCidr('10.0.0.1/32', { requirePrefix: true })).toEqual({
      family: 4,
      bytes: new Uint8Array([10, 0, 0, 1]),
      prefix: 32,
    })
    expect(parseCidr('10.0.0.1', { requirePrefix: false })?.prefix).toBe(32)
  })

  it.each([
    ['100.96.0.5/16', true],
    ['100.96.0.5', true],
    ['100.96.0.5/0', true],
    ['100.96.0.5/32', true],
    ['100.96.0.5/33', false],
    ['fd00::5/128', true],
    ['fd00::5/129', false],
    ['100.96.0.5/', false],
    ['100.96.0.5/016', false],
    ['host/16', false],
    ['100.96.0.5/16\n', false],
  ])('an interface address %j is valid: %s', (text, ok) => {
    expect(isInterfaceAddress(text)).toBe(ok)
  })

  const cidr = (text: string) => parseCidr(text)!
  it.each([
    ['10.0.0.0/8', '10.1.0.0/16', true],
    ['10.0.0.0/8', '10.0.0.0/8', true],
    ['10.0.0.0/8', '11.0.0.0/16', false],
    ['10.1.0.0/16', '10.0.0.0/8', false],
    ['10.0.0.0/16', '10.0.0.0/8', false],
    ['10.0.0.0/9', '10.127.0.0/16', true],
    ['10.0.0.0/9', '10.128.0.0/16', false],
    ['10.0.0.0/12', '10.15.0.0/16', true],
    ['10.0.0.0/12', '10.16.0.0/16', false],
    ['0.0.0.0/0', '192.0.2.1/32', true],
    ['::/0', '10.0.0.0/8', false],
    ['fd00::/64', 'fd00::1/128', true],
  ])('%s contains %s: %s', (outer, inner, expected) => {
    expect(cidrContains(cidr(outer), cidr(inner))).toBe(expected)
  })

  it.each([
    ['10.0.0.0/8', '10.1.0.0/16', true],
    ['10.1.0.0/16', '10.0.0.0/8', true],
    ['10.0.0.0/9', '10.128.0.0/9', false],
    ['10.0.0.0/9', '10.127.255.0/24', true],
    ['10.0.0.0/8', '11.0.0.0/8', false],
    ['0.0.0.0/0', '::/0', false],
  ])('%s and %s intersect: %s', (a, b, expected) => {
    expect(cidrsIntersect(cidr(a), cidr(b))).toBe(expected)
  })

  it('turns addresses into numbers and back', () => {
    expect(ipToBigInt(new Uint8Array([1, 2, 3, 4]))).toBe(0x01020304n)
    expect(ipFromBigInt(0x01020304n, 4)).toEqual(new Uint8Array([1, 2, 3, 4]))
    expect(ipFromBigInt(1n, 16)).toEqual(new Uint8Array([...new Array(15).fill(0), 1]))
  })
})

describe('host names and endpoints', () => {
  it.each([
    ['vpn.example.com', true],
    ['vpn.example.com.', true],
    ['a', true],
    ['123.example', true],
    ['a-b.example', true],
    ['xn--bcher-kva.example', true],
    [`${'a'.repeat(63)}.example`, true],
    [`${'a'.repeat(64)}.example`, false],
    [`${'a.'.repeat(126)}a`, true],
    [`${'a.'.repeat(126)}ab`, false],
    ['', false],
    ['.', false],
    ['a..b', false],
    ['a-.example', false],
    ['a_b.example', false],
    ['example.123', false],
    ['example.1a', true],
    ['example.a1', true],
    ['a..', false],
    ['bad_name.example.', false],
    ['a b', false],
  ])('%j is a host name: %s', (text, ok) => {
    expect(isHostname(text)).toBe(ok)
  })

  it.each([
    ['192.0.2.1:65535', true],
    ['192.0.2.1:0', false],
    ['192.0.2.1:01', false],
    ['192.0.2.1:65536', false],
    ['192.0.2.1:123456', false],
    ['192.0.2.1:', false],
    ['[fd00::1]:1', true],
    ['[fd00::1]', false],
    ['[1::2::3]:1', false],
    ['[zz]:1', false],
    ['[192.0.2.1]:1', false],
    ['256.1.1.1:1', false],
    ['a.example:1:2', false],
    ['a_b.example:1', false],
    ['a:b.example:1', false],
    ['x[fd00::1]:1', false],
  ])('%j is an endpoint: %s', (text, ok) => {
    expect(isEndpoint(text)).toBe(ok)
  })
})
