/**
 * The gateway's packet filter, as data and as nftables text: which (peer source, destination) pairs a peer
 * may send, how a change to the peer set changes them, and the order in which filter and interface writes
 * happen so that no packet the policy does not allow ever passes.
 *
 * The filter is one nftables table per WireGuard interface, owned by the agent. Traffic arriving on the
 * interface is accepted only when `saddr . daddr` is in the grants (WireGuard's cryptokey routing has
 * already tied the source to the peer, since each peer's allowed IPs are its own host addresses). Peer to
 * peer traffic is therefore dropped unless a route names the overlay network; everything else is dropped,
 * except replies to flows started on the gateway's side, ICMP errors about tracked flows, and echo requests
 * to the gateway's own overlay address. Rendering is pure text here (scripts as `nft -f` reads them);
 * adapters/firewall hands them to nft.
 *
 * The grants are FILTER_SHARDS concatenated interval sets per family, a pair filed by the low bits of its
 * peer address, behind a constant verdict map on those bits that jumps to the shard's chain. Why: deleting
 * from a concatenated interval set makes nft read the whole set, so a removal must touch a small one (one
 * 30,000-pair set cost 60-200 ms per removal); a chain per peer costs more still, since nft reads every
 * chain of the table on each run (docs/benchmarks.md, "Gateway packet filter").
 */
import { cidrContains, formatCidr, type IpFamily, type ParsedCidr, parseCidr } from '../peers/ip-syntax.ts'
import type { PeerDelta } from './peer-state.ts'
import type { Enforcement } from './protocol.ts'

/** One allowed pair: a peer's host address and one destination prefix of the same family. */
export interface FilterElement {
  family: IpFamily
  /** The peer's overlay address, without a prefix length. */
  source: string
  /** Canonical CIDR. */
  destination: string
}

/** Elements to take out and put in, applied as one transaction. */
export interface FilterChange {
  remove: FilterElement[]
  add: FilterElement[]
}

/** Everything the table holds: rewritten whole on start and on the drift check. */
export interface FilterSpec {
  /** The WireGuard interface the table filters (traffic arriving on it). */
  iface: string
  /** The gateway's own overlay addresses (no prefix): peers may ping them, nothing more. */
  gatewayAddresses: string[]
  elements: FilterElement[]
}

/** The port the agent drives; adapters/firewall implements it with `nft`, or as "off". */
export interface PacketFilter {
  readonly enforcement: Enforcement
  /** Replaces the agent's table with exactly `spec` in one transaction; other tables are untouched. */
  replace(spec: FilterSpec): Promise<void>
  /** Applies one change in one transaction; throws when the table does not hold what the change removes. */
  apply(change: FilterChange): Promise<void>
  /** Releases what the filter holds open (a process); the table stays in force. */
  close(): Promise<void>
}

export const EMPTY_FILTER_CHANGE: FilterChange = { remove: [], add: [] }

/** A peer as the filter sees it: its host addresses (allowed IPs) and its granted routes. */
export interface FilteredPeer {
  allowedIps: readonly string[]
  routes?: readonly string[]
}

/**
 * The pairs one peer may send: each host address with each route of its family. A route inside another
 * route of the same peer is left out (concatenated interval sets refuse overlapping elements, and the wider
 * prefix already allows it).
 */
export function filterElementsOf(peer: FilteredPeer): FilterElement[] {
  const routes = outermost((peer.routes ?? []).map((r) => parseCidr(r)).filter((c) => c !== null))
  const elements: FilterElement[] = []
  for (const ip of peer.allowedIps) {
    const host = parseCidr(ip)
    if (host === null || host.prefix !== (host.family === 4 ? 32 : 128)) continue
    const source = formatCidr(host).split('/')[0]!
    for (const route of routes) {
      if (route.family === host.family)
        elements.push({ family: host.family, source, destination: formatCidr(route) })
    }
  }
  return elements
}

function outermost(cidrs: ParsedCidr[]): ParsedCidr[] {
  const sorted = [...cidrs].sort((a, b) => a.prefix - b.prefix)
  const kept: ParsedCidr[] = []
  for (const cidr of sorted) if (!kept.some((k) => cidrContains(k, cidr))) kept.push(cidr)
  return kept
}

export function elementKey(element: FilterElement): string {
  return `${element.source} . ${element.destination}`
}

/** The net change from one list of elements to another (each element at most once on each side). */
export function diffElements(
  before: readonly FilterElement[],
  after: readonly FilterElement[],
): FilterChange {
  const old = new Map(before.map((e) => [elementKey(e), e]))
  const next = new Map(after.map((e) => [elementKey(e), e]))
  const remove: FilterElement[] = []
  const add: FilterElement[] = []
  for (const [key, element] of old) if (!next.has(key)) remove.push(element)
  for (const [key, element] of next) if (!old.has(key)) add.push(element)
  return { remove, add }
}

export function isEmptyChange(change: FilterChange): boolean {
  return change.remove.length === 0 && change.add.length === 0
}

/** One write of an apply, in order. */
export type ApplyStep = { kind: 'peers'; delta: PeerDelta } | { kind: 'filter'; change: FilterChange }

/**
 * The order of one sync response's writes, so that no packet is allowed that the policy does not allow:
 * 1. peers leave the interface (a removed lease stops sending before its pairs go, and an address that
 *    moves to a new lease is no longer held by the old one when the new pairs go in);
 * 2. one filter transaction: pairs of removed peers out, pairs of re-routed peers shrunk and grown, pairs
 *    of new peers in;
 * 3. new and changed peers go onto the interface, after their pairs.
 * Empty steps are left out; a delta with nothing to do is no step at all.
 */
export function orderApply(delta: PeerDelta, change: FilterChange): ApplyStep[] {
  const steps: ApplyStep[] = []
  if (delta.remove.length > 0) steps.push({ kind: 'peers', delta: { set: [], remove: delta.remove } })
  if (!isEmptyChange(change)) steps.push({ kind: 'filter', change })
  if (delta.set.length > 0) steps.push({ kind: 'peers', delta: { set: delta.set, remove: [] } })
  return steps
}

// --- nftables text -------------------------------------------------------------------------------------

/**
 * The table's name for an interface: `keygate_` and the interface name, with every character outside
 * [A-Za-z0-9] escaped (`_` as `__`, others as `_xx`), so two interfaces never share a table.
 */
export function filterTableName(iface: string): string {
  let name = 'keygate_'
  for (const ch of iface) {
    if (/[A-Za-z0-9]/.test(ch)) name += ch
    else if (ch === '_') name += '__'
    else name += `_${ch.charCodeAt(0).toString(16).padStart(2, '0')}`
  }
  return name
}

/**
 * How many grant sets (and chains) per family. A removal costs about the size of its shard (30,000 pairs:
 * ~470 per shard); more shards cost every nft run a little, since nft reads the table's sets and chains.
 */
export const FILTER_SHARDS = 64

/** The shard of a peer address: its low bits, so that sequentially allocated addresses spread evenly. */
export function shardOf(element: FilterElement): number {
  const host = parseCidr(element.source)
  if (host === null || host.family !== element.family)
    throw new Error(`not a host address: ${element.source}`)
  return host.bytes[host.bytes.length - 1]! & (FILTER_SHARDS - 1)
}

function setName(family: IpFamily, shard: number): string {
  return `grants${family}_${shard}`
}

function chainName(family: IpFamily, shard: number): string {
  return `shard${family}_${shard}`
}

function elementList(elements: readonly FilterElement[]): string {
  return elements.map((e) => `${e.source} . ${e.destination}`).join(', ')
}

/** Elements grouped by (family, shard), families 4 then 6, shards ascending; empty groups left out. */
function byShard(elements: readonly FilterElement[]): Array<[IpFamily, number, FilterElement[]]> {
  const groups = new Map<number, FilterElement[]>()
  for (const e of elements) {
    const key = (e.family === 4 ? 0 : FILTER_SHARDS) + shardOf(e)
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [e])
    else group.push(e)
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .map(([key, group]) => [key < FILTER_SHARDS ? 4 : 6, key % FILTER_SHARDS, group])
}

const SHARDS = Array.from({ length: FILTER_SHARDS }, (_, i) => i)

/** The constant map from a source's low bits to its shard's chain (`ip saddr & 0.0.0.63 vmap { … }`). */
function shardDispatch(family: IpFamily): string {
  const mask = FILTER_SHARDS - 1
  if (family === 4)
    return `ip saddr & 0.0.0.${mask} vmap { ${SHARDS.map((k) => `0.0.0.${k} : jump ${chainName(4, k)}`).join(', ')} }`
  return `ip6 saddr & ::${mask.toString(16)} vmap { ${SHARDS.map((k) => `::${k === 0 ? '' : k.toString(16)} : jump ${chainName(6, k)}`).join(', ')} }`
}

function checkIface(iface: string): void {
  if (!/^[A-Za-z0-9_.=+-]{1,15}$/.test(iface)) throw new Error(`not a valid interface name: ${iface}`)
}

/**
 * The whole table as one `nft -f` script: create-if-missing, delete, define. nft runs a file as one
 * transaction, so packets see the old table or the new one, never none; hand-added rules in this table go,
 * other tables stay.
 */
export function renderFilterTable(spec: FilterSpec): string {
  checkIface(spec.iface)
  const table = `inet ${filterTableName(spec.iface)}`
  const self4 = spec.gatewayAddresses.filter((a) => !a.includes(':'))
  const self6 = spec.gatewayAddresses.filter((a) => a.includes(':'))
  const set = (name: string, type: string, flags: string, items: string) =>
    [
      `\tset ${name} {`,
      `\t\ttype ${type}`,
      ...(flags === '' ? [] : [`\t\tflags ${flags}`]),
      ...(items === '' ? [] : [`\t\telements = { ${items} }`]),
      '\t}',
    ].join('\n')
  const filled = new Map(byShard(spec.elements).map(([f, k, group]) => [`${f}_${k}`, group]))
  const shards: string[] = []
  for (const family of [4, 6] as const) {
    const type = family === 4 ? 'ipv4_addr . ipv4_addr' : 'ipv6_addr . ipv6_addr'
    const ip = family === 4 ? 'ip' : 'ip6'
    for (const k of SHARDS) {
      // One line each (nft takes `;` for a newline): 4 × FILTER_SHARDS objects stay readable.
      const items = elementList(filled.get(`${family}_${k}`) ?? [])
      shards.push(
        `\tset ${setName(family, k)} { type ${type}; flags interval;${items === '' ? '' : ` elements = { ${items} };`} }`,
        `\tchain ${chainName(family, k)} { ${ip} saddr . ${ip} daddr @${setName(family, k)} accept; }`,
      )
    }
  }
  return `${[
    `table ${table}`,
    `delete table ${table}`,
    `table ${table} {`,
    `\tcomment "keygate gateway agent for ${spec.iface}: rewritten by the agent, do not edit"`,
    set('self4', 'ipv4_addr', '', self4.join(', ')),
    set('self6', 'ipv6_addr', '', self6.join(', ')),
    ...shards,
    '\tchain forward {',
    '\t\ttype filter hook forward priority filter - 1; policy accept;',
    `\t\tiifname "${spec.iface}" jump from_peer`,
    '\t}',
    '\tchain input {',
    '\t\ttype filter hook input priority filter - 1; policy accept;',
    `\t\tiifname "${spec.iface}" jump to_gateway`,
    '\t}',
    '\tchain from_peer {',
    `\t\t${shardDispatch(4)}`,
    `\t\t${shardDispatch(6)}`,
    '\t\tct direction reply accept',
    '\t\tmeta l4proto { icmp, ipv6-icmp } ct state related accept',
    '\t\tcounter drop',
    '\t}',
    '\tchain to_gateway {',
    `\t\t${shardDispatch(4)}`,
    `\t\t${shardDispatch(6)}`,
    '\t\tct direction reply accept',
    '\t\tmeta l4proto { icmp, ipv6-icmp } ct state related accept',
    '\t\tip daddr @self4 icmp type echo-request accept',
    '\t\tip6 daddr @self6 icmpv6 type echo-request accept',
    '\t\tcounter drop',
    '\t}',
    '}',
  ].join('\n')}\n`
}

/**
 * One change as one `nft -f` script: deletions first, then additions (an element may be in both), each
 * touching only the shard sets of the peers concerned.
 */
export function renderFilterChange(iface: string, change: FilterChange): string {
  checkIface(iface)
  const table = `inet ${filterTableName(iface)}`
  const lines: string[] = []
  for (const [family, k, gone] of byShard(change.remove))
    lines.push(`delete element ${table} ${setName(family, k)} { ${elementList(gone)} }`)
  for (const [family, k, added] of byShard(change.add))
    lines.push(`add element ${table} ${setName(family, k)} { ${elementList(added)} }`)
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`
}
