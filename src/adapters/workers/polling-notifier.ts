/**
 * The ChangeNotifier on Workers, where there is no LISTEN/NOTIFY (Hyperdrive pools connections) and no
 * memory shared between isolates: a waiting gateway's request re-reads its feed version every
 * `intervalMs` until it differs from the `since` the waiter holds, or the wait ends. `publish` has
 * nobody to tell; the next re-read sees it.
 *
 * The deadline is the caller's (core/broker/gateway-feed.ts caps a Worker's sync at SYNC_MAX_WAIT_MS
 * through BrokerDeps.maxSyncWaitMs): this never settles after `timeoutMs`. Latency from a commit to the
 * gateway's answer is at most one interval plus a query; docs/workers.md states the figures.
 */
import type { ChangeNotifier, WakeReason } from '../../core/ports.ts'

export const SYNC_POLL_INTERVAL_MS = 1_000
/** What a Worker's sync is held at most (each re-read is a query; the agent simply asks again). */
export const SYNC_MAX_WAIT_MS = 10_000

export interface PollingNotifierOptions {
  /** The gateway feed's newest committed version (Store.gatewayFeedVersion, in the current request). */
  version(gateway: string): Promise<number>
  intervalMs?: number
  /** Reports a failed re-read; the wait then ends early and the gateway asks again. */
  onError?(error: unknown): void
  now?: () => number
}

export function createPollingNotifier(options: PollingNotifierOptions): ChangeNotifier {
  const intervalMs = options.intervalMs ?? SYNC_POLL_INTERVAL_MS
  const now = options.now ?? Date.now
  return {
    publish() {},
    waitForChange(gateway, timeoutMs, since) {
      let cancelled = false
      let wake: () => void = () => {}
      let timer: ReturnType<typeof setTimeout> | undefined
      const sleep = (ms: number) =>
        new Promise<void>((resolve) => {
          wake = resolve
          timer = setTimeout(resolve, ms)
        })
      const changed = (async (): Promise<WakeReason> => {
        const deadline = now() + timeoutMs
        try {
          while (!cancelled) {
            const left = deadline - now()
            if (left <= 0) return 'timeout'
            await sleep(Math.min(intervalMs, left))
            if (cancelled) return 'change'
            if (deadline - now() <= 0) return 'timeout'
            if ((await options.version(gateway)) !== since) return 'change'
          }
        } catch (error) {
          options.onError?.(error)
        }
        return 'change'
      })()
      return {
        changed,
        cancel() {
          cancelled = true
          clearTimeout(timer)
          wake()
        },
      }
    },
  }
}
