/**
 * In-process wake-ups for gateways long-polling their feed: a publish settles every waiter of the named
 * gateways at once. This is the whole notifier on a single Node process; the PostgreSQL notifier feeds
 * it from other replicas. `shutdown` answers every held poll at once and every later one immediately,
 * so a stopping broker is not held open by its long polls.
 */
import type { ChangeNotifier, WakeReason } from '../../core/ports.ts'

export interface LocalChangeNotifier extends ChangeNotifier {
  /** Wakes local waiters only, without re-broadcasting (for wake-ups that came from elsewhere). */
  wakeLocal(gateways: readonly string[]): void
  /** Settles every waiter (a "wake all" notice, a lost LISTEN); each re-reads its feed. */
  wakeAll(): void
  /** Settles every waiter with 'shutdown', and every later wait at once. */
  shutdown(): void
  waiting(): number
}

export function createLocalChangeNotifier(): LocalChangeNotifier {
  const waiters = new Map<string, Set<(reason: WakeReason) => void>>()
  let stopping = false

  function wake(gateways: Iterable<string>, reason: WakeReason) {
    for (const gateway of [...gateways]) {
      const set = waiters.get(gateway)
      if (set === undefined) continue
      waiters.delete(gateway)
      for (const settle of set) settle(reason)
    }
  }
  const wakeLocal = (gateways: readonly string[]) => wake(gateways, 'change')

  return {
    publish: wakeLocal,
    wakeLocal,
    wakeAll: () => wake(waiters.keys(), 'change'),
    shutdown() {
      stopping = true
      wake(waiters.keys(), 'shutdown')
    },
    waitForChange(gateway, timeoutMs) {
      if (stopping) return { changed: Promise.resolve('shutdown' as const), cancel() {} }
      let resolve!: (reason: WakeReason) => void
      const changed = new Promise<WakeReason>((r) => {
        resolve = r
      })
      let set = waiters.get(gateway)
      if (set === undefined) {
        set = new Set()
        waiters.set(gateway, set)
      }
      const entry = (reason: WakeReason) => {
        clearTimeout(timer)
        resolve(reason)
      }
      const timer = setTimeout(() => {
        waiters.get(gateway)?.delete(entry)
        resolve('timeout')
      }, timeoutMs)
      set.add(entry)
      return {
        changed,
        cancel() {
          waiters.get(gateway)?.delete(entry)
          entry('change')
        },
      }
    },
    waiting() {
      let n = 0
      for (const set of waiters.values()) n += set.size
      return n
    },
  }
}
