/**
 * Gateways' feed reads for their syncs. One issuance granted on a thousand gateways settles a thousand
 * held polls in the same turn of the event loop, and each re-reads its feed: one query each (through a
 * pool of ten) and the same preshared key opened a thousand times were most of the time from the
 * commit to the last gateway holding the lease (docs/benchmarks.md, "Broker restart"). Here those
 * reads are coalesced (read-coalescer.ts) into one statement per batch (Store.readGatewayFeeds), and
 * each distinct preshared key is opened once per batch, then remembered.
 *
 * Exactness is the store's: every request keeps its own gateway, cursor and answer, from one database
 * snapshot. A sync subscribes before it asks to read, so a commit landing while its read waits for a
 * batch still wakes it.
 */

import type { Gateway } from '../model.ts'
import { encodeBase64 } from '../peers/base64.ts'
import type { Clock, GatewayFeedPage, SecretSealer, Store } from '../ports.ts'
import { type CoalesceOptions, createReadCoalescer } from './read-coalescer.ts'

/** Changes per sync response; a gateway further behind gets `more: true` and asks again at once. */
export const FEED_PAGE_LIMIT = 2_000
/** Opened preshared keys kept between batches: more than the leases one wake-up usually carries. */
export const REMEMBERED_KEYS = 4_096

export interface FeedRead {
  page: GatewayFeedPage
  /** The opened preshared key (base64) of every lease the page upserts, by lease id. */
  presharedKeys: ReadonlyMap<string, string>
}

export interface GatewayFeedReader {
  /** The gateway's feed after `since` (FEED_PAGE_LIMIT changes at most, or a snapshot), with its
   *  upserts' preshared keys opened; null when this gateway was removed (or replaced) meanwhile. */
  read(gateway: Gateway, since: number): Promise<FeedRead | null>
}

export function createGatewayFeedReader(
  deps: { store: Store; sealer: SecretSealer; clock: Clock },
  options: CoalesceOptions,
): GatewayFeedReader {
  // Opened keys by their sealed value, oldest first (values, never promises: on Workers a promise of
  // one request must not settle another's). Keeping them adds nothing a memory dump would not give
  // anyway: the process holds KEYGATE_SECRET, which opens every stored key.
  const remembered = new Map<string, string>()

  const read = createReadCoalescer(async (batch: ReadonlyArray<{ gateway: Gateway; since: number }>) => {
    const pages = await deps.store.readGatewayFeeds(
      batch.map((r) => ({ gateway: r.gateway.name, since: r.since, gatewayId: r.gateway.id })),
      FEED_PAGE_LIMIT,
      deps.clock.now(),
    )
    // The same lease reaches every gateway it is granted on with the same sealed key: open it once.
    const opened = new Map<string, Promise<string>>()
    const open = (ciphertext: string): Promise<string> => {
      const known = remembered.get(ciphertext)
      if (known !== undefined) return Promise.resolve(known)
      let key = opened.get(ciphertext)
      if (key === undefined) {
        key = deps.sealer.open(ciphertext).then((plaintext) => {
          const encoded = encodeBase64(plaintext)
          if (remembered.size >= REMEMBERED_KEYS) remembered.delete(remembered.keys().next().value as string)
          remembered.set(ciphertext, encoded)
          return encoded
        })
        opened.set(ciphertext, key)
      }
      return key
    }
    // A key that does not open fails the syncs that need it, not the whole batch.
    return pages.map(async (page): Promise<FeedRead | null> => {
      if (page === null) return null
      const sealed = new Map<string, string>()
      for (const change of page.changes)
        if (change.kind === 'upsert') sealed.set(change.leaseId, change.presharedKeyCiphertext)
      const keys = await Promise.all([...sealed].map(async ([lease, c]) => [lease, await open(c)] as const))
      return { page, presharedKeys: new Map(keys) }
    })
  }, options)
  return { read: (gateway, since) => read({ gateway, since }) }
}
