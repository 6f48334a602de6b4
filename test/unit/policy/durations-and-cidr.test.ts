import { describe, expect, it } from 'vitest'
import { cidrsOverlap, parseCidr, parseEndpoint, parseIp } from '../../../src/core/policy/cidr.ts'
import { formatDuration, parseDuration } from '../../../src/core/policy/durations.ts'

describe('durations', () => {
  it.each([
    ['8h', 8 * 3_600_000],
    ['15m', 15 * 60_000],
    ['90s', 90_000],
    ['1h30m', 90 * 60_000],
    ['2d', 2 * 86_400_000],
    ['1d2h3m4s', 86_400_000 + 2 * 3_600_000 + 3 * 60_000 + 4_000],
    ['0s', 0],
  ])('parses %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })

  it.each(['', '8', 'h', '30m1h', '1.5h', '-1h', '8 h', '8H', '1w'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeNull()
  })

  it.each([
    [8 * 3_600_000, '8h'],
    [90 * 60_000, '1h30m'],
    [55 * 60_000, '55m'],
    [0, '0s'],
    [86_400_000 + 1000, '1d1s'],
  ])('formats %d as %s and back', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
    expect(parseDuration(text)).toBe(ms)
  })
})

describe('CIDR prefixes', () => {
  it('parses IPv4 and IPv6 prefixes into canonical text', () => {
    expect(parseCidr('10.10.0.0/16')).toMatchObject({
      ok: true,
      cidr: { family: 4, prefix: 16, text: '10.10.0.0/16' },
    })
    expect(parseCidr('FD7A:115C:A1E0:0:0:0:0:0/64')).toMatchObject({
      ok: true,
      cidr: { family: 6, text: 'fd7a:115c:a1e0::/64' },
    })
    expect(parseCidr('::/0')).toMatchObject({ ok: true, cidr: { family: 6, prefix: 0, text: '::/0' } })
  })

  it('refuses host bits and names the canonical prefix', () => {
    expect(parseCidr('10.10.1.0/16')).toEqual({
      ok: false,
      message: '"10.10.1.0/16" has host bits set',
      hint: 'did you mean 10.10.0.0/16?',
    })
  })

  it.each([
    '10.10.0.0',
    '10.10.0.0/33',
    '256.0.0.0/8',
    '010.0.0.0/8',
    'fd00::/129',
    'fd00:::1/64',
    'eu-1/24',
    '10.0.0.0/-1',
  ])('refuses %s', (text) => {
    expect(parseCidr(text).ok).toBe(false)
  })

  it('suggests /32 for a bare address', () => {
    expect(parseCidr('10.0.0.1')).toMatchObject({ ok: false, hint: 'write 10.0.0.1/32 for one address' })
  })

  it('parses IPv6 with embedded IPv4 and compressed zeros', () => {
    expect(parseIp('::ffff:10.0.0.1')).toEqual({ family: 6, value: 0xffff0a000001n })
    expect(parseIp('2001:db8::1')?.value).toBe(0x20010db8000000000000000000000001n)
    expect(parseIp('1:2:3:4:5:6:7:8::')).toBeNull()
  })

  it('detects overlap only within a family', () => {
    const c = (t: string) => {
      const r = parseCidr(t)
      if (!r.ok) throw new Error(t)
      return r.cidr
    }
    expect(cidrsOverlap(c('100.96.0.0/16'), c('100.96.5.0/24'))).toBe(true)
    expect(cidrsOverlap(c('100.96.5.0/24'), c('100.96.0.0/16'))).toBe(true)
    expect(cidrsOverlap(c('100.96.0.0/16'), c('100.97.0.0/16'))).toBe(false)
    expect(cidrsOverlap(c('0.0.0.0/0'), c('10.0.0.0/8'))).toBe(true)
    expect(cidrsOverlap(c('fd7a:115c:a1e0::/64'), c('fd7a:115c:a1e0:0:1::/80'))).toBe(true)
    expect(cidrsOverlap(c('fd7a:115c:a1e0::/64'), c('fd7a:115c:a1e1::/64'))).toBe(false)
    expect(cidrsOverlap(c('0.0.0.0/0'), c('::/0'))).toBe(false)
  })
})

describe('endpoints', () => {
  it.each([
    ['vpn.example.com:51820', 'vpn.example.com', 51820],
    ['127.0.0.1:51821', '127.0.0.1', 51821],
    ['[2001:db8::1]:51820', '2001:db8::1', 51820],
  ])('parses %s', (text, host, port) => {
    expect(parseEndpoint(text)).toEqual({ ok: true, host, port })
  })

  it.each([
    'vpn.example.com',
    'vpn.example.com:0',
    'vpn.example.com:70000',
    '2001:db8::1:51820',
    '300.1.1.1:51820',
    'bad_host:1',
    '[::1:51820',
  ])('refuses %s', (text) => {
    expect(parseEndpoint(text).ok).toBe(false)
  })
})

describe('CIDR prefixes and endpoints, each refusal exactly', () => {
  it.each([
    ['10.0.0.1', '"10.0.0.1" is not a CIDR prefix', 'write 10.0.0.1/32 for one address'],
    ['fd00::1', '"fd00::1" is not a CIDR prefix', 'write fd00::1/128 for one address'],
    ['eu-1/24', '"eu-1/24" does not start with an IP address', 'e.g. 10.10.0.0/16 or fd00:10::/64'],
    ['/8', '"/8" does not start with an IP address', 'e.g. 10.10.0.0/16 or fd00:10::/64'],
    ['10.10.0.0/33', '"10.10.0.0/33" has an invalid prefix length', 'IPv4 prefixes are 0 to 32'],
    ['fd00::/129', '"fd00::/129" has an invalid prefix length', 'IPv6 prefixes are 0 to 128'],
    // Number() would read these as 8; the prefix must be the digits alone.
    ['10.0.0.0/ 8', '"10.0.0.0/ 8" has an invalid prefix length', 'IPv4 prefixes are 0 to 32'],
    ['10.0.0.0/8 ', '"10.0.0.0/8 " has an invalid prefix length', 'IPv4 prefixes are 0 to 32'],
  ])('refuses the prefix %j', (text, message, hint) => {
    expect(parseCidr(text)).toEqual({ ok: false, message, hint })
  })

  it('takes the longest prefix of each family', () => {
    expect(parseCidr('10.0.0.1/32')).toMatchObject({ ok: true, cidr: { prefix: 32, text: '10.0.0.1/32' } })
    expect(parseCidr('fd00::1/128')).toMatchObject({ ok: true, cidr: { prefix: 128, text: 'fd00::1/128' } })
  })

  const HINT = 'write HOST:PORT, e.g. vpn.example.com:51820 or [2001:db8::1]:51820'
  it.each([
    ['[::1:51820', '"[::1:51820" is not a valid endpoint'],
    ['[::1]51820', '"[::1]51820" is not a valid endpoint'],
    ['[fd00::zz]:51820', '"fd00::zz" is not an IPv6 address'],
    ['vpn.example.com', 'endpoint "vpn.example.com" has no port'],
    [':51820', '"" is neither a hostname nor an IPv4 address'],
    ['2001:db8::1:51820', '"2001:db8::1:51820" looks like a bare IPv6 address'],
    ['300.1.1.1:51820', '"300.1.1.1" is neither a hostname nor an IPv4 address'],
    ['vpn.example.com:0', '"0" is not a port from 1 to 65535'],
    ['vpn.example.com:65536', '"65536" is not a port from 1 to 65535'],
    // Number() would read " 1" as 1 and "x1" as NaN: the port must be the digits alone.
    ['vpn.example.com: 1', '" 1" is not a port from 1 to 65535'],
    ['vpn.example.com:x1', '"x1" is not a port from 1 to 65535'],
    ['vpn.example.com:1x', '"1x" is not a port from 1 to 65535'],
  ])('refuses the endpoint %j', (text, message) => {
    expect(parseEndpoint(text)).toEqual({ ok: false, message, hint: HINT })
  })

  it('reads a host of digits and dots as an address, and anything else as a hostname', () => {
    expect(parseEndpoint('vpn.example.com:65535')).toEqual({ ok: true, host: 'vpn.example.com', port: 65535 })
    // Letters make it a hostname, even around digits: these are names a resolver may answer.
    expect(parseEndpoint('a1.2.3.4:51820')).toEqual({ ok: true, host: 'a1.2.3.4', port: 51820 })
    expect(parseEndpoint('1.2.3.4a:51820')).toEqual({ ok: true, host: '1.2.3.4a', port: 51820 })
  })
})
