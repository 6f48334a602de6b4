/**
 * The ChangeNotifier on Workers, where there is no LISTEN/NOTIFY (Hyperdrive pools connections) and no
 * memory shared between isolates: a waiting gateway's request re-reads its feed version every
 * `intervalMs` until it moves or the wait ends. `publish` has nobody to tell; the next re-read sees it.
 *
 * The wait is shortened to `maxWaitMs` whatever the agent asks: each re-read is a query, and the agent
 * simply asks again when a wait ends empty. Latency from a commit to the gateway's answer is therefore
 * at most one interval plus a query (half an interval on average); docs/workers.md states the figures.
 */
import type { ChangeNotifier } from '../../core/ports.ts'

export const SYNC_POLL_INTERVAL_MS = 1_000
export const SYNC_MAX_WAIT_MS = 10_000

export interface PollingNotifierOptions {
  /** The gateway feed's newest committed version (Store.gatewayFeedVersion, in the current request). */
  version(gateway: string): Promise<number>
  /** The version the waiting gateway already holds (its `since`), when the request says; otherwise the
   *  first re-read is the baseline. */
  baseline?(): number | null
  intervalMs?: number
  maxWaitMs?: number
  /** Reports a failed re-read; the wait then ends early and the gateway asks again. */
  onError?(error: unknown): void
}

export function createPollingNotifier(options: PollingNotifierOptions): ChangeNotifier {
  const intervalMs = options.intervalMs ?? SYNC_POLL_INTERVAL_MS
  const maxWaitMs = options.maxWaitMs ?? SYNC_MAX_WAIT_MS
  return {
    publish() {},
    waitForChange(gateway, timeoutMs) {
      let cancelled = false
      let wake: () => void = () => {}
      let timer: ReturnType<typeof setTimeout> | undefined
      const sleep = (ms: number) =>
        new Promise<void>((resolve) => {
          wake = resolve
          timer = setTimeout(resolve, ms)
        })
      const changed = (async () => {
        const deadline = Date.now() + Math.min(timeoutMs, maxWaitMs)
        try {
          let baseline = options.baseline?.() ?? null
          baseline ??= await options.version(gateway)
          while (!cancelled) {
            const left = deadline - Date.now()
            if (left <= 0) return
            await sleep(Math.min(intervalMs, left))
            if (cancelled) return
            if ((await options.version(gateway)) !== baseline) return
          }
        } catch (error) {
          options.onError?.(error)
        }
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
