/**
 * An in-memory PacketFilter for unit tests of the agent: it holds the pairs like the nftables sets would,
 * refuses to delete a pair it does not hold (as nft does, failing the whole change), records every write,
 * and can be told to fail, to test that the agent fails closed.
 */
import {
  elementKey,
  type FilterChange,
  type FilterElement,
  type FilterSpec,
  type PacketFilter,
} from '../../core/sync/packet-filter.ts'

export interface MemoryPacketFilter extends PacketFilter {
  readonly elements: Map<string, FilterElement>
  readonly writes: Array<{ kind: 'replace'; spec: FilterSpec } | { kind: 'apply'; change: FilterChange }>
  /** While set, every write throws this message and changes nothing. */
  failWith: string | null
  /** How many writes have thrown, so a test can wait for a failure instead of sleeping. */
  failures: number
  /** Whether close() was called (the agent closes its filter when it stops). */
  closed: boolean
  has(source: string, destination: string): boolean
}

export function createMemoryPacketFilter(): MemoryPacketFilter {
  const elements = new Map<string, FilterElement>()
  const filter: MemoryPacketFilter = {
    enforcement: 'nftables',
    elements,
    writes: [],
    failWith: null,
    failures: 0,
    closed: false,
    async replace(spec) {
      if (filter.failWith !== null) {
        filter.failures++
        throw new Error(filter.failWith)
      }
      filter.writes.push({ kind: 'replace', spec })
      elements.clear()
      for (const e of spec.elements) elements.set(elementKey(e), e)
    },
    async apply(change) {
      if (filter.failWith !== null) {
        filter.failures++
        throw new Error(filter.failWith)
      }
      for (const e of change.remove)
        if (!elements.has(elementKey(e))) {
          filter.failures++
          throw new Error(`delete element ${elementKey(e)}: No such file or directory`)
        }
      filter.writes.push({ kind: 'apply', change })
      for (const e of change.remove) elements.delete(elementKey(e))
      for (const e of change.add) elements.set(elementKey(e), e)
    },
    async close() {
      filter.closed = true
    },
    has(source, destination) {
      return elements.has(`${source} . ${destination}`)
    },
  }
  return filter
}
