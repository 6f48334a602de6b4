/**
 * The gateway agent's decisions, as a sans-IO state machine (firezone's `GatewayState` shape): every input
 * carries `now`, nothing here waits, reads a clock or touches a socket. The agent's loop
 * (adapters/gateway/agent.ts) feeds it what happened (a sync answer or failure, a write's result, an
 * interface read, a status report's end, the passing of time) and performs the commands it hands out
 * (`pollCommand`) until none is left, then sleeps until `pollTimeout` or the next I/O completion.
 *
 * What it owns: the desired peer set and cursor, which broker is asked and when (failover across URLs,
 * backoff with jitter, the broker's Retry-After), the expiry schedule on the broker's clock, the order of
 * interface and filter writes (one at a time, orderApply's order), repair after a failed write, the drift
 * check, status reports (debounced) and cursor saves (debounced). It fails closed: a failed write adds no
 * peer until a whole reconcile succeeds, and an answer in another protocol version adds nothing while the
 * peers held still leave at their expiry.
 */
import { type BackoffPolicy, backoffDelay, type FailureKind } from './backoff.ts'
import { BrokerRotation } from './broker-rotation.ts'
import { applyFeedPage, elementsOf } from './desired-peers.ts'
import { nextExpiry } from './expiry.ts'
import { type FilterChange, type FilterSpec, orderApply } from './packet-filter.ts'
import type { DesiredPeers, InterfacePeer, PeerDelta, PeerState } from './peer-state.ts'
import { type Enforcement, PROTOCOL_VERSION, type StatusRequest, type SyncResponse } from './protocol.ts'
import { reconcilePeers } from './reconcile.ts'

/** The desired set as saved in the state directory, so a restart resumes from `version` without a snapshot. */
export interface SavedCursor {
  version: number
  /** `routes` is absent in cursors written before protocol v2 (the agent then asks for a snapshot). */
  peers: { publicKey: string; allowedIps: string[]; routes?: string[]; expiresAt: number }[]
}

/** One write to the interface or the filter; a write command runs its steps in order and stops at a failure. */
export type WriteStep =
  | { kind: 'peers'; delta: PeerDelta }
  | { kind: 'filter'; change: FilterChange }
  | { kind: 'filter-table'; spec: FilterSpec }

/** Why the interface is written: a feed page, an expiry, or a reconcile (start, repair, drift). */
export type WriteReason = 'snapshot' | 'delta' | 'expiry' | 'start-reconcile' | 'repair' | 'drift'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** What the I/O loop must do next. */
export type AgentCommand =
  /** Long-poll broker number `broker` for changes after `since`; answer with `handleSyncResult`. */
  | { kind: 'sync'; broker: number; since: number; waitSeconds: number }
  /** Run `steps` in order, stopping at the first failure; answer with `handleWriteResult`. */
  | { kind: 'write'; why: WriteReason; steps: WriteStep[]; summary: WriteSummary }
  /** One full read of the interface; answer with `handleInterfaceRead`. */
  | { kind: 'read-interface' }
  /** Report what is applied to broker number `broker`; answer with `handleStatusResult`. */
  | { kind: 'report-status'; broker: number; status: StatusRequest }
  /** Write the cursor to the state directory (fire and forget: a lost save costs a snapshot, not safety). */
  | { kind: 'save-cursor'; cursor: SavedCursor }
  /** The broker speaks another protocol: nothing new is installed until it does not. Say so, once. */
  | { kind: 'fail-closed'; reason: string }
  | { kind: 'log'; level: LogLevel; event: string; fields: Record<string, unknown> }

export interface WriteSummary {
  set: number
  removed: number
  filterAdded: number
  filterRemoved: number
  /** For reconciles: the size of the desired set. */
  peers: number
}

/** A failed broker call, as far as the machine cares: how to retry, the broker's code, one line. */
export interface SyncFailure {
  kind: FailureKind
  retryAfterMs: number | null
  code: string | null
  message: string
}

export interface GatewayAgentStateOptions {
  iface: string
  /** The gateway's own overlay addresses (no prefix), from enrollment. */
  gatewayAddresses: string[]
  enforcement: Enforcement
  /** How many broker URLs there are (at least one); `sync` and `report-status` name one by index. */
  brokerCount: number
  waitSeconds: number
  statusIntervalMs: number
  driftCheckIntervalMs: number
  backoff: BackoffPolicy
  cursorSaveDelayMs: number
  /** Uniform in [0, 1): the jitter source (a seeded or scripted one in tests). */
  random01: () => number
}

/** After a change the broker hears what was applied soon, but at most once per this interval. */
export const STATUS_DEBOUNCE_MS = 1_000
/** Repairs after a failed write: quick at first (a transient EBUSY), then no faster than every 5 s. */
export const REPAIR_BACKOFF: BackoffPolicy = { baseMs: 200, maxMs: 5_000 }
/** A lag under this is ordinary skew and ignored; above it expiries follow the broker's clock. */
const CLOCK_LAG_THRESHOLD_MS = 1_000

export interface GatewayAgentStatus {
  version: number
  peerCount: number
  connected: boolean
  clockLagMs: number
  /** Which broker URL (by index) is asked now. */
  broker: number
  /** Why nothing new is installed (another protocol version), or null. */
  failedClosed: string | null
  /** False until the start-up reconcile has run (whether or not it succeeded). */
  started: boolean
}

export class GatewayAgentState {
  private readonly options: GatewayAgentStateOptions
  private readonly desired: DesiredPeers = new Map()
  private version = 0
  private clockLagMs = 0
  private connected = false
  private now: number
  private stopped = false
  private started = false

  private readonly commands: AgentCommand[] = []

  // Broker: one sync in flight at most; `syncAt` null means "ask now".
  private syncInFlight = false
  private syncAt: number | null = null
  private readonly brokers: BrokerRotation
  private failedClosed: string | null = null

  // Interface and filter: one read or write in flight at most, in this order of priority.
  private ioBusy = false
  private readonly writes: Extract<AgentCommand, { kind: 'write' }>[] = []
  /** A reconcile is wanted (and why); it runs as a read, then one write. */
  private reconcileWanted: WriteReason | null = null
  private repairAt: number | null = null
  private repairAttempt = 0
  private handshakesWanted = false
  /** After the read in flight, report status (a status tick reads first). */
  private statusAfterRead = false
  private reading: 'reconcile' | 'handshakes' | null = null
  private writing: WriteReason | null = null

  private handshakes: Record<string, number> = {}
  private statusInFlight = false
  private statusDirty = false
  private statusSoonAt: number | null = null
  private nextStatusAt: number
  private lastDriftCheck: number
  private cursorSaveAt: number | null = null

  private expiryAt: number | null = null

  /**
   * `restored` is the saved cursor, if any; `actual` what the interface holds now. The machine starts with a
   * reconcile against `actual` (strays leave, the table is rewritten, missing peers go on) and asks the
   * broker only after it, then reports status.
   */
  constructor(
    options: GatewayAgentStateOptions,
    start: { now: number; cursor: SavedCursor | null; actual: InterfacePeer[] },
  ) {
    if (options.brokerCount < 1) throw new Error('at least one broker URL is needed')
    this.options = options
    this.brokers = new BrokerRotation(options.brokerCount, options.backoff, options.random01)
    this.now = start.now
    this.nextStatusAt = start.now + options.statusIntervalMs
    this.lastDriftCheck = start.now
    const restored = restoreCursor(start.cursor, start.actual, start.now)
    if (restored !== null) {
      this.version = restored.version
      for (const peer of restored.peers) this.desired.set(peer.publicKey, peer)
      this.log('info', 'gateway.cursor_restored', { version: this.version, peers: this.desired.size })
    }
    this.rememberHandshakes(start.actual)
    this.queueReconcile('start-reconcile', start.actual)
    this.refreshExpiry()
  }

  // --- inputs -----------------------------------------------------------------------------------------

  handleSyncResult(
    now: number,
    result: { ok: true; response: SyncResponse } | { ok: false; failure: SyncFailure },
  ): void {
    this.now = now
    this.syncInFlight = false
    if (this.stopped) return
    if (result.ok) this.onSyncAnswer(result.response)
    else this.onSyncFailure(result.failure)
  }

  handleWriteResult(now: number, result: { ok: true } | { ok: false; error: string }): void {
    this.now = now
    this.ioBusy = false
    const why = this.writing
    this.writing = null
    const wasReconcile = why !== null && isReconcile(why)
    if (wasReconcile) this.startedNow()
    if (result.ok) {
      if (wasReconcile) {
        this.repairAttempt = 0
        if (this.reconcileWanted === null) this.repairAt = null
      }
      return
    }
    // The desired set is right but the interface or table is unknown. The steps after the failed one did not
    // run, so a peer whose pairs failed was not added; a whole reconcile repairs both, after a little wait so
    // a persistent failure is not retried in a hot loop. Queued writes still run meanwhile: a removal in
    // them must not wait for the repair.
    this.log('error', wasReconcile ? 'gateway.repair_failed' : 'gateway.write_failed', {
      why,
      error: result.error,
    })
    this.scheduleRepair()
  }

  handleInterfaceRead(
    now: number,
    result: { ok: true; peers: InterfacePeer[] } | { ok: false; error: string },
  ): void {
    this.now = now
    this.ioBusy = false
    const purpose = this.reading
    this.reading = null
    if (result.ok) {
      this.rememberHandshakes(result.peers)
      if (purpose === 'reconcile' && this.reconcileWanted !== null) {
        const why = this.reconcileWanted
        this.reconcileWanted = null
        this.queueReconcile(why, result.peers)
      }
    } else {
      this.log('warn', 'gateway.read_failed', { error: result.error })
      if (purpose === 'reconcile') {
        this.reconcileWanted = null
        this.scheduleRepair()
      }
    }
    if (this.statusAfterRead) {
      this.statusAfterRead = false
      this.sendStatus()
    }
  }

  handleStatusResult(now: number, result: { ok: true } | { ok: false; error: string }): void {
    this.now = now
    this.statusInFlight = false
    if (!result.ok) this.log('debug', 'gateway.status_failed', { error: result.error })
    if (this.statusDirty) {
      this.statusDirty = false
      this.sendStatus()
    }
  }

  /** The passing of time: everything due at `now` happens. */
  handleTimeout(now: number): void {
    this.now = now
    if (this.stopped) return
    if (this.expiryAt !== null && this.brokerNow() >= this.expiryAt) this.expire()
    if (this.repairAt !== null && now >= this.repairAt) {
      this.repairAt = null
      this.reconcileWanted ??= 'repair'
    }
    if (this.statusSoonAt !== null && now >= this.statusSoonAt) {
      this.statusSoonAt = null
      this.sendStatus()
    }
    if (now >= this.nextStatusAt) {
      this.nextStatusAt = now + this.options.statusIntervalMs
      // The status tick reads the interface first (handshakes); every driftCheckIntervalMs that read is a
      // whole reconcile, which also removes peers and rules added by hand.
      if (now - this.lastDriftCheck >= this.options.driftCheckIntervalMs) {
        this.lastDriftCheck = now
        this.reconcileWanted ??= 'drift'
      } else {
        this.handshakesWanted = true
      }
      this.statusAfterRead = true
    }
    if (this.cursorSaveAt !== null && now >= this.cursorSaveAt) {
      this.cursorSaveAt = null
      this.commands.push({ kind: 'save-cursor', cursor: this.cursor() })
    }
  }

  /** No more commands; the loop aborts what is in flight and saves `cursor()`. */
  stop(): void {
    this.stopped = true
    this.commands.length = 0
    this.writes.length = 0
  }

  // --- outputs ----------------------------------------------------------------------------------------

  /** The next thing to do, or null when there is nothing until an I/O completes or `pollTimeout` passes. */
  pollCommand(): AgentCommand | null {
    const queued = this.commands.shift()
    if (queued !== undefined) return queued
    if (this.stopped) return null
    if (!this.ioBusy) {
      const write = this.writes.shift()
      if (write !== undefined) {
        this.ioBusy = true
        this.writing = write.why
        return write
      }
      if (this.reconcileWanted !== null || this.handshakesWanted) {
        this.ioBusy = true
        this.reading = this.reconcileWanted !== null ? 'reconcile' : 'handshakes'
        this.handshakesWanted = false
        return { kind: 'read-interface' }
      }
    }
    if (this.started && !this.syncInFlight && (this.syncAt === null || this.now >= this.syncAt)) {
      this.syncInFlight = true
      this.syncAt = null
      return {
        kind: 'sync',
        broker: this.brokers.current(),
        since: this.version,
        waitSeconds: this.options.waitSeconds,
      }
    }
    return null
  }

  /** The earliest time `handleTimeout` has something to do, or null for none. */
  pollTimeout(): number | null {
    if (this.stopped) return null
    // Expiries are on the broker's clock; every other deadline is on the local one.
    const expiry = this.expiryAt === null ? null : this.expiryAt - this.clockLagMs
    const deadlines = [
      expiry,
      this.repairAt,
      this.statusSoonAt,
      this.nextStatusAt,
      this.cursorSaveAt,
      this.syncInFlight ? null : this.syncAt,
    ].filter((t): t is number => t !== null)
    return deadlines.length === 0 ? null : Math.min(...deadlines)
  }

  status(): GatewayAgentStatus {
    return {
      version: this.version,
      peerCount: this.desired.size,
      connected: this.connected,
      clockLagMs: this.clockLagMs,
      broker: this.brokers.current(),
      failedClosed: this.failedClosed,
      started: this.started,
    }
  }

  cursor(): SavedCursor {
    return {
      version: this.version,
      peers: [...this.desired.values()].map((p) => ({
        publicKey: p.publicKey,
        allowedIps: p.allowedIps,
        routes: p.routes ?? [],
        expiresAt: p.expiresAt ?? 0,
      })),
    }
  }

  /** The whole table for the desired set. */
  filterSpec(): FilterSpec {
    return {
      iface: this.options.iface,
      gatewayAddresses: this.options.gatewayAddresses,
      elements: elementsOf(this.desired.values()),
    }
  }

  // --- the broker -------------------------------------------------------------------------------------

  private onSyncAnswer(response: SyncResponse): void {
    if (!this.connected) this.log('info', 'gateway.connected', { version: this.version })
    this.connected = true
    this.brokers.succeeded()
    if (this.failedClosed !== null) {
      this.log('info', 'gateway.fail_closed_cleared', {})
      this.failedClosed = null
    }
    const lag = response.serverTime - this.now
    const newLag = lag > CLOCK_LAG_THRESHOLD_MS ? lag : 0
    if (newLag !== 0 && Math.abs(newLag - this.clockLagMs) > CLOCK_LAG_THRESHOLD_MS)
      this.log('warn', 'gateway.clock_lags', {
        lagMs: newLag,
        note: 'expiries are enforced on the broker clock',
      })
    this.clockLagMs = newLag
    const changed =
      response.reset ||
      response.version !== this.version ||
      response.upserts.length + response.removals.length > 0
    const plan = applyFeedPage(this.desired, response, this.brokerNow())
    for (const refused of plan.refused) this.log('warn', 'gateway.upsert_refused', { ...refused })
    this.version = response.version
    this.queueWrite(response.reset ? 'snapshot' : 'delta', plan.peers, plan.filter)
    this.refreshExpiry()
    this.scheduleCursorSave()
    if (changed) this.statusSoonAt ??= this.now + STATUS_DEBOUNCE_MS
    this.syncAt = null // a long poll follows at once (and `more` pages likewise)
  }

  /** Another URL at once when this one is not answering, else a wait (broker-rotation.ts). */
  private onSyncFailure(failure: SyncFailure): void {
    this.connected = false
    if (failure.code === 'GATEWAY_PROTOCOL_UNSUPPORTED' && this.failedClosed === null) {
      this.failedClosed = failure.message
      this.commands.push({ kind: 'fail-closed', reason: failure.message })
    }
    const delay = this.brokers.failed(failure)
    if (delay === null) {
      this.log('warn', 'gateway.broker_failover', { error: failure.message, broker: this.brokers.current() })
      this.syncAt = null
      return
    }
    this.log('warn', 'gateway.sync_failed', {
      error: failure.message,
      retryInMs: delay,
      peers: this.desired.size,
    })
    this.syncAt = this.now + delay
  }

  // --- writes -----------------------------------------------------------------------------------------

  private queueWrite(why: WriteReason, peers: PeerDelta, filter: FilterChange): void {
    const steps: WriteStep[] = orderApply(peers, filter)
    if (steps.length === 0) return
    this.writes.push({
      kind: 'write',
      why,
      steps,
      summary: {
        set: peers.set.length,
        removed: peers.remove.length,
        filterAdded: filter.add.length,
        filterRemoved: filter.remove.length,
        peers: this.desired.size,
      },
    })
  }

  /**
   * Makes the interface and the table equal to the desired set: strays leave the interface, the table is
   * rewritten whole (hand-added rules in it go), then missing peers go on. A table that cannot be written
   * stops the write before any peer is added. Supersedes every queued delta (the desired set has them).
   */
  private queueReconcile(why: WriteReason, actual: InterfacePeer[]): void {
    this.dropExpired()
    const delta = reconcilePeers(actual, [...this.desired.values()], this.brokerNow())
    const steps: WriteStep[] = []
    if (delta.remove.length > 0) steps.push({ kind: 'peers', delta: { set: [], remove: delta.remove } })
    steps.push({ kind: 'filter-table', spec: this.filterSpec() })
    if (delta.set.length > 0) steps.push({ kind: 'peers', delta: { set: delta.set, remove: [] } })
    this.writes.length = 0
    this.writes.push({
      kind: 'write',
      why,
      steps,
      summary: {
        set: delta.set.length,
        removed: delta.remove.length,
        filterAdded: 0,
        filterRemoved: 0,
        peers: this.desired.size,
      },
    })
  }

  private scheduleRepair(): void {
    if (this.repairAt !== null || this.stopped) return
    this.repairAt = this.now + backoffDelay(this.repairAttempt++, this.options.random01(), REPAIR_BACKOFF)
  }

  // --- expiry -----------------------------------------------------------------------------------------

  private brokerNow(): number {
    return this.now + this.clockLagMs
  }

  private refreshExpiry(): void {
    this.expiryAt = nextExpiry(this.desired.values(), this.brokerNow())
  }

  private dropExpired(): PeerState[] {
    const gone: PeerState[] = []
    const at = this.brokerNow()
    for (const [key, peer] of this.desired) {
      if (peer.expiresAt !== undefined && peer.expiresAt <= at) {
        this.desired.delete(key)
        gone.push(peer)
      }
    }
    if (gone.length > 0) this.refreshExpiry()
    return gone
  }

  /** Peers whose time has come leave the desired set, the interface, then the filter: broker or no broker. */
  private expire(): void {
    const gone = this.dropExpired()
    if (gone.length === 0) return
    this.queueWrite(
      'expiry',
      { set: [], remove: gone.map((p) => p.publicKey) },
      { remove: elementsOf(gone), add: [] },
    )
    this.scheduleCursorSave()
  }

  // --- status and cursor ------------------------------------------------------------------------------

  private sendStatus(): void {
    if (this.stopped) return
    if (this.statusInFlight) {
      this.statusDirty = true
      return
    }
    this.statusInFlight = true
    this.commands.push({
      kind: 'report-status',
      broker: this.brokers.current(),
      status: {
        protocolVersion: PROTOCOL_VERSION,
        appliedVersion: this.version,
        peerCount: this.desired.size,
        latestHandshakes: this.handshakes,
        enforcement: this.options.enforcement,
      },
    })
  }

  private rememberHandshakes(actual: InterfacePeer[]): void {
    const next: Record<string, number> = {}
    for (const peer of actual)
      if (peer.latestHandshake !== null && this.desired.has(peer.publicKey))
        next[peer.publicKey] = peer.latestHandshake
    this.handshakes = next
  }

  private scheduleCursorSave(): void {
    this.cursorSaveAt ??= this.now + this.options.cursorSaveDelayMs
  }

  private startedNow(): void {
    if (this.started) return
    this.started = true
    this.sendStatus()
  }

  private log(level: LogLevel, event: string, fields: Record<string, unknown>): void {
    this.commands.push({ kind: 'log', level, event, fields })
  }
}

function isReconcile(why: WriteReason): boolean {
  return why === 'start-reconcile' || why === 'repair' || why === 'drift'
}

/**
 * The desired set saved before a restart, if it can be trusted: every unexpired peer in it must still be on
 * the interface (its preshared key is taken from there). Otherwise null, and the agent asks for a snapshot.
 */
export function restoreCursor(
  cursor: SavedCursor | null,
  actual: InterfacePeer[],
  now: number,
): { version: number; peers: PeerState[] } | null {
  if (cursor === null || !Number.isSafeInteger(cursor.version) || !Array.isArray(cursor.peers)) return null
  const onInterface = new Map(actual.map((p) => [p.publicKey, p]))
  const peers: PeerState[] = []
  for (const saved of cursor.peers) {
    if (saved.expiresAt <= now) continue
    const live = onInterface.get(saved.publicKey)
    // A cursor from before protocol v2 has no routes: only a snapshot can say what each peer may reach.
    if (live === undefined || !Array.isArray(saved.routes)) return null
    peers.push({
      publicKey: saved.publicKey,
      presharedKey: live.presharedKey,
      allowedIps: saved.allowedIps,
      routes: saved.routes,
      expiresAt: saved.expiresAt,
    })
  }
  return { version: cursor.version, peers }
}
