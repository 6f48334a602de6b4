/**
 * Wake-ups across broker replicas that share one PostgreSQL: LISTEN/NOTIFY carries only the names of
 * gateways whose feed moved, never the data, so a lost notification costs latency, never correctness
 * (every waiter also times out and re-reads). NOTIFY runs after the commit, outside the issuing
 * transaction, so it never takes the global commit lock on the hot path's transaction.
 *
 * This module owns its LISTEN connection rather than using postgres.js's `listen`, which gives up
 * re-listening when one reconnect fails (a few seconds of outage then cost every cross-replica wake-up
 * until a restart). Here a lost connection is logged, LISTEN is re-issued with bounded backoff until it
 * succeeds, every local waiter re-reads its feed each `pollIntervalMs` while LISTEN is down (so
 * propagation degrades to about a second, never to the poll timeout), and after recovery every waiter
 * re-reads once, for what was missed. `status()` feeds /readyz and /metrics.
 *
 * A NOTIFY payload is at most 8,000 bytes: names go in chunks below that, and a change touching more
 * than a few chunks' worth, or a name too long for one, is sent as "wake everyone".
 */
import type postgres from 'postgres'
import type { ChangeNotifier, Logger } from '../../core/ports.ts'
import { createLocalChangeNotifier } from './local-change-notifier.ts'

export const FEED_CHANNEL = 'keygate_feed'
/** PostgreSQL refuses payloads of 8,000 bytes or more; JSON framing is counted inside this. */
export const MAX_NOTIFY_PAYLOAD_BYTES = 7_900
/** Beyond this many chunks one "wake all" is cheaper for everyone than many notifications. */
export const MAX_NOTIFY_CHUNKS = 8
export const DEFAULT_POLL_INTERVAL_MS = 1_000
const RELISTEN_MIN_MS = 100
const RELISTEN_MAX_MS = 1_000

/** What travels in a NOTIFY: the sender (to skip its own echo) and the gateways, or all of them. */
type FeedNotice = { from: string; gateways: string[] } | { from: string; all: true }

export interface ListenStatus {
  listening: boolean
  /** Times the LISTEN connection was lost since start. */
  losses: number
  /** Since when LISTEN has been down (ms since the epoch), or null. */
  downSince: number | null
}

export interface PgChangeNotifier extends ChangeNotifier {
  status(): ListenStatus
  /** Settles once LISTEN is in place (at start, a broker waits for it a little before serving). */
  whenListening(): Promise<void>
  /** Answers every held poll now, and every later one at once (the broker is stopping). */
  shutdown(): void
  waiting(): number
  close(): Promise<void>
}

export interface PgChangeNotifierOptions {
  /** Opens the dedicated LISTEN client (one connection), wired to these callbacks. */
  openListener(hooks: {
    onnotify: (channel: string, payload: string) => void
    onclose: () => void
  }): postgres.Sql
  /** A client to send NOTIFY on (the store's pool or a small one of its own). */
  notifySql: postgres.Sql
  logger: Logger
  pollIntervalMs?: number
  now?: () => number
}

/** Splits the names into NOTIFY payloads under the byte limit; one "all" payload when they do not fit. */
export function feedNoticePayloads(from: string, gateways: readonly string[]): string[] {
  const unique = [...new Set(gateways)]
  if (unique.length === 0) return []
  const all = [JSON.stringify({ from, all: true } satisfies FeedNotice)]
  const bytes = (text: string) => new TextEncoder().encode(text).length
  // Counted incrementally (linear in the names): the frame, then each JSON-quoted name and its comma.
  const frameBytes = bytes(JSON.stringify({ from, gateways: [] } satisfies FeedNotice))
  const chunks: string[][] = []
  let chunk: string[] = []
  let size = frameBytes
  for (const name of unique) {
    const cost = bytes(JSON.stringify(name)) + (chunk.length > 0 ? 1 : 0)
    if (size + cost > MAX_NOTIFY_PAYLOAD_BYTES) {
      if (chunk.length === 0) return all
      chunks.push(chunk)
      if (chunks.length >= MAX_NOTIFY_CHUNKS) return all
      chunk = []
      size = frameBytes
      if (size + bytes(JSON.stringify(name)) > MAX_NOTIFY_PAYLOAD_BYTES) return all
      chunk.push(name)
      size += bytes(JSON.stringify(name))
      continue
    }
    chunk.push(name)
    size += cost
  }
  chunks.push(chunk)
  return chunks.map((names) => JSON.stringify({ from, gateways: names } satisfies FeedNotice))
}

function parseNotice(payload: string): FeedNotice | null {
  try {
    const value = JSON.parse(payload) as Partial<{ from: unknown; gateways: unknown; all: unknown }>
    if (typeof value.from !== 'string') return null
    if (value.all === true) return { from: value.from, all: true }
    if (Array.isArray(value.gateways) && value.gateways.every((g) => typeof g === 'string'))
      return { from: value.from, gateways: value.gateways as string[] }
  } catch {}
  return null
}

export function createPgChangeNotifier(options: PgChangeNotifierOptions): PgChangeNotifier {
  const { logger } = options
  const now = options.now ?? Date.now
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS
  const local = createLocalChangeNotifier()
  const self = crypto.randomUUID()
  let listening = false
  let losses = 0
  let downSince: number | null = now()
  let closed = false
  let poller: ReturnType<typeof setInterval> | null = null
  let retryTimer: ReturnType<typeof setTimeout> | null = null
  let attempt = 0
  let establishing = false
  let onListening: Array<() => void> = []

  const listener = options.openListener({
    onnotify(channel, payload) {
      if (channel !== FEED_CHANNEL) return
      const notice = parseNotice(payload)
      if (notice === null) {
        logger.warn('feed.notice_malformed', { bytes: payload.length })
        return
      }
      if (notice.from === self) return
      if ('all' in notice) local.wakeAll()
      else local.wakeLocal(notice.gateways)
    },
    onclose() {
      if (closed || !listening) return
      listening = false
      losses++
      downSince = now()
      logger.warn('feed.listen_lost', {
        hint: 'waiting gateways re-read their feed every second until it is back',
      })
      startPolling()
      establish()
    },
  })

  function startPolling() {
    if (poller !== null) return
    poller = setInterval(() => local.wakeAll(), pollIntervalMs)
    poller.unref?.()
  }

  function stopPolling() {
    if (poller !== null) clearInterval(poller)
    poller = null
  }

  // postgres.js keeps a query queued while it reconnects (at its own, bounded, backoff: see
  // node-server.ts), so one LISTEN usually waits out the outage; a refusal during the server's start
  // (57P03) rejects it instead, and then it is re-issued here after a short, growing pause.
  function establish() {
    if (closed || establishing) return
    establishing = true
    listener`LISTEN ${listener(FEED_CHANNEL)}`.then(
      () => {
        establishing = false
        if (closed) return
        attempt = 0
        const wasDown = downSince
        listening = true
        downSince = null
        stopPolling()
        for (const resolve of onListening) resolve()
        onListening = []
        if (losses > 0 && wasDown !== null) {
          logger.info('feed.listen_recovered', { downMs: now() - wasDown })
        }
        // Whatever was published while LISTEN was down is lost; every waiter re-reads once.
        local.wakeAll()
      },
      (error: unknown) => {
        establishing = false
        if (closed) return
        attempt++
        const delay = Math.min(RELISTEN_MAX_MS, RELISTEN_MIN_MS * 2 ** Math.min(attempt, 10))
        logger.debug('feed.listen_retry', {
          attempt,
          delayMs: delay,
          error: error instanceof Error ? error.message : String(error),
        })
        retryTimer = setTimeout(establish, delay)
        retryTimer.unref?.()
      },
    )
  }

  startPolling()
  establish()

  return {
    publish(gateways) {
      if (gateways.length === 0) return
      local.wakeLocal(gateways)
      for (const payload of feedNoticePayloads(self, gateways)) {
        options.notifySql.notify(FEED_CHANNEL, payload).catch((error: unknown) => {
          // The other replicas lost the same database, so their LISTEN is down and they are polling.
          logger.warn('feed.notify_failed', { error: error instanceof Error ? error.message : String(error) })
        })
      }
    },
    waitForChange: local.waitForChange,
    status: () => ({ listening, losses, downSince }),
    whenListening: () =>
      listening ? Promise.resolve() : new Promise<void>((resolve) => onListening.push(resolve)),
    shutdown: () => local.shutdown(),
    waiting: () => local.waiting(),
    async close() {
      closed = true
      stopPolling()
      if (retryTimer !== null) clearTimeout(retryTimer)
      local.shutdown()
      await listener.end({ timeout: 1 })
    },
  }
}
