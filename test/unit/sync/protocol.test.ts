// The gateway protocol's readers (protocol.ts): each of a sync response, an enroll response and request, the
// sync query and a status request is read as documented, and each malformed field is refused with
// INVALID_REQUEST naming it; a version mismatch is its own code, saying which side to upgrade.
import { describe, expect, it } from 'vitest'
import { KeygateError } from '../../../src/core/errors.ts'
import {
  buildSyncResponse,
  ENROLL_PATH,
  isGatewaySecret,
  MAX_PEER_COUNT,
  PROTOCOL_VERSION,
  parseEnrollRequest,
  parseEnrollResponse,
  parseStatusRequest,
  parseSyncQuery,
  parseSyncResponse,
  STATUS_PATH,
  SYNC_PATH,
  unsupportedProtocol,
  vetUpserts,
} from '../../../src/core/sync/protocol.ts'
import { testPublicKey } from '../../support/test-public-key.ts'

const A = testPublicKey(1)
const B = testPublicKey(2)
const PSK = Buffer.alloc(32, 9).toString('base64')

function refusalOf(read: () => unknown): [string, string] {
  try {
    read()
  } catch (error) {
    if (error instanceof KeygateError) return [error.code, error.message]
    throw error
  }
  throw new Error('expected a refusal')
}

const upsert = (extra: Record<string, unknown> = {}) => ({
  publicKey: A,
  presharedKey: PSK,
  allowedIps: ['100.96.0.1/32'],
  routes: ['10.10.0.0/16'],
  expiresAt: 1_800_000_000_000,
  ...extra,
})

const response = (extra: Record<string, unknown> = {}) => ({
  protocolVersion: PROTOCOL_VERSION,
  version: 7,
  reset: false,
  upserts: [upsert()],
  removals: [B],
  serverTime: 1_700_000_000_000,
  network: { ipv4: '100.96.0.0/16', ipv6: 'fd7a:115c:a1e0::/64' },
  ...extra,
})

describe('paths and versions', () => {
  it('are the ones the broker serves', () => {
    expect([PROTOCOL_VERSION, ENROLL_PATH, SYNC_PATH, STATUS_PATH]).toEqual([
      2,
      '/api/v1/gateways/enroll',
      '/api/v1/gateways/sync',
      '/api/v1/gateways/status',
    ])
  })

  it('a mismatch says which side to upgrade and what this side supports', () => {
    const older = unsupportedProtocol('sync request', 1)
    expect([older.code, older.message, older.details]).toEqual([
      'GATEWAY_PROTOCOL_UNSUPPORTED',
      'sync request: gateway protocol 1, but this side speaks 2; the other side is older: upgrade it',
      { supported: [2] },
    ])
    expect(unsupportedProtocol('x', 3).message).toBe(
      'x: gateway protocol 3, but this side speaks 2; upgrade this side',
    )
    expect(unsupportedProtocol('x', '1').message).toBe(
      'x: gateway protocol 1, but this side speaks 2; upgrade this side',
    )
    expect(unsupportedProtocol('x', undefined).message).toBe(
      'x: gateway protocol unknown, but this side speaks 2; upgrade this side',
    )
    expect(unsupportedProtocol('x', 0).message).toMatch(/protocol 0, .*older: upgrade it$/)
  })
})

describe('isGatewaySecret', () => {
  it('is 16 to 512 characters of base64url', () => {
    expect(isGatewaySecret('a'.repeat(16))).toBe(true)
    expect(isGatewaySecret(`kg_${'Z9-_'.repeat(127)}`)).toBe(true)
    for (const bad of [
      'a'.repeat(15),
      'a'.repeat(513),
      `${'a'.repeat(16)}\n`,
      `\n${'a'.repeat(16)}`,
      'a b'.repeat(8),
    ])
      expect(isGatewaySecret(bad)).toBe(false)
    expect(isGatewaySecret(1234567890123456)).toBe(false)
  })
})

describe('parseSyncResponse', () => {
  it('reads a well-formed response, canonical prefixes and all', () => {
    expect(
      parseSyncResponse(
        response({
          upserts: [
            upsert({ allowedIps: ['100.96.0.1/32', 'FD7A:115C:A1E0::1/128'], routes: ['10.10.0.1/16'] }),
          ],
          more: true,
        }),
      ),
    ).toEqual({
      protocolVersion: 2,
      version: 7,
      reset: false,
      upserts: [
        {
          publicKey: A,
          presharedKey: PSK,
          allowedIps: ['100.96.0.1/32', 'fd7a:115c:a1e0::1/128'],
          routes: ['10.10.0.0/16'],
          expiresAt: 1_800_000_000_000,
        },
      ],
      removals: [B],
      serverTime: 1_700_000_000_000,
      more: true,
      network: { ipv4: '100.96.0.0/16', ipv6: 'fd7a:115c:a1e0::/64' },
    })
  })

  it('reads no `more` as false, and a reset as never having more; an overlay without IPv6 as null', () => {
    expect('more' in response()).toBe(false)
    expect(parseSyncResponse(response()).more).toBe(false)
    expect(parseSyncResponse(response({ more: false })).more).toBe(false)
    expect(parseSyncResponse(response({ reset: true, removals: [], more: true })).more).toBe(false)
    for (const ipv6 of [null, undefined])
      expect(parseSyncResponse(response({ network: { ipv4: '100.96.0.0/16', ipv6 } })).network).toEqual({
        ipv4: '100.96.0.0/16',
        ipv6: null,
      })
    expect(parseSyncResponse(response({ version: 0, serverTime: 0 })).version).toBe(0)
  })

  it.each([
    ['not an object', null, 'sync response must be a JSON object'],
    ['an array', [], 'sync response must be a JSON object'],
    ['a string', 'x', 'sync response must be a JSON object'],
    ['reset not a boolean', response({ reset: 'no' }), 'sync response: reset must be a boolean'],
    ['upserts not an array', response({ upserts: {} }), 'sync response: upserts and removals must be arrays'],
    [
      'removals not an array',
      response({ removals: null }),
      'sync response: upserts and removals must be arrays',
    ],
    ['an upsert not an object', response({ upserts: [7] }), 'sync response upserts[0] must be a JSON object'],
    [
      'a bad preshared key',
      response({ upserts: [upsert({ presharedKey: 'short' })] }),
      'sync response upserts[0].presharedKey must be a 32-byte base64 key',
    ],
    [
      'expiresAt as text',
      response({ upserts: [upsert({ expiresAt: '1' })] }),
      'sync response upserts[0].expiresAt must be epoch milliseconds',
    ],
    [
      'expiresAt fractional',
      response({ upserts: [upsert({ expiresAt: 1.5 })] }),
      'sync response upserts[0].expiresAt must be epoch milliseconds',
    ],
    [
      'routes missing',
      response({ upserts: [upsert({ routes: undefined })] }),
      'sync response upserts[0].routes must be an array of CIDR prefixes',
    ],
    [
      'a route that is no prefix',
      response({ upserts: [upsert(), upsert({ publicKey: B, routes: ['nope'] })], removals: [] }),
      'sync response upserts[1].routes.allowedIps has an entry that is not a CIDR prefix',
    ],
    [
      'allowed IPs not an array',
      response({ upserts: [upsert({ allowedIps: '100.96.0.1/32' })] }),
      'sync response upserts[0].allowedIps must be an array of CIDR prefixes',
    ],
    [
      'more than 1024 allowed IPs',
      response({ upserts: [upsert({ allowedIps: Array(1025).fill('100.96.0.1/32') })] }),
      'sync response upserts[0].allowedIps must be an array of CIDR prefixes',
    ],
    [
      'an allowed IP that is no string',
      response({ upserts: [upsert({ allowedIps: [42] })] }),
      'sync response upserts[0].allowedIps has an entry that is not a CIDR prefix',
    ],
    ['a key twice', response({ removals: [A] }), `sync response: public key ${A} appears more than once`],
    ['a reset with removals', response({ reset: true }), 'sync response: a reset carries no removals'],
    ['more not a boolean', response({ more: 1 }), 'sync response: more must be a boolean'],
    ['a negative version', response({ version: -1 }), 'sync response version must be a non-negative integer'],
    ['a version as text', response({ version: '7' }), 'sync response version must be a non-negative integer'],
    [
      'an unsafe version',
      response({ version: 2 ** 53 }),
      'sync response version must be a non-negative integer',
    ],
    [
      'no server time',
      response({ serverTime: undefined }),
      'sync response serverTime must be a non-negative integer',
    ],
    ['no network', response({ network: null }), 'sync response network must be a JSON object'],
    [
      'an IPv4 overlay without prefix',
      response({ network: { ipv4: '100.96.0.0' } }),
      'sync response: network.ipv4 must be an IPv4 prefix',
    ],
    [
      'an IPv6 overlay as IPv4',
      response({ network: { ipv4: 'fd7a::/64' } }),
      'sync response: network.ipv4 must be an IPv4 prefix',
    ],
    [
      'an IPv4 overlay that is no string',
      response({ network: { ipv4: 1 } }),
      'sync response: network.ipv4 must be an IPv4 prefix',
    ],
    [
      'an IPv6 overlay as IPv4',
      response({ network: { ipv4: '100.96.0.0/16', ipv6: '10.0.0.0/8' } }),
      'sync response: network.ipv6 must be an IPv6 prefix or null',
    ],
    [
      'an IPv6 overlay without prefix',
      response({ network: { ipv4: '100.96.0.0/16', ipv6: 'fd7a::' } }),
      'sync response: network.ipv6 must be an IPv6 prefix or null',
    ],
    [
      'an IPv6 overlay that is no string',
      response({ network: { ipv4: '100.96.0.0/16', ipv6: 6 } }),
      'sync response: network.ipv6 must be an IPv6 prefix or null',
    ],
  ])('refuses %s', (_, json, message) => {
    expect(refusalOf(() => parseSyncResponse(json))).toEqual(['INVALID_REQUEST', message])
  })

  it('refuses another protocol version as such', () => {
    expect(refusalOf(() => parseSyncResponse(response({ protocolVersion: 1 })))).toEqual([
      'GATEWAY_PROTOCOL_UNSUPPORTED',
      'sync response: gateway protocol 1, but this side speaks 2; the other side is older: upgrade it',
    ])
  })
})

describe('vetUpserts', () => {
  const vet = (...upserts: Record<string, unknown>[]) =>
    vetUpserts(parseSyncResponse(response({ upserts, removals: [] })))

  it('accepts one host address per family inside the overlay, and a route naming the whole overlay', () => {
    const ok = upsert({ allowedIps: ['100.96.0.1/32', 'fd7a:115c:a1e0::1/128'], routes: ['100.96.0.0/16'] })
    expect(vet(ok)).toEqual({ accepted: parseSyncResponse(response({ upserts: [ok] })).upserts, refused: [] })
  })

  it.each([
    ['no allowed IP', { allowedIps: [] }, 'no allowed IPs'],
    ['a /31', { allowedIps: ['100.96.0.0/31'] }, 'allowed IP 100.96.0.0/31 is not a single /32 address'],
    [
      'a /127',
      { allowedIps: ['fd7a:115c:a1e0::/127'] },
      'allowed IP fd7a:115c:a1e0::/127 is not a single /128 address',
    ],
    [
      'two IPv4 addresses',
      { allowedIps: ['100.96.0.1/32', '100.96.0.2/32'] },
      'more than one IPv4 allowed IP',
    ],
    [
      'two IPv6 addresses',
      { allowedIps: ['fd7a:115c:a1e0::1/128', 'fd7a:115c:a1e0::2/128'] },
      'more than one IPv6 allowed IP',
    ],
    [
      'an address outside',
      { allowedIps: ['10.0.0.1/32'] },
      'allowed IP 10.0.0.1/32 is outside the overlay network',
    ],
    [
      'a route into part of the overlay',
      { routes: ['100.96.5.0/24'] },
      'route 100.96.5.0/24 overlaps the overlay network 100.96.0.0/16 without naming it',
    ],
    [
      'a route around the overlay',
      { routes: ['100.0.0.0/8'] },
      'route 100.0.0.0/8 overlaps the overlay network 100.96.0.0/16 without naming it',
    ],
  ])('refuses %s, keeping the rest of the page', (_, extra, reason) => {
    const good = upsert({ publicKey: B })
    const result = vet(upsert(extra), good)
    expect(result.refused).toEqual([{ publicKey: A, reason }])
    expect(result.accepted.map((u) => u.publicKey)).toEqual([B])
  })
})

describe('parseEnrollResponse and parseEnrollRequest', () => {
  const enrolled = (extra: Record<string, unknown> = {}) => ({
    protocolVersion: 2,
    gateway: 'eu-1',
    credential: 'kgw_abcdefghijklmnop',
    addressV4: '100.96.255.1',
    addressV6: 'fd7a:115c:a1e0::ff01',
    ...extra,
  })

  it('reads the gateway, its credential and its addresses; missing addresses are null', () => {
    expect(parseEnrollResponse(enrolled())).toEqual(enrolled())
    expect(parseEnrollResponse(enrolled({ addressV4: null, addressV6: undefined }))).toMatchObject({
      addressV4: null,
      addressV6: null,
    })
  })

  it.each([
    ['no gateway', { gateway: null }, 'enroll response: gateway must be a string'],
    ['an empty gateway', { gateway: '' }, 'enroll response: gateway must be a string'],
    ['an overlong gateway', { gateway: 'g'.repeat(1025) }, 'enroll response: gateway must be a string'],
    ['a number for an address', { addressV4: 4 }, 'enroll response: addressV4 must be a string'],
    ['an empty IPv6 address', { addressV6: '' }, 'enroll response: addressV6 must be a string'],
    [
      'a credential with a newline',
      { credential: 'kgw_abcdefghijklmnop\n' },
      'enroll response: credential must be 16-512 characters of A-Z a-z 0-9 _ -',
    ],
  ])('refuses %s', (_, extra, message) => {
    expect(refusalOf(() => parseEnrollResponse(enrolled(extra)))).toEqual(['INVALID_REQUEST', message])
  })

  it('accepts a gateway name of 1024 characters', () => {
    expect(parseEnrollResponse(enrolled({ gateway: 'g'.repeat(1024) })).gateway).toHaveLength(1024)
  })

  it('refuses a body that is not an object, and another version', () => {
    expect(refusalOf(() => parseEnrollResponse([]))).toEqual([
      'INVALID_REQUEST',
      'enroll response must be a JSON object',
    ])
    expect(refusalOf(() => parseEnrollResponse(enrolled({ protocolVersion: 3 })))[1]).toMatch(
      /^enroll response: gateway protocol 3/,
    )
    expect(refusalOf(() => parseEnrollRequest('x'))).toEqual([
      'INVALID_REQUEST',
      'enroll request must be a JSON object',
    ])
    expect(refusalOf(() => parseEnrollRequest({ publicKey: A }))[1]).toMatch(
      /^enroll request: gateway protocol unknown/,
    )
  })

  it('reads an enroll request’s key', () => {
    expect(parseEnrollRequest({ protocolVersion: 2, publicKey: A })).toEqual({
      protocolVersion: 2,
      publicKey: A,
    })
    expect(refusalOf(() => parseEnrollRequest({ protocolVersion: 2, publicKey: 'x' }))[0]).toBe(
      'INVALID_PUBLIC_KEY',
    )
  })
})

describe('parseSyncQuery', () => {
  it('reads since and wait, absent or empty as 0, and caps the wait at 60 s', () => {
    expect(parseSyncQuery({ protocol: '2', since: '42', wait: '25' })).toEqual({ since: 42, waitSeconds: 25 })
    expect(parseSyncQuery({ protocol: '2' })).toEqual({ since: 0, waitSeconds: 0 })
    expect(parseSyncQuery({ protocol: '2', since: null, wait: '' })).toEqual({ since: 0, waitSeconds: 0 })
    expect(parseSyncQuery({ protocol: '2', wait: '61' }).waitSeconds).toBe(60)
    expect(parseSyncQuery({ protocol: '2', since: '999999999999999' }).since).toBe(999_999_999_999_999)
  })

  it.each([
    ['since', { since: '-1' }],
    ['since', { since: '1.5' }],
    ['since', { since: 'x1' }],
    ['since', { since: '1x' }],
    ['since', { since: '1000000000000000' }],
    ['wait', { wait: 'soon' }],
  ])('refuses a %s that is no small non-negative integer', (what, query) => {
    expect(refusalOf(() => parseSyncQuery({ protocol: '2', ...query }))).toEqual([
      'INVALID_REQUEST',
      `${what} must be a non-negative integer`,
    ])
  })

  it('an agent that names no protocol is a version 1 agent, refused', () => {
    expect(refusalOf(() => parseSyncQuery({}))).toEqual([
      'GATEWAY_PROTOCOL_UNSUPPORTED',
      'sync request: gateway protocol 1, but this side speaks 2; the other side is older: upgrade it',
    ])
    expect(refusalOf(() => parseSyncQuery({ protocol: null }))[1]).toMatch(/protocol 1,/)
    expect(refusalOf(() => parseSyncQuery({ protocol: '3' }))[1]).toBe(
      'sync request: gateway protocol 3, but this side speaks 2; upgrade this side',
    )
  })
})

describe('parseStatusRequest', () => {
  const status = (extra: Record<string, unknown> = {}) => ({
    protocolVersion: 2,
    appliedVersion: 12,
    peerCount: 3,
    latestHandshakes: { [A]: 1_700_000_000_000 },
    enforcement: 'nftables',
    ...extra,
  })

  it('reads the applied version, peer count, handshakes and enforcement', () => {
    expect(parseStatusRequest(status())).toEqual(status())
    expect(parseStatusRequest(status({ latestHandshakes: undefined, enforcement: 'off' }))).toMatchObject({
      latestHandshakes: {},
      enforcement: 'off',
    })
    expect(parseStatusRequest(status({ peerCount: MAX_PEER_COUNT })).peerCount).toBe(2_147_483_647)
  })

  it.each([
    ['not an object', null, 'status request must be a JSON object'],
    [
      'handshakes as a list',
      status({ latestHandshakes: [] }),
      'status request latestHandshakes must be a JSON object',
    ],
    [
      'a handshake key that is no public key',
      status({ latestHandshakes: { nope: 1 } }),
      'status request: latestHandshakes keys must be public keys',
    ],
    [
      'a handshake time that is no integer',
      status({ latestHandshakes: { [A]: 'now' } }),
      'status request handshake time must be a non-negative integer',
    ],
    [
      'no enforcement',
      status({ enforcement: undefined }),
      'status request: enforcement must be "nftables" or "off"',
    ],
    [
      'another enforcement',
      status({ enforcement: 'iptables' }),
      'status request: enforcement must be "nftables" or "off"',
    ],
    [
      'no applied version',
      status({ appliedVersion: null }),
      'status request appliedVersion must be a non-negative integer',
    ],
    [
      'a negative peer count',
      status({ peerCount: -1 }),
      'status request peerCount must be a non-negative integer',
    ],
    [
      'a peer count beyond 32 bits',
      status({ peerCount: MAX_PEER_COUNT + 1 }),
      'status request peerCount must be at most 2147483647',
    ],
  ])('refuses %s', (_, json, message) => {
    expect(refusalOf(() => parseStatusRequest(json))).toEqual(['INVALID_REQUEST', message])
  })

  it('refuses another protocol version', () => {
    expect(refusalOf(() => parseStatusRequest(status({ protocolVersion: 1 })))).toEqual([
      'GATEWAY_PROTOCOL_UNSUPPORTED',
      'status request: gateway protocol 1, but this side speaks 2; the other side is older: upgrade it',
    ])
  })
})

describe('buildSyncResponse', () => {
  const change = (kind: 'upsert' | 'remove', publicKey: string, leaseId: string) => ({
    kind,
    publicKey,
    leaseId,
    allowedIps: ['100.96.0.1/32'],
    routes: ['10.10.0.0/16'],
    expiresAt: 5,
  })
  const network = { ipv4: '100.96.0.0/16', ipv6: null }

  it('keeps the last change per key, in the order of those last changes', () => {
    const page = {
      version: 9,
      reset: false,
      changes: [
        change('upsert', A, 'l1'),
        change('remove', B, 'l2'),
        change('remove', A, 'l1'),
        change('upsert', B, 'l3'),
      ],
    }
    const built = buildSyncResponse(page as never, new Map([['l3', PSK]]), 100, network, true)
    expect(built).toEqual({
      protocolVersion: 2,
      version: 9,
      reset: false,
      upserts: [
        {
          publicKey: B,
          presharedKey: PSK,
          allowedIps: ['100.96.0.1/32'],
          routes: ['10.10.0.0/16'],
          expiresAt: 5,
        },
      ],
      removals: [A],
      serverTime: 100,
      more: true,
      network,
    })
    expect(buildSyncResponse(page as never, new Map([['l3', PSK]]), 100, network).more).toBe(false)
  })

  it('a reset carries no removals and never more; an upsert without its preshared key is an error', () => {
    const page = { version: 3, reset: true, changes: [change('remove', A, 'l1'), change('upsert', B, 'l2')] }
    const built = buildSyncResponse(page as never, new Map([['l2', PSK]]), 1, network, true)
    expect([built.removals, built.upserts.map((u) => u.publicKey), built.more]).toEqual([[], [B], false])
    expect(refusalOf(() => buildSyncResponse(page as never, new Map(), 1, network))).toEqual([
      'INTERNAL',
      'no preshared key for lease l2',
    ])
  })
})
