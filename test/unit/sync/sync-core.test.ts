import { describe, expect, it } from 'vitest'
import { isKeygateError } from '../../../src/core/errors.ts'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { applyFeedPage } from '../../../src/core/sync/desired-peers.ts'
import { dropExpired, nextExpiry } from '../../../src/core/sync/expiry.ts'
import type { DesiredPeers, PeerState } from '../../../src/core/sync/peer-state.ts'
import {
  buildSyncResponse,
  PROTOCOL_VERSION,
  parseSyncQuery,
  parseSyncResponse,
  type SyncResponse,
  type SyncUpsert,
} from '../../../src/core/sync/protocol.ts'
import { reconcilePeers } from '../../../src/core/sync/reconcile.ts'

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n))
const key = () => generateKeyPair(random).publicKey as string
const psk = () => generateKeyPair(random).privateKey
const NOW = 1_800_000_000_000

function peer(overrides: Partial<PeerState> = {}): PeerState {
  return {
    publicKey: key(),
    presharedKey: psk(),
    allowedIps: ['100.96.0.2/32'],
    routes: ['10.61.0.0/24'],
    expiresAt: NOW + 60_000,
    ...overrides,
  }
}
function upsert(p: PeerState): SyncUpsert {
  return {
    publicKey: p.publicKey,
    presharedKey: p.presharedKey!,
    allowedIps: p.allowedIps,
    routes: p.routes ?? [],
    expiresAt: p.expiresAt!,
  }
}
function page(overrides: Partial<SyncResponse>): SyncResponse {
  return {
    protocolVersion: PROTOCOL_VERSION,
    version: 1,
    reset: false,
    upserts: [],
    removals: [],
    serverTime: NOW,
    more: false,
    network: { ipv4: '100.96.0.0/16', ipv6: 'fd7a:115c:a1e0::/64' },
    ...overrides,
  }
}

describe('reconcilePeers', () => {
  it('sets missing and changed peers, removes strays, keeps matching ones untouched', () => {
    const same = peer()
    const changedIps = peer()
    const changedPsk = peer()
    const missing = peer()
    const stray = peer()
    const actual = [
      { ...same, expiresAt: undefined },
      { ...changedIps, allowedIps: ['100.96.0.9/32'], expiresAt: undefined },
      { ...changedPsk, presharedKey: null, expiresAt: undefined },
      stray,
    ]
    const delta = reconcilePeers(actual, [same, changedIps, changedPsk, missing], NOW)
    expect(delta.set.map((p) => p.publicKey).sort()).toEqual(
      [changedIps, changedPsk, missing].map((p) => p.publicKey).sort(),
    )
    expect(delta.remove).toEqual([stray.publicKey])
  })

  it('treats allowed IPs as a set', () => {
    const p = peer({ allowedIps: ['10.0.0.0/8', '100.96.0.2/32'] })
    const delta = reconcilePeers([{ ...p, allowedIps: ['100.96.0.2/32', '10.0.0.0/8'] }], [p], NOW)
    expect(delta).toEqual({ set: [], remove: [] })
  })

  it('removes a desired peer that has already expired', () => {
    const p = peer({ expiresAt: NOW })
    expect(reconcilePeers([p], [p], NOW)).toEqual({ set: [], remove: [p.publicKey] })
  })

  // Its speed is measured in bench/wireguard-bench.ts (a timed assertion here broke on a loaded machine).
  it('reconciles 50k peers: only the difference on either side', () => {
    const desired = Array.from({ length: 50_000 }, (_, i) => ({
      publicKey: `k${i}`,
      presharedKey: null,
      allowedIps: [`100.96.${i >> 8}.${i & 255}/32`],
      expiresAt: NOW + 1,
    }))
    const delta = reconcilePeers(desired.slice(1000), desired.slice(0, 49_000), NOW)
    expect(delta.set.map((p) => p.publicKey)).toEqual(desired.slice(0, 1000).map((p) => p.publicKey))
    expect(delta.remove).toHaveLength(1000)
  })
})

describe('applyFeedPage', () => {
  it('a reset replaces the set and returns the difference', () => {
    const keep = peer()
    const drop = peer()
    const desired: DesiredPeers = new Map([keep, drop].map((p) => [p.publicKey, p]))
    const added = peer()
    const delta = applyFeedPage(
      desired,
      page({ reset: true, upserts: [upsert(keep), upsert(added)] }),
      NOW,
    ).peers
    expect(delta.set.map((p) => p.publicKey)).toEqual([added.publicKey])
    expect(delta.remove).toEqual([drop.publicKey])
    expect([...desired.keys()].sort()).toEqual([keep.publicKey, added.publicKey].sort())
  })

  it('upserts replace by key; an expiry-only change writes nothing; removals delete', () => {
    const a = peer()
    const b = peer()
    const desired: DesiredPeers = new Map([a, b].map((p) => [p.publicKey, p]))
    const renewed = { ...a, expiresAt: NOW + 120_000 }
    const moved = { ...b, allowedIps: ['100.96.0.7/32'] }
    const c = peer()
    let delta = applyFeedPage(
      desired,
      page({ upserts: [upsert(renewed), upsert(moved), upsert(c)] }),
      NOW,
    ).peers
    expect(delta.set.map((p) => p.publicKey)).toEqual([b.publicKey, c.publicKey])
    expect(delta.remove).toEqual([])
    expect(desired.get(a.publicKey)!.expiresAt).toBe(NOW + 120_000)
    delta = applyFeedPage(desired, page({ removals: [a.publicKey, key()] }), NOW).peers
    expect(delta).toEqual({ set: [], remove: [a.publicKey] })
    expect(desired.has(a.publicKey)).toBe(false)
  })

  it('ignores an already-expired upsert, and drops the key if it was held', () => {
    const held = peer()
    const desired: DesiredPeers = new Map([[held.publicKey, held]])
    const fresh = peer({ expiresAt: NOW - 1 })
    const delta = applyFeedPage(
      desired,
      page({ upserts: [upsert(fresh), upsert({ ...held, expiresAt: NOW })] }),
      NOW,
    )
    expect(delta.peers).toEqual({ set: [], remove: [held.publicKey] })
    expect(delta.filter).toEqual({
      remove: [{ family: 4, source: '100.96.0.2', destination: '10.61.0.0/24' }],
      add: [],
    })
    expect(desired.size).toBe(0)
    const reset = applyFeedPage(desired, page({ reset: true, upserts: [upsert(fresh)] }), NOW)
    expect(reset.peers).toEqual({ set: [], remove: [] })
    expect(reset.filter).toEqual({ remove: [], add: [] })
  })
})

describe('expiry schedule', () => {
  it('finds the next expiry and drops what is due', () => {
    const soon = peer({ expiresAt: NOW + 1_000 })
    const later = peer({ expiresAt: NOW + 5_000 })
    const desired: DesiredPeers = new Map([soon, later].map((p) => [p.publicKey, p]))
    expect(nextExpiry(desired.values(), NOW)).toBe(NOW + 1_000)
    expect(dropExpired(desired, NOW + 999)).toEqual([])
    expect(dropExpired(desired, NOW + 1_000)).toEqual([soon.publicKey])
    expect(nextExpiry(desired.values(), NOW)).toBe(NOW + 5_000)
    expect(dropExpired(desired, NOW + 10_000)).toEqual([later.publicKey])
    expect(nextExpiry(desired.values(), NOW)).toBeNull()
  })
})

describe('protocol', () => {
  const codeOf = (fn: () => unknown) => {
    try {
      fn()
      return undefined
    } catch (error) {
      return isKeygateError(error) ? error.code : 'other'
    }
  }

  it('parses a valid response and canonicalises allowed IPs', () => {
    const p = peer({ allowedIps: ['100.96.0.2'] })
    const parsed = parseSyncResponse(JSON.parse(JSON.stringify(page({ version: 7, upserts: [upsert(p)] }))))
    expect(parsed.version).toBe(7)
    expect(parsed.upserts[0]!.allowedIps).toEqual(['100.96.0.2/32'])
  })

  it.each([
    ['a low-order key', (r: SyncResponse) => ({ ...r, removals: [`${'A'.repeat(43)}=`] })],
    ['a duplicate key', (r: SyncResponse) => ({ ...r, removals: [r.upserts[0]!.publicKey] })],
    [
      'an ISO expiry',
      (r: SyncResponse) => ({ ...r, upserts: [{ ...r.upserts[0]!, expiresAt: '2030-01-01T00:00:00Z' }] }),
    ],
    [
      'a bad CIDR',
      (r: SyncResponse) => ({ ...r, upserts: [{ ...r.upserts[0]!, allowedIps: ['10.0.0.0/8\n'] }] }),
    ],
    ['a bad PSK', (r: SyncResponse) => ({ ...r, upserts: [{ ...r.upserts[0]!, presharedKey: 'x' }] })],
    ['a negative version', (r: SyncResponse) => ({ ...r, version: -1 })],
  ])('rejects %s', (_name, mutate) => {
    const base = page({ upserts: [upsert(peer())] })
    expect(codeOf(() => parseSyncResponse(mutate(base)))).toMatch(/INVALID_REQUEST|INVALID_PUBLIC_KEY/)
  })

  it('builds a response from a feed page, last change per key wins', () => {
    const a = peer()
    const b = peer()
    const response = buildSyncResponse(
      {
        version: 9,
        reset: false,
        changes: [
          {
            kind: 'upsert',
            leaseId: 'l1',
            publicKey: a.publicKey,
            presharedKeyCiphertext: 'x',
            allowedIps: a.allowedIps,
            routes: a.routes!,
            expiresAt: a.expiresAt!,
          },
          {
            kind: 'upsert',
            leaseId: 'l2',
            publicKey: b.publicKey,
            presharedKeyCiphertext: 'y',
            allowedIps: b.allowedIps,
            routes: b.routes!,
            expiresAt: b.expiresAt!,
          },
          { kind: 'remove', leaseId: 'l1', publicKey: a.publicKey },
        ],
      },
      new Map([
        ['l1', a.presharedKey!],
        ['l2', b.presharedKey!],
      ]),
      NOW,
      { ipv4: '100.96.0.0/16', ipv6: null },
    )
    expect(response.removals).toEqual([a.publicKey])
    expect(response.upserts.map((u) => u.publicKey)).toEqual([b.publicKey])
    expect(parseSyncResponse(JSON.parse(JSON.stringify(response)))).toEqual(response)
  })

  it('reads the query', () => {
    const v = String(PROTOCOL_VERSION)
    expect(parseSyncQuery({ since: '12', wait: '600', protocol: v })).toEqual({ since: 12, waitSeconds: 60 })
    expect(parseSyncQuery({ protocol: v })).toEqual({ since: 0, waitSeconds: 0 })
    expect(codeOf(() => parseSyncQuery({ since: '-1', protocol: v }))).toBe('INVALID_REQUEST')
  })

  it('refuses a v1 agent (no protocol in the query) and a v1 broker answer with their own code', () => {
    expect(codeOf(() => parseSyncQuery({ since: '1', wait: '5' }))).toBe('GATEWAY_PROTOCOL_UNSUPPORTED')
    expect(codeOf(() => parseSyncQuery({ since: '1', protocol: '1' }))).toBe('GATEWAY_PROTOCOL_UNSUPPORTED')
    const v1 = { ...page({ upserts: [] }), protocolVersion: 1 }
    expect(codeOf(() => parseSyncResponse(v1))).toBe('GATEWAY_PROTOCOL_UNSUPPORTED')
  })
})
