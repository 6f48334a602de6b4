/**
 * The packet filter's cost (issue 9), on real wireguard-go and real nftables in a lab namespace:
 * - a 10,000-peer snapshot (3 granted prefixes each) applied through the agent's path with its filter
 *   (its state machine's plan, then the writes it hands out: one `nft -f` with every element, one UAPI write) against the
 *   same snapshot without the filter, alternating per trial on a fresh interface and a fresh table;
 *   goal: the filter adds at most 50 %;
 * - one incremental change with its filter (add, then remove, one peer with 3 prefixes) onto that loaded
 *   gateway; goal: median under 20 ms.
 * Run alone: `tsx bench/filter-bench.ts`.
 */
import { pathToFileURL } from 'node:url'
import { createNftPacketFilter } from '../src/adapters/firewall/nft-packet-filter.ts'
import { createUapiInterface } from '../src/adapters/wireguard/uapi-interface.ts'
import { encodeBase64 } from '../src/core/peers/base64.ts'
import { generateKeyPair } from '../src/core/peers/keys.ts'
import { DEFAULT_BACKOFF } from '../src/core/sync/backoff.ts'
import { GatewayAgentState } from '../src/core/sync/gateway-agent-state.ts'
import type { PacketFilter } from '../src/core/sync/packet-filter.ts'
import type { WireGuardInterface } from '../src/core/sync/peer-state.ts'
import {
  PROTOCOL_VERSION,
  parseSyncResponse,
  type SyncResponse,
  type SyncUpsert,
} from '../src/core/sync/protocol.ts'
import { createNetnsLab, missingForNetnsLab } from '../test/support/netns.ts'

const PEERS = 10_000
const TRIALS = 5
const INCREMENTS = 40
const NETWORK = { ipv4: '198.19.0.0/16', ipv6: null }

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n))

function upsertAt(i: number, expiresAt: number): SyncUpsert {
  return {
    publicKey: encodeBase64(random(32)),
    presharedKey: encodeBase64(random(32)),
    allowedIps: [`198.19.${64 + (i >> 8)}.${i & 255}/32`],
    // Three granted prefixes per lease, as a user granted three routes through one gateway.
    routes: ['198.18.96.0/24', '198.18.97.0/24', `198.18.${100 + (i % 20)}.0/24`],
    expiresAt,
  }
}

function response(upserts: SyncUpsert[], removals: string[], reset: boolean, version: number): SyncResponse {
  return {
    protocolVersion: PROTOCOL_VERSION,
    version,
    reset,
    more: false,
    serverTime: Date.now(),
    upserts,
    removals,
    network: NETWORK,
  }
}

/**
 * The agent's state machine for one interface, past its start-up reconcile (the interface and table are
 * empty): the bench feeds it answers and performs its writes, as the agent's loop does.
 */
function agentState(iface: string): GatewayAgentState {
  const machine = new GatewayAgentState(
    {
      iface,
      gatewayAddresses: [],
      enforcement: 'nftables',
      brokerCount: 1,
      waitSeconds: 25,
      statusIntervalMs: 3_600_000,
      driftCheckIntervalMs: 3_600_000,
      backoff: DEFAULT_BACKOFF,
      cursorSaveDelayMs: 3_600_000,
      random01: () => 0.5,
    },
    { now: Date.now(), cursor: null, actual: [] },
  )
  for (let c = machine.pollCommand(); c !== null; c = machine.pollCommand())
    if (c.kind === 'write') machine.handleWriteResult(Date.now(), { ok: true })
  return machine
}

/** The agent's path for one answer: parse, the machine's plan, then its writes in its order. */
async function applyAnswer(
  body: string,
  machine: GatewayAgentState,
  wg: WireGuardInterface,
  filter: PacketFilter | null,
): Promise<void> {
  machine.handleSyncResult(Date.now(), { ok: true, response: parseSyncResponse(JSON.parse(body)) })
  for (let c = machine.pollCommand(); c !== null; c = machine.pollCommand()) {
    if (c.kind !== 'write') continue
    for (const step of c.steps) {
      if (step.kind === 'peers') await wg.applyPeers(step.delta)
      else if (step.kind === 'filter') await filter?.apply(step.change)
      else throw new Error(`unexpected ${step.kind} write in a delta`)
    }
    machine.handleWriteResult(Date.now(), { ok: true })
  }
}

export async function benchFilter(): Promise<Record<string, unknown>> {
  const missing = await missingForNetnsLab({ nft: true })
  if (missing.length > 0) return { skipped: `needs ${missing.join(', ')}` }
  const expiresAt = Date.now() + 3_600_000
  const snapshot = JSON.stringify(
    response(
      Array.from({ length: PEERS }, (_, i) => upsertAt(i, expiresAt)),
      [],
      true,
      1,
    ),
  )
  const lab = createNetnsLab()
  const withMs: number[] = []
  const withoutMs: number[] = []
  const addMs: number[] = []
  const removeMs: number[] = []
  let elements = 0
  try {
    const ns = await lab.namespace('fbench')
    for (let trial = 0; trial < TRIALS; trial++) {
      for (const kind of trial % 2 === 0 ? (['with', 'without'] as const) : (['without', 'with'] as const)) {
        const gw = await lab.startWireGuardGo(ns)
        const wg = createUapiInterface(gw.iface)
        await wg.setPrivateKey(generateKeyPair(random).privateKey)
        const filter = createNftPacketFilter(gw.iface, { commandPrefix: ['ip', 'netns', 'exec', ns] })
        // The agent writes its (empty) table at start, before any snapshot: not part of the apply.
        if (kind === 'with') await filter.replace({ iface: gw.iface, gatewayAddresses: [], elements: [] })
        const machine = agentState(gw.iface)
        const started = performance.now()
        await applyAnswer(snapshot, machine, wg, kind === 'with' ? filter : null)
        const elapsed = performance.now() - started
        ;(kind === 'with' ? withMs : withoutMs).push(elapsed)
        const count = (await wg.listPeers()).length
        if (count !== PEERS) throw new Error(`${kind} trial left ${count} peers, expected ${PEERS}`)
        if (kind === 'with') {
          const listed = await filter.list()
          elements = (listed.match(/\d \. \d/g) ?? []).length
          if (elements !== PEERS * 3)
            throw new Error(`the table holds ${elements} elements, expected ${PEERS * 3}`)
          // Incremental changes on the loaded gateway (last trial only, so each trial costs the same).
          if (trial === TRIALS - 1) {
            for (let n = 0; n < INCREMENTS; n++) {
              const added = upsertAt(PEERS + n, expiresAt)
              const addBody = JSON.stringify(response([added], [], false, 2 + 2 * n))
              let t = performance.now()
              await applyAnswer(addBody, machine, wg, filter)
              addMs.push(performance.now() - t)
              const removeBody = JSON.stringify(response([], [added.publicKey], false, 3 + 2 * n))
              t = performance.now()
              await applyAnswer(removeBody, machine, wg, filter)
              removeMs.push(performance.now() - t)
            }
          }
        }
        await filter.close()
        await gw.stop()
        // Each trial's table lives in the namespace: drop it so the next trial starts from nothing.
        await lab.exec(ns, ['nft', 'flush', 'ruleset'])
      }
    }
  } finally {
    await lab.cleanup()
  }
  const withMedian = median(withMs)
  const withoutMedian = median(withoutMs)
  const incremental = median([...addMs, ...removeMs])
  return {
    name: 'filter.snapshot_and_incremental',
    peers: PEERS,
    prefixesPerPeer: 3,
    filterElements: elements,
    trials: TRIALS,
    snapshotWithFilterMedianMs: Math.round(withMedian),
    snapshotWithoutFilterMedianMs: Math.round(withoutMedian),
    filterAddsPercent: Math.round((withMedian / withoutMedian - 1) * 100),
    snapshotGoal: 'the filter adds at most 50 %',
    incrementalChanges: addMs.length + removeMs.length,
    incrementalMedianMs: Number(incremental.toFixed(1)),
    incrementalAddMedianMs: Number(median(addMs).toFixed(1)),
    incrementalRemoveMedianMs: Number(median(removeMs).toFixed(1)),
    incrementalGoal: 'median < 20 ms',
    withRunsMs: withMs.map(Math.round),
    withoutRunsMs: withoutMs.map(Math.round),
    note: 'agent path = JSON.parse + parseSyncResponse + the agent state machine (GatewayAgentState) and its writes (one nft -f, UAPI writes); wireguard-go over UAPI, nftables in a lab namespace; fresh interface and table per trial',
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchFilter(), null, 2))
}
