// A ChangeNotifier for unit tests: it records every publish, and a wait settles as the test decides. By
// default a wait "times out" by moving the test's clock past its timeout (no timer runs), so a use case's
// deadline loop ends in test time; `nextWake` makes the next waits settle with another reason instead.
import type { ChangeNotifier, WakeReason } from '../../src/core/ports.ts'
import type { ManualClock } from './manual-clock.ts'

export interface RecordedWait {
  gateway: string
  timeoutMs: number
  since: number
  cancelled: boolean
}

export interface RecordingNotifier extends ChangeNotifier {
  /** Each publish's gateways, in order. */
  published: string[][]
  waits: RecordedWait[]
  /** Reasons the next waits settle with, first one first; when empty a wait times out. */
  nextWake: Array<WakeReason | (() => WakeReason)>
}

export function createRecordingNotifier(clock: ManualClock): RecordingNotifier {
  const notifier: RecordingNotifier = {
    published: [],
    waits: [],
    nextWake: [],
    publish(gateways) {
      notifier.published.push([...gateways])
    },
    waitForChange(gateway, timeoutMs, since) {
      const wait: RecordedWait = { gateway, timeoutMs, since, cancelled: false }
      notifier.waits.push(wait)
      // Settled only when the waiter reads `changed` (a cancelled wait never moves the clock).
      let changed: Promise<WakeReason> | null = null
      return {
        get changed() {
          changed ??= Promise.resolve().then(() => {
            const next = notifier.nextWake.shift()
            if (next !== undefined) return typeof next === 'function' ? next() : next
            clock.advance(timeoutMs)
            return 'timeout' as const
          })
          return changed
        },
        cancel() {
          wait.cancelled = true
        },
      }
    },
  }
  return notifier
}
