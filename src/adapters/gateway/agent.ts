/**
 * The gateway agent's I/O: enrolls once, then runs the sans-IO state machine (core/sync/gateway-agent-state.ts)
 * against the broker, one WireGuard interface, its packet filter and the state directory.
 *
 * Every decision (what to ask, when to retry and where, what to write and in which order, when a peer
 * expires, when to report) is the machine's; this module performs its commands and feeds the results back,
 * with one timer for the machine's next deadline. The machine allows one interface or filter write at a
 * time, so a poll result and an expiry never interleave. Before anything else the filter table is written:
 * an agent that cannot program it refuses to start (fail closed), unless enforcement is off.
 */
import { KeygateError } from '../../core/errors.ts'
import { generateKeyPair, publicKeyOf } from '../../core/peers/keys.ts'
import type { Clock, Logger, Random } from '../../core/ports.ts'
import { type BackoffPolicy, DEFAULT_BACKOFF, unitInterval } from '../../core/sync/backoff.ts'
import { BrokerRotation } from '../../core/sync/broker-rotation.ts'
import { elementsOf } from '../../core/sync/desired-peers.ts'
import {
  type AgentCommand,
  GatewayAgentState,
  restoreCursor,
  type SyncFailure,
} from '../../core/sync/gateway-agent-state.ts'
import type { PacketFilter } from '../../core/sync/packet-filter.ts'
import type { WireGuardInterface } from '../../core/sync/peer-state.ts'
import { DEFAULT_SYNC_WAIT_SECONDS, isGatewaySecret, PROTOCOL_VERSION } from '../../core/sync/protocol.ts'
import { programOrRefuse } from '../firewall/nft-packet-filter.ts'
import type { AgentStateStore, StoredCredential } from './agent-state.ts'
import { type BrokerClient, BrokerError } from './broker-client.ts'

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
  /** The packet filter for `wg` (nftables), or the disabled one when the operator turned enforcement off. */
  filter: PacketFilter
  /** One client per broker URL, in the operator's order; the machine picks which one is asked. */
  brokers: BrokerClient[]
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
}

const MAX_TIMER_MS = 2 ** 31 - 1

/** Starts the agent; resolves after enrollment and the start-up reconcile, with the loop running. */
export async function runGatewayAgent(
  options: GatewayAgentOptions,
  deps: GatewayAgentDeps,
): Promise<GatewayAgent> {
  const { wg, filter, brokers, state, clock, random, logger } = deps
  if (brokers.length === 0) throw new Error('at least one broker URL is needed')
  if (filter.enforcement === 'off') {
    logger.warn('gateway.enforcement_off', {
      interface: wg.name,
      note: 'no packet filter: every peer can reach everything this gateway routes to',
    })
  }
  const backoff = options.backoff ?? DEFAULT_BACKOFF
  const random01 = () => unitInterval(random.bytes(4))
  let stopped = false
  const abort = new AbortController()
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      abort.signal.addEventListener('abort', () => {
        clearTimeout(timer)
        resolve()
      })
    })

  // --- enrollment -------------------------------------------------------------------------------------
  if (options.listenPort != null) await wg.setListenPort(options.listenPort)
  const credential = await ensureEnrolled()
  // The overlay address is what the operator gives the interface (docs/gateways.md): say it here.
  logger.info('gateway.enrolled', {
    gateway: credential.gateway,
    publicKey: credential.publicKey,
    interface: wg.name,
    addressV4: credential.addressV4,
    addressV6: credential.addressV6,
  })

  // --- start-up: the table before any peer, then the machine (its first write is the start reconcile) ---
  const gatewayAddresses = [credential.addressV4, credential.addressV6].filter((a): a is string => a !== null)
  const actual = await wg.listPeers()
  const cursor = await state.loadCursor()
  {
    const restored = restoreCursor(cursor, actual, clock.now())
    await programOrRefuse(filter, {
      iface: wg.name,
      gatewayAddresses,
      elements: elementsOf(restored?.peers ?? []),
    })
  }
  const machine = new GatewayAgentState(
    {
      iface: wg.name,
      gatewayAddresses,
      enforcement: filter.enforcement,
      brokerCount: brokers.length,
      waitSeconds: options.waitSeconds ?? DEFAULT_SYNC_WAIT_SECONDS,
      statusIntervalMs: options.statusIntervalMs ?? 15_000,
      driftCheckIntervalMs: options.driftCheckIntervalMs ?? 60_000,
      backoff,
      cursorSaveDelayMs: options.cursorSaveDelayMs ?? 1_000,
      random01,
    },
    { now: clock.now(), cursor, actual },
  )

  // --- the loop: perform commands, feed results back, sleep until the next deadline or completion ------
  let wake: (() => void) | null = null
  const kick = () => wake?.()
  const inFlight = new Set<Promise<unknown>>()
  let started: () => void = () => {}
  const startedOnce = new Promise<void>((resolve) => {
    started = resolve
  })

  function track(work: Promise<unknown>): void {
    const done = work.catch((error: unknown) => logger.error('gateway.bug', { error: message(error) }))
    inFlight.add(done)
    done.finally(() => {
      inFlight.delete(done)
      if (machine.status().started) started()
      kick()
    })
  }

  function perform(command: AgentCommand): void {
    switch (command.kind) {
      case 'sync':
        track(
          brokers[command.broker]!.sync(
            credential.credential,
            command.since,
            command.waitSeconds,
            abort.signal,
          ).then(
            (response) => machine.handleSyncResult(clock.now(), { ok: true, response }),
            (error: unknown) =>
              machine.handleSyncResult(clock.now(), { ok: false, failure: failureOf(error) }),
          ),
        )
        return
      case 'write':
        track(write(command))
        return
      case 'read-interface':
        track(
          wg.listPeers().then(
            (peers) => machine.handleInterfaceRead(clock.now(), { ok: true, peers }),
            (error: unknown) =>
              machine.handleInterfaceRead(clock.now(), { ok: false, error: message(error) }),
          ),
        )
        return
      case 'report-status':
        track(
          brokers[command.broker]!.status(credential.credential, command.status).then(
            () => machine.handleStatusResult(clock.now(), { ok: true }),
            (error: unknown) => machine.handleStatusResult(clock.now(), { ok: false, error: message(error) }),
          ),
        )
        return
      case 'save-cursor':
        track(
          state
            .saveCursor(command.cursor)
            .catch((error: unknown) => logger.warn('gateway.cursor_save_failed', { error: message(error) })),
        )
        return
      case 'fail-closed':
        logger.error('gateway.fail_closed', {
          reason: command.reason,
          note: 'no new peers until the broker and agent speak the same protocol; held peers leave at their expiry',
        })
        return
      case 'log':
        logger[command.level](command.event, command.fields)
        return
    }
  }

  async function write(command: Extract<AgentCommand, { kind: 'write' }>): Promise<void> {
    const begun = clock.now()
    try {
      for (const step of command.steps) {
        if (step.kind === 'peers') await wg.applyPeers(step.delta)
        else if (step.kind === 'filter') await filter.apply(step.change)
        else await filter.replace(step.spec)
      }
    } catch (error) {
      machine.handleWriteResult(clock.now(), { ok: false, error: message(error) })
      return
    }
    const reconcile = command.steps.some((s) => s.kind === 'filter-table')
    logger.info(reconcile ? 'gateway.reconciled' : 'gateway.applied', {
      why: command.why,
      ...command.summary,
      ms: clock.now() - begun,
    })
    machine.handleWriteResult(clock.now(), { ok: true })
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      machine.handleTimeout(clock.now())
      for (let c = machine.pollCommand(); c !== null; c = machine.pollCommand()) perform(c)
      const at = machine.pollTimeout()
      await new Promise<void>((resolve) => {
        const timer =
          at === null ? null : setTimeout(resolve, Math.min(Math.max(at - clock.now(), 0), MAX_TIMER_MS))
        wake = () => {
          if (timer !== null) clearTimeout(timer)
          resolve()
        }
      })
      wake = null
    }
  }

  const running = loop()
  await startedOnce

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
    if (stored !== null && !isGatewaySecret(stored.credential))
      throw new KeygateError(
        'GATEWAY_CREDENTIAL_INVALID',
        'the stored credential has characters outside its alphabet: enroll again with a new token',
      )
    if (stored !== null && stored.publicKey === publicKey) return stored
    const token = options.token ?? null
    if (token === null || token === '') {
      throw new KeygateError(
        'ENROLLMENT_TOKEN_INVALID',
        stored === null
          ? 'This gateway is not enrolled yet: set KEYGATE_GATEWAY_TOKEN or pass --token-file with a token from `keygate gateway add NAME`'
          : `The interface's key (${publicKey}) is not the enrolled one (${stored.publicKey}): enroll again with a new token`,
      )
    }
    const rotation = new BrokerRotation(brokers.length, backoff, random01)
    for (;;) {
      try {
        const response = await brokers[rotation.current()]!.enroll(token, {
          protocolVersion: PROTOCOL_VERSION,
          publicKey,
        })
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
        const delay = rotation.failed(error)
        logger.warn('gateway.enroll_failed', { error: message(error), retryInMs: delay ?? 0 })
        if (delay !== null) await sleep(delay)
      }
    }
  }

  return {
    async stop() {
      if (stopped) return
      stopped = true
      machine.stop()
      abort.abort()
      kick()
      await running
      while (inFlight.size > 0) await Promise.all(inFlight)
      await filter.close()
      await state
        .saveCursor(machine.cursor())
        .catch((error: unknown) => logger.warn('gateway.cursor_save_failed', { error: message(error) }))
      const { version, peerCount } = machine.status()
      logger.info('gateway.stopped', { version, peers: peerCount })
    },
    snapshot() {
      const { version, peerCount, connected, clockLagMs } = machine.status()
      return {
        gateway: credential.gateway,
        publicKey: credential.publicKey,
        version,
        peerCount,
        connected,
        clockLagMs,
      }
    },
  }
}

/** A failed broker call as the machine reads it; an error that is not the broker's counts as "failed". */
function failureOf(error: unknown): SyncFailure {
  if (error instanceof BrokerError)
    return { kind: error.kind, retryAfterMs: error.retryAfterMs, code: error.code, message: error.message }
  return { kind: 'failed', retryAfterMs: null, code: null, message: message(error) }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
