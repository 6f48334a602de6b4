/**
 * Whether a session is still live (not ended by logout or an admin), with a short memory so the hot
 * path (every API call) does not pay a database round trip each time. A logout through this process
 * forgets the session at once; on other replicas it ends within `ttlMs`.
 */
import type { Store } from '../../core/ports.ts'

export interface SessionLiveness {
  isLive(sessionId: string, now: number): Promise<boolean>
  forget(sessionId: string): void
}

export function createSessionLiveness(
  store: Pick<Store, 'isSessionLive'>,
  ttlMs = 1_000,
  maxEntries = 10_000,
): SessionLiveness {
  const confirmedAt = new Map<string, number>()
  return {
    async isLive(sessionId, now) {
      const at = confirmedAt.get(sessionId)
      if (at !== undefined && now - at < ttlMs) return true
      const live = await store.isSessionLive(sessionId, now)
      confirmedAt.delete(sessionId)
      if (live) {
        // Insertion order makes the first key the oldest: a bounded FIFO is enough for a 1 s memory.
        if (confirmedAt.size >= maxEntries) confirmedAt.delete(confirmedAt.keys().next().value as string)
        confirmedAt.set(sessionId, now)
      }
      return live
    },
    forget(sessionId) {
      confirmedAt.delete(sessionId)
    },
  }
}
