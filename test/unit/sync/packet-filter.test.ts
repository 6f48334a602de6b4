// The packet filter as data and text: which pairs a peer gets, the net change between two peer sets, the
// order of one apply, and the nftables scripts (golden files in test/golden/packet-filter; UPDATE_GOLDEN=1
// rewrites them, and the diff is the review). The e2e test loads the same text into real nftables.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  diffElements,
  FILTER_SHARDS,
  filterElementsOf,
  filterTableName,
  orderApply,
  renderFilterChange,
  renderFilterTable,
  shardOf,
} from '../../../src/core/sync/packet-filter.ts'

const GOLDEN = 'test/golden/packet-filter'
const UPDATE = process.env.UPDATE_GOLDEN === '1'

function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name)
  if (UPDATE) writeFileSync(file, actual)
  expect(actual).toBe(readFileSync(file, 'utf8'))
}

describe('pairs of a peer', () => {
  it('pairs each host address with each route of its family, nested routes folded into the wider one', () => {
    expect(
      filterElementsOf({
        allowedIps: ['100.96.0.2/32', 'fd7a:115c:a1e0::2/128'],
        routes: ['10.61.0.0/24', '10.0.0.0/8', 'fd00:61::/64', '192.168.10.0/24'],
      }),
    ).toEqual([
      { family: 4, source: '100.96.0.2', destination: '10.0.0.0/8' },
      { family: 4, source: '100.96.0.2', destination: '192.168.10.0/24' },
      { family: 6, source: 'fd7a:115c:a1e0::2', destination: 'fd00:61::/64' },
    ])
  })

  it('gives nothing to a peer without routes, or to an allowed IP wider than one host', () => {
    expect(filterElementsOf({ allowedIps: ['100.96.0.2/32'] })).toEqual([])
    expect(filterElementsOf({ allowedIps: ['100.96.0.0/24'], routes: ['10.0.0.0/8'] })).toEqual([])
  })

  it('diffs two sets of pairs into what leaves and what arrives', () => {
    const before = filterElementsOf({
      allowedIps: ['100.96.0.2/32'],
      routes: ['10.61.0.0/24', '10.62.0.0/24'],
    })
    const after = filterElementsOf({
      allowedIps: ['100.96.0.2/32'],
      routes: ['10.61.0.0/24', '10.63.0.0/24'],
    })
    expect(diffElements(before, after)).toEqual({
      remove: [{ family: 4, source: '100.96.0.2', destination: '10.62.0.0/24' }],
      add: [{ family: 4, source: '100.96.0.2', destination: '10.63.0.0/24' }],
    })
  })
})

describe('apply ordering', () => {
  const peer = { publicKey: 'k', presharedKey: null, allowedIps: ['100.96.0.2/32'] }
  const change = {
    remove: [{ family: 4 as const, source: '100.96.0.3', destination: '10.0.0.0/8' }],
    add: [],
  }

  it('removes peers, then changes the filter in one step, then adds peers', () => {
    expect(orderApply({ set: [peer], remove: ['gone'] }, change)).toEqual([
      { kind: 'peers', delta: { set: [], remove: ['gone'] } },
      { kind: 'filter', change },
      { kind: 'peers', delta: { set: [peer], remove: [] } },
    ])
  })

  it('leaves out empty steps; a re-route alone is one filter change', () => {
    expect(orderApply({ set: [], remove: [] }, change)).toEqual([{ kind: 'filter', change }])
    expect(orderApply({ set: [], remove: [] }, { remove: [], add: [] })).toEqual([])
    expect(orderApply({ set: [peer], remove: [] }, { remove: [], add: [] })).toEqual([
      { kind: 'peers', delta: { set: [peer], remove: [] } },
    ])
  })
})

describe('nftables text', () => {
  it('names one table per interface, escaping what nft identifiers cannot hold', () => {
    expect(filterTableName('wg0')).toBe('keygate_wg0')
    expect(filterTableName('wg_0')).toBe('keygate_wg__0')
    expect(filterTableName('wg.0=+')).toBe('keygate_wg_2e0_3d_2b')
    expect(filterTableName('wg_2e0')).not.toBe(filterTableName('wg.0'))
  })

  it('renders the whole table (golden)', () => {
    golden(
      'table.nft',
      renderFilterTable({
        iface: 'wg0',
        gatewayAddresses: ['100.96.0.1', 'fd7a:115c:a1e0::1'],
        elements: [
          ...filterElementsOf({
            allowedIps: ['100.96.0.2/32', 'fd7a:115c:a1e0::2/128'],
            routes: ['10.61.0.0/24', 'fd00:61::/64'],
          }),
          ...filterElementsOf({ allowedIps: ['100.96.0.3/32'], routes: ['10.61.0.0/24', '10.62.0.0/24'] }),
        ],
      }),
    )
  })

  it('renders an empty table that drops everything but replies and pings to the gateway (golden)', () => {
    golden('empty-table.nft', renderFilterTable({ iface: 'wg0', gatewayAddresses: [], elements: [] }))
  })

  it('renders a change as deletions then additions (golden), and nothing for no change', () => {
    golden(
      'change.nft',
      renderFilterChange('wg0', {
        remove: [
          { family: 4, source: '100.96.0.3', destination: '10.62.0.0/24' },
          { family: 6, source: 'fd7a:115c:a1e0::3', destination: 'fd00:62::/64' },
        ],
        add: [{ family: 4, source: '100.96.0.4', destination: '10.61.0.0/24' }],
      }),
    )
    expect(renderFilterChange('wg0', { remove: [], add: [] })).toBe('')
  })

  it("files each pair under the shard of its source's low bits, the shard the dispatch map jumps to", () => {
    expect(FILTER_SHARDS).toBe(64)
    const pair = (source: string) => ({ family: 4 as const, source, destination: '10.61.0.0/24' })
    expect(shardOf(pair('100.96.0.3'))).toBe(3)
    expect(shardOf(pair('100.96.1.67'))).toBe(3) // 67 = 64 + 3
    expect(shardOf(pair('100.96.0.63'))).toBe(63)
    expect(shardOf({ family: 6, source: 'fd7a:115c:a1e0::141', destination: 'fd00:61::/64' })).toBe(1)
    expect(() => shardOf({ family: 4, source: 'fd7a::1', destination: '10.0.0.0/8' })).toThrow()
    // The table dispatches low bits 3 to the chain reading set 3, and holds the pair there.
    const table = renderFilterTable({ iface: 'wg0', gatewayAddresses: [], elements: [pair('100.96.1.67')] })
    expect(table).toContain('0.0.0.3 : jump shard4_3,')
    expect(table).toContain('\tchain shard4_3 { ip saddr . ip daddr @grants4_3 accept; }')
    expect(table).toMatch(/set grants4_3 \{[^\n]*elements = \{ 100\.96\.1\.67 \. 10\.61\.0\.0\/24 \}/)
    expect(table.match(/100\.96\.1\.67/g)).toHaveLength(1)
  })

  it("removes a peer by touching its own shard's set only", () => {
    const script = renderFilterChange('wg0', {
      remove: filterElementsOf({
        allowedIps: ['100.96.1.67/32', 'fd7a:115c:a1e0::1:2/128'],
        routes: ['10.61.0.0/24', '10.62.0.0/24', 'fd00:61::/64'],
      }),
      add: [],
    })
    expect(script).toBe(
      [
        'delete element inet keygate_wg0 grants4_3 { 100.96.1.67 . 10.61.0.0/24, 100.96.1.67 . 10.62.0.0/24 }',
        'delete element inet keygate_wg0 grants6_2 { fd7a:115c:a1e0::1:2 . fd00:61::/64 }',
        '',
      ].join('\n'),
    )
  })

  it('refuses an interface name that could break out of the script', () => {
    expect(() =>
      renderFilterTable({ iface: 'wg0"; flush ruleset', gatewayAddresses: [], elements: [] }),
    ).toThrow()
    expect(() => renderFilterChange('wg0\n', { remove: [], add: [] })).toThrow()
  })
})
