/**
 * The live sessions behind session cookies: the cookie names a session id only, and the claims (who,
 * which groups, what the sign-in proved) come from the store, with a short memory so the hot path
 * (every API call) does not pay a database round trip each time. A logout or step-up through this
 * process forgets the session at once; on other replicas a change shows within `ttlMs`.
 */
import type { SessionContext } from '../../core/broker/broker-deps.ts'
import type { Store } from '../../core/ports.ts'

export interface SessionLiveness {
  /** The session's claims while it is live; null when unknown, ended or expired. */
  read(sessionId: string, now: number): Promise<SessionContext | null>
  isLive(sessionId: string, now: number): Promise<boolean>
  forget(sessionId: string): void
}

export function createSessionLiveness(
  store: Pick<Store, 'readSession'>,
  ttlMs = 1_000,
  maxEntries = 10_000,
): SessionLiveness {
  const confirmed = new Map<string, { at: number; session: SessionContext }>()
  async function read(sessionId: string, now: number): Promise<SessionContext | null> {
    const known = confirmed.get(sessionId)
    if (known !== undefined && now - known.at < ttlMs && known.session.expiresAt > now) return known.session
    const row = await store.readSession(sessionId, now)
    confirmed.delete(sessionId)
    if (row === null) return null
    const { id, ...claims } = row
    const session: SessionContext = { ...claims, sessionId: id }
    // Insertion order makes the first key the oldest: a bounded FIFO is enough for a 1 s memory.
    if (confirmed.size >= maxEntries) confirmed.delete(confirmed.keys().next().value as string)
    confirmed.set(sessionId, { at: now, session })
    return session
  }
  return {
    read,
    async isLive(sessionId, now) {
      return (await read(sessionId, now)) !== null
    },
    forget(sessionId) {
      confirmed.delete(sessionId)
    },
  }
}
