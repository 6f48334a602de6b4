// The gateway agent's decisions with no I/O and no timers: time is a number passed in, the jitter is
// scripted, and every broker answer, write result and interface read is an input. Each test runs the
// machine in milliseconds of test time (startup, backoff, failover across broker URLs, a protocol mismatch,
// a failed write and its repair, a resync after a gap, expiry on the broker's clock, status and cursor).
import { describe, expect, it } from 'vitest'
import { retryDelay, UNREACHABLE_RETRY } from '../../../src/core/sync/backoff.ts'
import {
  type AgentCommand,
  GatewayAgentState,
  type GatewayAgentStateOptions,
  REPAIR_BACKOFF,
  type SavedCursor,
  STATUS_DEBOUNCE_MS,
  type SyncFailure,
} from '../../../src/core/sync/gateway-agent-state.ts'
import type { InterfacePeer } from '../../../src/core/sync/peer-state.ts'
import { PROTOCOL_VERSION, type SyncResponse, type SyncUpsert } from '../../../src/core/sync/protocol.ts'

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n))
/** A well-formed key without the cost of a curve operation (the machine never checks a key's math). */
const key = () => btoa(String.fromCharCode(...random(32)))
const T0 = 1_800_000_000_000
const BACKOFF = { baseMs: 100, maxMs: 1_600 }

function upsert(ip: string, expiresAt = T0 + 3_600_000, routes = ['10.61.0.0/24']): SyncUpsert {
  return {
    publicKey: key(),
    presharedKey: key(),
    allowedIps: [`${ip}/32`],
    routes,
    expiresAt,
  }
}

function page(now: number, overrides: Partial<SyncResponse> = {}): SyncResponse {
  return {
    protocolVersion: PROTOCOL_VERSION,
    version: 1,
    reset: false,
    upserts: [],
    removals: [],
    serverTime: now,
    more: false,
    network: { ipv4: '100.96.0.0/16', ipv6: null },
    ...overrides,
  }
}

function onInterface(u: SyncUpsert, latestHandshake: number | null = null): InterfacePeer {
  return {
    publicKey: u.publicKey,
    presharedKey: u.presharedKey,
    allowedIps: u.allowedIps,
    endpoint: null,
    latestHandshake,
  }
}

const unreachable: SyncFailure = {
  kind: 'unreachable',
  retryAfterMs: null,
  code: null,
  message: 'ECONNREFUSED',
}
const failed: SyncFailure = { kind: 'failed', retryAfterMs: null, code: null, message: '500' }

/** A machine with a scripted jitter (0 unless told), and helpers that drain its commands. */
function machine(
  overrides: Partial<GatewayAgentStateOptions> = {},
  start: { cursor?: SavedCursor | null; actual?: InterfacePeer[]; now?: number } = {},
) {
  const jitter: number[] = []
  const m = new GatewayAgentState(
    {
      iface: 'wg0',
      gatewayAddresses: ['100.96.0.1'],
      enforcement: 'nftables',
      brokerCount: 1,
      waitSeconds: 25,
      statusIntervalMs: 15_000,
      driftCheckIntervalMs: 60_000,
      backoff: BACKOFF,
      cursorSaveDelayMs: 1_000,
      random01: () => jitter.shift() ?? 0,
      ...overrides,
    },
    { now: start.now ?? T0, cursor: start.cursor ?? null, actual: start.actual ?? [] },
  )
  /** Every command the machine has now, logs left out unless asked for. */
  const drain = (withLogs = false): AgentCommand[] => {
    const out: AgentCommand[] = []
    for (let c = m.pollCommand(); c !== null; c = m.pollCommand())
      if (withLogs || c.kind !== 'log') out.push(c)
    return out
  }
  const only = <K extends AgentCommand['kind']>(commands: AgentCommand[], kind: K) =>
    commands.filter((c): c is Extract<AgentCommand, { kind: K }> => c.kind === kind)
  /** Starts the machine: the start reconcile succeeds; returns what follows it. */
  const started = (now = T0) => {
    const first = drain()
    expect(first.map((c) => c.kind)).toEqual(['write'])
    m.handleWriteResult(now, { ok: true })
    return drain()
  }
  return { m, jitter, drain, only, started }
}

describe('gateway agent state: start-up', () => {
  it('reconciles before it asks the broker: strays leave, the table is rewritten, missing peers go on', () => {
    const kept = upsert('100.96.0.2')
    const stray = upsert('100.96.0.3')
    const cursor: SavedCursor = {
      version: 7,
      peers: [
        {
          publicKey: kept.publicKey,
          allowedIps: kept.allowedIps,
          routes: kept.routes,
          expiresAt: kept.expiresAt,
        },
      ],
    }
    const { m, drain } = machine({}, { cursor, actual: [onInterface(kept), onInterface(stray)] })
    const [write, ...rest] = drain()
    expect(rest).toEqual([])
    expect(write).toMatchObject({ kind: 'write', why: 'start-reconcile' })
    const steps = (write as Extract<AgentCommand, { kind: 'write' }>).steps
    expect(steps.map((s) => s.kind)).toEqual(['peers', 'filter-table'])
    expect(steps[0]).toEqual({ kind: 'peers', delta: { set: [], remove: [stray.publicKey] } })
    expect(steps[1]).toMatchObject({
      spec: { iface: 'wg0', elements: [{ family: 4, source: '100.96.0.2', destination: '10.61.0.0/24' }] },
    })
    expect(m.status()).toMatchObject({ started: false, version: 7, peerCount: 1 })
    // Nothing more until the write answers; then the first status and a sync from the restored cursor.
    expect(m.pollCommand()).toBeNull()
    m.handleWriteResult(T0 + 5, { ok: true })
    const next = drain()
    expect(next.map((c) => c.kind)).toEqual(['report-status', 'sync'])
    expect(next[1]).toEqual({ kind: 'sync', broker: 0, since: 7, waitSeconds: 25 })
  })

  it('asks for a snapshot when the cursor cannot be trusted (a peer is no longer on the interface)', () => {
    const gone = upsert('100.96.0.2')
    const cursor: SavedCursor = {
      version: 7,
      peers: [
        {
          publicKey: gone.publicKey,
          allowedIps: gone.allowedIps,
          routes: gone.routes,
          expiresAt: gone.expiresAt,
        },
      ],
    }
    const { only, started } = machine({}, { cursor, actual: [] })
    expect(only(started(), 'sync')[0]!.since).toBe(0)
  })
})

describe('gateway agent state: the broker', () => {
  it('backs off exponentially with jitter on failures, in test time, and resets after an answer', () => {
    const { m, jitter, drain, only, started } = machine()
    started()
    m.handleSyncResult(T0, { ok: true, response: page(T0, { version: 3 }) })
    drain()
    // Past the status and cursor debounce that answer started, so the only deadline left is the retry.
    let now = T0 + STATUS_DEBOUNCE_MS
    m.handleTimeout(now)
    drain()
    m.handleStatusResult(now, { ok: true })
    const delays: number[] = []
    for (let i = 0; i < 6; i++) {
      m.handleSyncResult(now, { ok: false, failure: failed })
      expect(only(drain(), 'sync')).toEqual([])
      const at = m.pollTimeout()!
      expect(at).toBeGreaterThan(now)
      delays.push(at - now)
      // Nothing is asked a millisecond early.
      m.handleTimeout(at - 1)
      expect(only(drain(), 'sync')).toEqual([])
      now = at
      m.handleTimeout(now)
      // It resumes from its cursor: the broker sends what changed since 3, not a snapshot.
      expect(only(drain(), 'sync').map((c) => c.since)).toEqual([3])
    }
    // Equal jitter at 0: half of 100, 200, 400, 800, 1600 (the cap), 1600.
    expect(delays).toEqual([50, 100, 200, 400, 800, 800])
    m.handleSyncResult(now, { ok: true, response: page(now, { version: 3 }) })
    expect(only(drain(), 'sync')).toHaveLength(1)
    jitter.push(0.999)
    m.handleSyncResult(now, { ok: false, failure: failed })
    expect(m.pollTimeout()! - now).toBe(retryDelay('failed', 0, 0.999, { policy: BACKOFF }))
  })

  it("never asks sooner than the broker's Retry-After when it is overloaded", () => {
    const { m, drain, started } = machine()
    started()
    m.handleSyncResult(T0, {
      ok: false,
      failure: { kind: 'overloaded', retryAfterMs: 7_000, code: null, message: '503' },
    })
    drain()
    expect(m.pollTimeout()).toBe(T0 + 7_000)
  })

  it('fails over across broker URLs at once, waits only when all failed, and stays where it was answered', () => {
    const { m, jitter, drain, only, started } = machine({ brokerCount: 3 })
    expect(only(started(), 'sync')[0]!.broker).toBe(0)
    m.handleStatusResult(T0, { ok: true })
    m.handleSyncResult(T0, { ok: false, failure: unreachable })
    expect(only(drain(), 'sync').map((c) => c.broker)).toEqual([1])
    m.handleSyncResult(T0, { ok: false, failure: unreachable })
    expect(only(drain(), 'sync').map((c) => c.broker)).toEqual([2])
    // The third failure in a row ends the round: wait (nobody listening: a second or less), then the first.
    jitter.push(0.5)
    m.handleSyncResult(T0, { ok: false, failure: unreachable })
    expect(only(drain(), 'sync')).toEqual([])
    const wait = m.pollTimeout()! - T0
    expect(wait).toBeGreaterThanOrEqual(UNREACHABLE_RETRY.minMs)
    expect(wait).toBeLessThan(UNREACHABLE_RETRY.maxMs)
    m.handleTimeout(T0 + wait)
    expect(only(drain(), 'sync').map((c) => c.broker)).toEqual([0])
    // This one refuses (a revoked credential): that is an answer, not asked elsewhere, and slow.
    m.handleSyncResult(T0 + wait, {
      ok: false,
      failure: { kind: 'refused', retryAfterMs: null, code: 'GATEWAY_CREDENTIAL_INVALID', message: '401' },
    })
    expect(only(drain(), 'sync')).toEqual([])
    expect(m.pollTimeout()! - (T0 + wait)).toBeGreaterThanOrEqual(BACKOFF.maxMs / 2)
    m.handleTimeout(m.pollTimeout()!)
    const again = only(drain(), 'sync')
    expect(again.map((c) => c.broker)).toEqual([0])
    // Broker 0 is down, broker 1 answers: the agent stays on broker 1, and reports status there.
    m.handleSyncResult(T0 + 10_000, { ok: false, failure: unreachable })
    expect(only(drain(), 'sync').map((c) => c.broker)).toEqual([1])
    m.handleSyncResult(T0 + 10_000, { ok: true, response: page(T0 + 10_000, { version: 0 }) })
    expect(only(drain(), 'sync').map((c) => c.broker)).toEqual([1])
    m.handleTimeout(T0 + 15_000)
    m.handleInterfaceRead(T0 + 15_000, { ok: true, peers: [] })
    expect(only(drain(), 'report-status').map((c) => c.broker)).toEqual([1])
  })

  it('fails closed on a protocol mismatch (426): says so once, installs nothing, still expires what it holds', () => {
    const held = upsert('100.96.0.2', T0 + 30_000)
    const { m, drain, only, started } = machine()
    started()
    m.handleSyncResult(T0, { ok: true, response: page(T0, { upserts: [held] }) })
    const first = drain()
    expect(only(first, 'write')).toHaveLength(1)
    m.handleWriteResult(T0, { ok: true })
    drain()
    const mismatch: SyncFailure = {
      kind: 'refused',
      retryAfterMs: null,
      code: 'GATEWAY_PROTOCOL_UNSUPPORTED',
      message: 'sync: 426 GATEWAY_PROTOCOL_UNSUPPORTED upgrade the agent',
    }
    m.handleSyncResult(T0 + 1, { ok: false, failure: mismatch })
    const after = drain()
    expect(only(after, 'fail-closed')).toEqual([{ kind: 'fail-closed', reason: mismatch.message }])
    expect(only(after, 'write')).toEqual([])
    expect(m.status()).toMatchObject({ failedClosed: mismatch.message, connected: false })
    // Retried at the slow end, and the second refusal is not announced again.
    const retryAt = m.pollTimeout()!
    expect(retryAt - (T0 + 1)).toBeGreaterThanOrEqual(BACKOFF.maxMs / 2)
    m.handleTimeout(retryAt)
    expect(only(drain(), 'sync')).toHaveLength(1)
    m.handleSyncResult(retryAt, { ok: false, failure: mismatch })
    expect(only(drain(), 'fail-closed')).toEqual([])
    // The held peer still leaves at its expiry, broker or no broker.
    let now = retryAt
    while (now < held.expiresAt) {
      now = Math.min(m.pollTimeout()!, held.expiresAt)
      m.handleTimeout(now)
      for (const c of drain()) {
        if (c.kind === 'sync') m.handleSyncResult(now, { ok: false, failure: mismatch })
        if (c.kind === 'report-status') m.handleStatusResult(now, { ok: false, error: '426' })
        if (c.kind === 'read-interface') m.handleInterfaceRead(now, { ok: true, peers: [onInterface(held)] })
        if (c.kind === 'write') {
          expect(c).toMatchObject({ why: 'expiry' })
          expect(now).toBe(held.expiresAt)
          expect(c.steps).toEqual([
            { kind: 'peers', delta: { set: [], remove: [held.publicKey] } },
            {
              kind: 'filter',
              change: { remove: [{ family: 4, source: '100.96.0.2', destination: '10.61.0.0/24' }], add: [] },
            },
          ])
          m.handleWriteResult(now, { ok: true })
        }
      }
    }
    expect(m.status().peerCount).toBe(0)
  })
})

describe('gateway agent state: writes', () => {
  it("orders one page's writes (removals, filter, additions) and runs one write at a time", () => {
    const a = upsert('100.96.0.2')
    const b = upsert('100.96.0.3')
    const { m, drain, only, started } = machine()
    started()
    m.handleSyncResult(T0, { ok: true, response: page(T0, { version: 1, upserts: [a] }) })
    const first = drain()
    expect(only(first, 'write')).toHaveLength(1)
    expect(only(first, 'sync')[0]!.since).toBe(1)
    // A second page arrives while the first write is in flight: it waits for it.
    m.handleSyncResult(T0 + 1, {
      ok: true,
      response: page(T0 + 1, { version: 2, upserts: [b], removals: [a.publicKey] }),
    })
    expect(only(drain(), 'write')).toEqual([])
    m.handleWriteResult(T0 + 2, { ok: true })
    const [second] = only(drain(), 'write')
    expect(second!.steps).toEqual([
      { kind: 'peers', delta: { set: [], remove: [a.publicKey] } },
      {
        kind: 'filter',
        change: {
          remove: [{ family: 4, source: '100.96.0.2', destination: '10.61.0.0/24' }],
          add: [{ family: 4, source: '100.96.0.3', destination: '10.61.0.0/24' }],
        },
      },
      { kind: 'peers', delta: { set: [expect.objectContaining({ publicKey: b.publicKey })], remove: [] } },
    ])
  })

  it('applies one added peer among 1,000 as a write of that peer and its pairs only', () => {
    const many = Array.from({ length: 1_000 }, (_, i) => upsert(`100.96.${1 + (i >> 8)}.${i & 255}`))
    const { m, drain, only, started } = machine()
    started()
    m.handleSyncResult(T0, { ok: true, response: page(T0, { version: 1, reset: true, upserts: many }) })
    drain()
    m.handleWriteResult(T0, { ok: true })
    const one = upsert('100.96.10.1', T0 + 3_600_000, ['10.61.0.0/24', '10.62.0.0/24', '10.63.0.0/24'])
    m.handleSyncResult(T0 + 1, { ok: true, response: page(T0 + 1, { version: 2, upserts: [one] }) })
    const [write] = only(drain(), 'write')
    expect(write!.summary).toMatchObject({
      set: 1,
      removed: 0,
      filterAdded: 3,
      filterRemoved: 0,
      peers: 1_001,
    })
    expect(write!.steps.map((s) => s.kind)).toEqual(['filter', 'peers'])
  })

  it('after a failed write: adds nothing more of it, repairs with a whole reconcile after a backoff', () => {
    const a = upsert('100.96.0.2')
    const b = upsert('100.96.0.3')
    const { m, drain, only, started } = machine()
    started()
    m.handleSyncResult(T0, { ok: true, response: page(T0, { version: 1, upserts: [a] }) })
    drain()
    m.handleWriteResult(T0 + 1, { ok: false, error: 'nft: Operation not permitted' })
    const afterFailure = drain(true)
    expect(afterFailure).toContainEqual(
      expect.objectContaining({ kind: 'log', level: 'error', event: 'gateway.write_failed' }),
    )
    // The repair waits: REPAIR_BACKOFF's first delay at jitter 0.
    expect(m.pollTimeout()).toBe(T0 + 1 + REPAIR_BACKOFF.baseMs / 2)
    // Meanwhile later pages still go out at once (a removal in them must not wait for the repair).
    m.handleSyncResult(T0 + 2, { ok: true, response: page(T0 + 2, { version: 2, upserts: [b] }) })
    const [delta] = only(drain(), 'write')
    expect(delta!.why).toBe('delta')
    m.handleWriteResult(T0 + 3, { ok: false, error: 'nft: Operation not permitted' })
    drain()
    m.handleTimeout(T0 + 1 + REPAIR_BACKOFF.baseMs / 2)
    expect(only(drain(), 'read-interface')).toHaveLength(1)
    // The interface holds neither peer (the filter step failed before them): the reconcile adds both, after
    // the whole table.
    m.handleInterfaceRead(T0 + 200, { ok: true, peers: [] })
    const [repair] = only(drain(), 'write')
    expect(repair!.why).toBe('repair')
    expect(repair!.steps.map((s) => s.kind)).toEqual(['filter-table', 'peers'])
    expect(repair!.steps[1]).toMatchObject({
      delta: { set: [{ publicKey: a.publicKey }, { publicKey: b.publicKey }] },
    })
    // The repair fails too: the next one backs off further.
    m.handleWriteResult(T0 + 201, { ok: false, error: 'still no nft' })
    drain()
    expect(m.pollTimeout()).toBe(T0 + 201 + REPAIR_BACKOFF.baseMs)
    m.handleTimeout(T0 + 201 + REPAIR_BACKOFF.baseMs)
    m.pollCommand()
    m.handleInterfaceRead(T0 + 500, { ok: true, peers: [] })
    drain()
    m.handleWriteResult(T0 + 501, { ok: true })
    drain()
    // Repaired: the next deadline is the status and cursor debounce, no further repair.
    expect(m.pollTimeout()).toBe(T0 + STATUS_DEBOUNCE_MS)
    m.handleTimeout(T0 + STATUS_DEBOUNCE_MS)
    expect(only(drain(), 'read-interface')).toEqual([])
  })

  it('resyncs after a gap: a reset replaces the set, taking out what the broker no longer has', () => {
    const old = upsert('100.96.0.2')
    const kept = upsert('100.96.0.3')
    const fresh = upsert('100.96.0.4')
    const saved = (u: SyncUpsert) => ({
      publicKey: u.publicKey,
      allowedIps: u.allowedIps,
      routes: u.routes,
      expiresAt: u.expiresAt,
    })
    const { m, drain, only, started } = machine(
      {},
      {
        cursor: { version: 40, peers: [saved(old), saved(kept)] },
        actual: [onInterface(old), onInterface(kept)],
      },
    )
    expect(only(started(), 'sync')[0]!.since).toBe(40)
    // The broker lost its history beyond 12 (restored from a backup): it answers with a snapshot.
    m.handleSyncResult(T0, {
      ok: true,
      response: page(T0, { version: 12, reset: true, upserts: [kept, fresh] }),
    })
    const commands = drain()
    const [write] = only(commands, 'write')
    expect(write!.why).toBe('snapshot')
    expect(write!.steps).toEqual([
      { kind: 'peers', delta: { set: [], remove: [old.publicKey] } },
      {
        kind: 'filter',
        change: {
          remove: [{ family: 4, source: '100.96.0.2', destination: '10.61.0.0/24' }],
          add: [{ family: 4, source: '100.96.0.4', destination: '10.61.0.0/24' }],
        },
      },
      {
        kind: 'peers',
        delta: { set: [expect.objectContaining({ publicKey: fresh.publicKey })], remove: [] },
      },
    ])
    expect(only(commands, 'sync')[0]!.since).toBe(12)
    expect(m.status()).toMatchObject({ version: 12, peerCount: 2 })
  })
})

describe('gateway agent state: time', () => {
  it("expires a peer at its expiry on the broker's clock when the local clock lags", () => {
    const short = upsert('100.96.0.2', T0 + 60_000)
    const { m, drain, only, started } = machine()
    started()
    // The broker's clock is 5 s ahead of ours: the peer must leave 5 s earlier by our clock.
    m.handleSyncResult(T0, { ok: true, response: page(T0 + 5_000, { upserts: [short] }) })
    expect(drain(true)).toContainEqual(expect.objectContaining({ kind: 'log', event: 'gateway.clock_lags' }))
    m.handleWriteResult(T0, { ok: true })
    drain()
    expect(m.status().clockLagMs).toBe(5_000)
    let now = T0
    for (;;) {
      const at = m.pollTimeout()!
      if (at >= T0 + 55_000) break
      now = at
      m.handleTimeout(now)
      for (const c of drain()) {
        if (c.kind === 'write') throw new Error(`early write at ${now - T0}`)
        if (c.kind === 'read-interface') m.handleInterfaceRead(now, { ok: true, peers: [onInterface(short)] })
        if (c.kind === 'report-status') m.handleStatusResult(now, { ok: true })
      }
    }
    expect(m.pollTimeout()).toBe(T0 + 55_000)
    m.handleTimeout(T0 + 55_000)
    expect(only(drain(), 'write').map((w) => w.why)).toEqual(['expiry'])
  })

  it('reports status soon after a change, at most once per debounce, and once more if one was in flight', () => {
    const { m, drain, only, started } = machine()
    const first = started()
    expect(only(first, 'report-status')).toHaveLength(1)
    m.handleStatusResult(T0, { ok: true })
    m.handleSyncResult(T0 + 10, {
      ok: true,
      response: page(T0 + 10, { version: 1, upserts: [upsert('100.96.0.2')] }),
    })
    drain()
    m.handleWriteResult(T0 + 11, { ok: true })
    m.handleSyncResult(T0 + 20, {
      ok: true,
      response: page(T0 + 20, { version: 2, upserts: [upsert('100.96.0.3')] }),
    })
    drain()
    expect(m.pollTimeout()).toBe(T0 + 10 + STATUS_DEBOUNCE_MS)
    m.handleTimeout(T0 + 10 + STATUS_DEBOUNCE_MS)
    const reports = only(drain(), 'report-status')
    expect(reports).toHaveLength(1)
    expect(reports[0]!.status).toMatchObject({ appliedVersion: 2, peerCount: 2, enforcement: 'nftables' })
    // A change while that report is in flight: one more report after it, not two.
    m.handleSyncResult(T0 + 1_100, {
      ok: true,
      response: page(T0 + 1_100, { version: 3, removals: [], upserts: [upsert('100.96.0.4')] }),
    })
    m.handleTimeout(T0 + 2_200)
    expect(only(drain(), 'report-status')).toEqual([])
    m.handleStatusResult(T0 + 2_300, { ok: true })
    expect(only(drain(), 'report-status').map((r) => r.status.appliedVersion)).toEqual([3])
  })

  it('reads handshakes on each status tick and reconciles on the drift interval', () => {
    const a = upsert('100.96.0.2')
    const { m, drain, only, started } = machine({ statusIntervalMs: 10_000, driftCheckIntervalMs: 30_000 })
    started()
    m.handleStatusResult(T0, { ok: true })
    m.handleSyncResult(T0, { ok: true, response: page(T0, { version: 1, upserts: [a] }) })
    drain()
    m.handleWriteResult(T0, { ok: true })
    m.handleTimeout(T0 + 1_000)
    drain()
    m.handleStatusResult(T0 + 1_000, { ok: true })
    for (const tick of [10_000, 20_000]) {
      m.handleTimeout(T0 + tick)
      expect(drain().map((c) => c.kind)).toEqual(['read-interface'])
      m.handleInterfaceRead(T0 + tick, { ok: true, peers: [onInterface(a, T0 + tick - 5)] })
      const [report] = only(drain(), 'report-status')
      expect(report!.status.latestHandshakes).toEqual({ [a.publicKey]: T0 + tick - 5 })
      m.handleStatusResult(T0 + tick, { ok: true })
    }
    // At 30 s the read is a reconcile: a stray added by hand leaves.
    const stray = upsert('100.96.0.9')
    m.handleTimeout(T0 + 30_000)
    expect(drain().map((c) => c.kind)).toEqual(['read-interface'])
    m.handleInterfaceRead(T0 + 30_000, { ok: true, peers: [onInterface(a), onInterface(stray)] })
    const commands = drain()
    const [drift] = only(commands, 'write')
    expect(drift!.why).toBe('drift')
    expect(drift!.steps[0]).toEqual({ kind: 'peers', delta: { set: [], remove: [stray.publicKey] } })
    expect(only(commands, 'report-status')).toHaveLength(1)
  })

  it('saves the cursor once per debounce after changes', () => {
    const a = upsert('100.96.0.2')
    const { m, drain, only, started } = machine({ cursorSaveDelayMs: 500 })
    started()
    m.handleSyncResult(T0, { ok: true, response: page(T0, { version: 1, upserts: [a] }) })
    m.handleSyncResult(T0 + 100, { ok: true, response: page(T0 + 100, { version: 2 }) })
    drain()
    m.handleTimeout(T0 + 499)
    expect(only(drain(), 'save-cursor')).toEqual([])
    m.handleTimeout(T0 + 500)
    expect(only(drain(), 'save-cursor')).toEqual([
      {
        kind: 'save-cursor',
        cursor: {
          version: 2,
          peers: [
            { publicKey: a.publicKey, allowedIps: a.allowedIps, routes: a.routes, expiresAt: a.expiresAt },
          ],
        },
      },
    ])
  })

  it('hands out nothing after stop', () => {
    const { m, drain, started } = machine()
    started()
    m.stop()
    m.handleSyncResult(T0, { ok: true, response: page(T0, { upserts: [upsert('100.96.0.2')] }) })
    expect(drain(true)).toEqual([])
    expect(m.pollTimeout()).toBeNull()
  })
})
