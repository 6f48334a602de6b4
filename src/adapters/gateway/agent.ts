/**
 * The gateway agent: enrolls once, then keeps one WireGuard interface's peer set equal to what the broker
 * says, and removes every peer at its expiry on its own timer, broker or no broker.
 *
 * The decisions are core's (applyFeedPage, reconcilePeers, nextExpiry/dropExpired, backoffDelay); this module
 * is the I/O around them: the long-poll loop, timers, the state directory and the interface. Every interface
 * write goes through one queue, so a poll result and an expiry never interleave. The agent owns the
 * interface's peer set: on start it removes any peer it was not told to hold.
 */
import { KeygateError } from '../../core/errors.ts'
import { generateKeyPair, publicKeyOf } from '../../core/peers/keys.ts'
import type { Clock, Logger, Random } from '../../core/ports.ts'
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF, unitInterval } from '../../core/sync/backoff.ts'
import { applyFeedPage } from '../../core/sync/desired-peers.ts'
import { dropExpired, nextExpiry } from '../../core/sync/expiry.ts'
import type {
  DesiredPeers,
  InterfacePeer,
  PeerDelta,
  WireGuardInterface,
} from '../../core/sync/peer-state.ts'
import { DEFAULT_SYNC_WAIT_SECONDS, PROTOCOL_VERSION, type SyncResponse } from '../../core/sync/protocol.ts'
import { reconcilePeers } from '../../core/sync/reconcile.ts'
import type { AgentStateStore, StoredCredential, StoredCursor } from './agent-state.ts'
import { type BrokerClient, BrokerError } from './broker-client.ts'

/** How long after a change the agent reports what it applied (at most one report per this interval). */
export const STATUS_DEBOUNCE_MS = 1_000

export interface GatewayAgentOptions {
  /** One-time enrollment token; needed only until a credential is stored. */
  token?: string | null
  /** Set the interface's listen port on start (optional; otherwise left as configured). */
  listenPort?: number | null
  waitSeconds?: number
  /** Status report (and handshake read) interval. */
  statusIntervalMs?: number
  /** How often the interface is read back and reconciled against the desired set (drift repair). */
  driftCheckIntervalMs?: number
  backoff?: BackoffPolicy
  /** Debounce for writing the cursor to the state dir. */
  cursorSaveDelayMs?: number
}

export interface GatewayAgentDeps {
  wg: WireGuardInterface
  broker: BrokerClient
  state: AgentStateStore
  clock: Clock
  random: Random
  logger: Logger
}

export interface GatewayAgentSnapshot {
  gateway: string
  publicKey: string
  version: number
  peerCount: number
  connected: boolean
  /** Broker clock minus local clock when positive (the local clock lags), in ms; applied to expiry decisions. */
  clockLagMs: number
}

export interface GatewayAgent {
  stop(): Promise<void>
  snapshot(): GatewayAgentSnapshot
  /** Resolves once the next sync response (or failure) has been processed; for tests. */
  nextCycle(): Promise<void>
}

const MAX_TIMER_MS = 2 ** 31 - 1

/** Starts the agent; resolves after enrollment and the start-up reconcile, with the loop running. */
export async function runGatewayAgent(
  options: GatewayAgentOptions,
  deps: GatewayAgentDeps,
): Promise<GatewayAgent> {
  const { wg, broker, state, clock, random, logger } = deps
  const waitSeconds = options.waitSeconds ?? DEFAULT_SYNC_WAIT_SECONDS
  const statusIntervalMs = options.statusIntervalMs ?? 15_000
  const driftCheckIntervalMs = options.driftCheckIntervalMs ?? 60_000
  const backoff = options.backoff ?? DEFAULT_BACKOFF
  const cursorSaveDelayMs = options.cursorSaveDelayMs ?? 1_000

  let stopped = false
  const abort = new AbortController()
  const jitter = () => unitInterval(random.bytes(4))
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stopped) return resolve()
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        abort.signal.removeEventListener('abort', done)
        resolve()
      }
      abort.signal.addEventListener('abort', done)
    })

  // --- enrollment -------------------------------------------------------------------------------------
  if (options.listenPort != null) await wg.setListenPort(options.listenPort)
  const credential = await ensureEnrolled()
  logger.info('gateway.enrolled', {
    gateway: credential.gateway,
    publicKey: credential.publicKey,
    interface: wg.name,
  })

  // --- desired set, cursor and clock ------------------------------------------------------------------
  const desired: DesiredPeers = new Map()
  let version = 0
  let clockLagMs = 0
  let connected = false
  let needsReconcile = false
  let handshakes: Record<string, number> = {}
  const now = () => clock.now() + clockLagMs

  // One queue for every interface write.
  let queue: Promise<unknown> = Promise.resolve()
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = queue.then(fn, fn)
    queue = run.catch(() => {})
    return run
  }

  async function apply(delta: PeerDelta, why: string): Promise<void> {
    if (delta.set.length === 0 && delta.remove.length === 0) return
    const started = clock.now()
    try {
      await wg.applyPeers(delta)
    } catch (error) {
      // The desired set is already right; the interface is now unknown, so repair it with a full reconcile.
      needsReconcile = true
      scheduleRepair()
      throw error
    }
    logger.info('gateway.applied', {
      why,
      set: delta.set.length,
      removed: delta.remove.length,
      ms: clock.now() - started,
    })
  }

  async function reconcileNow(why: string): Promise<void> {
    await exclusive(async () => {
      dropExpired(desired, now())
      const actual = await wg.listPeers()
      rememberHandshakes(actual)
      needsReconcile = false
      await apply(reconcilePeers(actual, [...desired.values()], now()), why)
    })
  }

  // Start-up: restore the cursor if the interface still holds its peers, then make the interface match.
  {
    const actual = await wg.listPeers()
    const restored = restoreCursor(await state.loadCursor(), actual, now())
    if (restored !== null) {
      version = restored.version
      for (const peer of restored.peers) desired.set(peer.publicKey, peer)
      logger.info('gateway.cursor_restored', { version, peers: desired.size })
    }
    const delta = reconcilePeers(actual, [...desired.values()], now())
    await exclusive(() => apply(delta, 'start-reconcile')).catch((error: unknown) => {
      // apply() has marked the interface for repair; the loop retries it before its first poll.
      logger.error('gateway.reconcile_failed', { error: message(error) })
    })
  }

  // --- expiry timer -----------------------------------------------------------------------------------
  let expiryTimer: ReturnType<typeof setTimeout> | null = null
  function armExpiry(): void {
    if (expiryTimer !== null) clearTimeout(expiryTimer)
    expiryTimer = null
    if (stopped) return
    const next = nextExpiry(desired.values(), now())
    if (next === null) return
    expiryTimer = setTimeout(onExpiry, Math.min(Math.max(next - now(), 0), MAX_TIMER_MS))
  }
  function onExpiry(): void {
    expiryTimer = null
    exclusive(async () => {
      const removed = dropExpired(desired, now())
      if (removed.length > 0) {
        await apply({ set: [], remove: removed }, 'expiry')
        scheduleCursorSave()
      }
    })
      .catch((error: unknown) => logger.error('gateway.expiry_failed', { error: message(error) }))
      .finally(armExpiry)
  }

  let repairTimer: ReturnType<typeof setTimeout> | null = null
  let repairAttempt = 0
  function scheduleRepair(): void {
    if (repairTimer !== null || stopped) return
    repairTimer = setTimeout(
      () => {
        repairTimer = null
        reconcileNow('repair').then(
          () => {
            repairAttempt = 0
          },
          (error: unknown) => {
            logger.error('gateway.repair_failed', { error: message(error) })
            repairAttempt++
            scheduleRepair()
          },
        )
      },
      backoffDelay(repairAttempt, jitter(), { baseMs: 200, maxMs: 5_000 }),
    )
  }

  // --- cursor persistence -----------------------------------------------------------------------------
  let cursorTimer: ReturnType<typeof setTimeout> | null = null
  function scheduleCursorSave(): void {
    if (cursorTimer !== null || stopped) return
    cursorTimer = setTimeout(() => {
      cursorTimer = null
      saveCursor().catch((error: unknown) =>
        logger.warn('gateway.cursor_save_failed', { error: message(error) }),
      )
    }, cursorSaveDelayMs)
  }
  async function saveCursor(): Promise<void> {
    const snapshot: StoredCursor = {
      version,
      peers: [...desired.values()].map((p) => ({
        publicKey: p.publicKey,
        allowedIps: p.allowedIps,
        expiresAt: p.expiresAt ?? 0,
      })),
    }
    await state.saveCursor(snapshot)
  }

  // --- status -----------------------------------------------------------------------------------------
  function rememberHandshakes(actual: InterfacePeer[]): void {
    const next: Record<string, number> = {}
    for (const peer of actual)
      if (peer.latestHandshake !== null && desired.has(peer.publicKey))
        next[peer.publicKey] = peer.latestHandshake
    handshakes = next
  }
  let statusInFlight = false
  let statusDirty = false
  function sendStatus(): void {
    if (stopped) return
    if (statusInFlight) {
      statusDirty = true
      return
    }
    statusInFlight = true
    broker
      .status(credential.credential, {
        protocolVersion: PROTOCOL_VERSION,
        appliedVersion: version,
        peerCount: desired.size,
        latestHandshakes: handshakes,
      })
      .catch((error: unknown) => logger.debug('gateway.status_failed', { error: message(error) }))
      .finally(() => {
        statusInFlight = false
        if (statusDirty) {
          statusDirty = false
          sendStatus()
        }
      })
  }
  // After a change the broker hears what was applied soon, but not once per change: under a burst of
  // changes one report a second is enough for the admin view, and spares the broker a write per change.
  let statusSoonTimer: ReturnType<typeof setTimeout> | null = null
  function sendStatusSoon(): void {
    if (statusSoonTimer !== null || stopped) return
    statusSoonTimer = setTimeout(() => {
      statusSoonTimer = null
      sendStatus()
    }, STATUS_DEBOUNCE_MS)
  }
  let lastDriftCheck = clock.now()
  const statusTimer = setInterval(() => {
    const drift = clock.now() - lastDriftCheck >= driftCheckIntervalMs
    if (drift) lastDriftCheck = clock.now()
    const read = drift
      ? reconcileNow('drift')
      : exclusive(async () => rememberHandshakes(await wg.listPeers()))
    read
      .catch((error: unknown) => logger.warn('gateway.read_failed', { error: message(error) }))
      .finally(sendStatus)
  }, statusIntervalMs)

  // --- the long-poll loop -----------------------------------------------------------------------------
  const cycleWaiters: (() => void)[] = []
  const cycleDone = () => {
    for (const resolve of cycleWaiters.splice(0)) resolve()
  }

  async function handle(response: SyncResponse): Promise<void> {
    const lag = response.serverTime - clock.now()
    const newLag = lag > 1_000 ? lag : 0
    if (newLag !== 0 && Math.abs(newLag - clockLagMs) > 1_000) {
      logger.warn('gateway.clock_lags', { lagMs: newLag, note: 'expiries are enforced on the broker clock' })
    }
    clockLagMs = newLag
    await exclusive(async () => {
      const delta = applyFeedPage(desired, response, now())
      version = response.version
      await apply(delta, response.reset ? 'snapshot' : 'delta')
    })
    armExpiry()
    scheduleCursorSave()
  }

  async function loop(): Promise<void> {
    let attempt = 0
    while (!stopped) {
      try {
        if (needsReconcile) await reconcileNow('repair')
        const response = await broker.sync(credential.credential, version, waitSeconds, abort.signal)
        if (stopped) break
        if (!connected) logger.info('gateway.connected', { version })
        connected = true
        attempt = 0
        const changed =
          response.reset ||
          response.version !== version ||
          response.upserts.length + response.removals.length > 0
        await handle(response)
        if (changed) sendStatusSoon()
        cycleDone()
        if (response.more) continue
      } catch (error) {
        cycleDone()
        if (stopped) break
        connected = false
        const delay = backoffDelay(
          attempt++,
          jitter(),
          error instanceof BrokerError && !error.retryable ? { ...backoff, baseMs: backoff.maxMs } : backoff,
        )
        logger.warn('gateway.sync_failed', { error: message(error), retryInMs: delay, peers: desired.size })
        await sleep(delay)
      }
    }
  }

  armExpiry()
  const running = loop()
  sendStatus()

  async function ensureEnrolled(): Promise<StoredCredential> {
    let publicKey = await wg.getPublicKey()
    if (publicKey === null) {
      // Prefer the key this agent made before (the interface was recreated), else make one here.
      let privateKey = await state.loadPrivateKey()
      if (privateKey === null) {
        privateKey = generateKeyPair((n) => random.bytes(n)).privateKey
        await state.savePrivateKey(privateKey) // before the interface, so a crash in between loses nothing
        logger.info('gateway.key_created', { interface: wg.name })
      }
      await wg.setPrivateKey(privateKey)
      publicKey = publicKeyOf(privateKey)
    }
    const stored = await state.loadCredential()
    if (stored !== null && stored.publicKey === publicKey) return stored
    const token = options.token ?? null
    if (token === null || token === '') {
      throw new KeygateError(
        'ENROLLMENT_TOKEN_INVALID',
        stored === null
          ? 'This gateway is not enrolled yet: pass --token with a token from `keygate gateway add NAME`'
          : `The interface's key (${publicKey}) is not the enrolled one (${stored.publicKey}): enroll again with a new --token`,
      )
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await broker.enroll(token, { protocolVersion: PROTOCOL_VERSION, publicKey })
        const credential: StoredCredential = {
          gateway: response.gateway,
          credential: response.credential,
          publicKey,
          addressV4: response.addressV4,
          addressV6: response.addressV6,
          enrolledAt: clock.now(),
        }
        await state.saveCredential(credential)
        return credential
      } catch (error) {
        if (!(error instanceof BrokerError) || !error.retryable || stopped) {
          if (error instanceof BrokerError && error.code !== null)
            throw new KeygateError(error.code, error.message, { cause: error })
          throw error
        }
        const delay = backoffDelay(attempt, jitter(), backoff)
        logger.warn('gateway.enroll_failed', { error: message(error), retryInMs: delay })
        await sleep(delay)
      }
    }
  }

  return {
    async stop() {
      if (stopped) return
      stopped = true
      abort.abort()
      clearInterval(statusTimer)
      for (const timer of [expiryTimer, repairTimer, cursorTimer, statusSoonTimer])
        if (timer !== null) clearTimeout(timer)
      await running
      await queue
      await saveCursor().catch((error: unknown) =>
        logger.warn('gateway.cursor_save_failed', { error: message(error) }),
      )
      logger.info('gateway.stopped', { version, peers: desired.size })
    },
    snapshot() {
      return {
        gateway: credential.gateway,
        publicKey: credential.publicKey,
        version,
        peerCount: desired.size,
        connected,
        clockLagMs,
      }
    },
    nextCycle() {
      return new Promise((resolve) => cycleWaiters.push(resolve))
    },
  }
}

/**
 * The desired set saved before a restart, if it can be trusted: every unexpired peer in it must still be on
 * the interface (its preshared key is taken from there). Otherwise null, and the agent asks for a snapshot.
 */
function restoreCursor(
  cursor: StoredCursor | null,
  actual: InterfacePeer[],
  now: number,
): {
  version: number
  peers: { publicKey: string; presharedKey: string | null; allowedIps: string[]; expiresAt: number }[]
} | null {
  if (cursor === null || !Number.isSafeInteger(cursor.version) || !Array.isArray(cursor.peers)) return null
  const onInterface = new Map(actual.map((p) => [p.publicKey, p]))
  const peers = []
  for (const saved of cursor.peers) {
    if (saved.expiresAt <= now) continue
    const live = onInterface.get(saved.publicKey)
    if (live === undefined) return null
    peers.push({
      publicKey: saved.publicKey,
      presharedKey: live.presharedKey,
      allowedIps: saved.allowedIps,
      expiresAt: saved.expiresAt,
    })
  }
  return { version: cursor.version, peers }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
