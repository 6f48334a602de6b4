/**
 * The agent's packet filter through the `nft` tool (Debian's `nftables`): one table per WireGuard interface.
 * Every write, the whole table (start-up, reconcile) or a change between, is a script handed to one
 * long-lived `nft -i` process (nft-session.ts), which spares each write the cost of starting nft. nft runs
 * each script as one transaction, so it applies whole or not at all, and a failed write leaves the
 * previous table in force.
 *
 * Also the "off" filter for an agent started with enforcement turned off, and the probe the agent runs at
 * start so that it can refuse to add peers, in one line, when nftables cannot be programmed.
 */
import { KeygateError } from '../../core/errors.ts'
import {
  type FilterChange,
  type FilterSpec,
  filterTableName,
  type PacketFilter,
  renderFilterChange,
  renderFilterTable,
} from '../../core/sync/packet-filter.ts'
import { mustRunCommand } from '../runtime/run-command.ts'
import { createNftSession } from './nft-session.ts'

export interface NftOptions {
  nftPath?: string
  /** Prefix for running nft elsewhere, e.g. ['ip', 'netns', 'exec', 'ns1'] in tests. */
  commandPrefix?: string[]
}

export interface NftPacketFilter extends PacketFilter {
  /** The agent's table, listed by nft (for tests and `doctor`-style checks). */
  list(): Promise<string>
}

export function createNftPacketFilter(iface: string, options: NftOptions = {}): NftPacketFilter {
  const nft = [...(options.commandPrefix ?? []), options.nftPath ?? 'nft']
  const session = createNftSession(nft)
  const write = (script: string) =>
    session.run(script).catch((error: Error) => {
      throw new Error(`nft: ${error.message}`)
    })
  return {
    enforcement: 'nftables',
    async replace(spec: FilterSpec) {
      await write(renderFilterTable(spec))
    },
    async apply(change: FilterChange) {
      const script = renderFilterChange(iface, change)
      if (script !== '') await write(script)
    },
    close() {
      return session.close()
    },
    list() {
      return mustRunCommand([...nft, 'list', 'table', 'inet', filterTableName(iface)])
    },
  }
}

/**
 * Fails with PACKET_FILTER_UNAVAILABLE, one line saying why, when the table cannot be written (nft missing,
 * no CAP_NET_ADMIN, a kernel without nf_tables or concatenated interval sets). Writing the real table with
 * no pairs is the probe: anything less could pass where the real write fails.
 */
export async function programOrRefuse(filter: PacketFilter, spec: FilterSpec): Promise<void> {
  try {
    await filter.replace(spec)
  } catch (error) {
    throw new KeygateError(
      'PACKET_FILTER_UNAVAILABLE',
      `cannot program the packet filter (${error instanceof Error ? error.message : String(error)}); ` +
        'install nftables and run as root, or start with --no-packet-filter to run without enforcement',
      { cause: error },
    )
  }
}

/** Enforcement turned off by the operator: every write is a no-op, and status says "off". */
export function createDisabledPacketFilter(): PacketFilter {
  return {
    enforcement: 'off',
    async replace() {},
    async apply() {},
    async close() {},
  }
}
