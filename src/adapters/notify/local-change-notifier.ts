/**
 * In-process wake-ups for gateways long-polling their feed: a publish settles every waiter of the named
 * gateways at once. This is the whole notifier on a single Node process; the PostgreSQL notifier feeds
 * it from other replicas.
 */
import type { ChangeNotifier } from '../../core/ports.ts'

export interface LocalChangeNotifier extends ChangeNotifier {
  /** Wakes local waiters only, without re-broadcasting (for wake-ups that came from elsewhere). */
  wakeLocal(gateways: readonly string[]): void
  waiting(): number
}

export function createLocalChangeNotifier(): LocalChangeNotifier {
  const waiters = new Map<string, Set<() => void>>()

  function wakeLocal(gateways: readonly string[]) {
    for (const gateway of gateways) {
      const set = waiters.get(gateway)
      if (set === undefined) continue
      waiters.delete(gateway)
      for (const wake of set) wake()
    }
  }

  return {
    publish: wakeLocal,
    wakeLocal,
    waitForChange(gateway, timeoutMs) {
      let settle!: () => void
      const changed = new Promise<void>((resolve) => {
        settle = resolve
      })
      let set = waiters.get(gateway)
      if (set === undefined) {
        set = new Set()
        waiters.set(gateway, set)
      }
      const entry = () => {
        clearTimeout(timer)
        settle()
      }
      const timer = setTimeout(() => {
        waiters.get(gateway)?.delete(entry)
        settle()
      }, timeoutMs)
      set.add(entry)
      return {
        changed,
        cancel() {
          waiters.get(gateway)?.delete(entry)
          entry()
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
