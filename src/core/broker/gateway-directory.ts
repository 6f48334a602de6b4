/**
 * Enrolled gateways' public keys and overlay addresses, needed to render every client config, and the
 * gateway behind each credential, needed on every sync and status call. Reading them from the store each
 * time would add a round trip to hot paths, so this keeps short-lived copies; enrollment invalidates
 * them, and the staleness bound keeps replicas honest.
 */
import type { Gateway } from '../model.ts'
import type { Clock, Store } from '../ports.ts'
import { type CoalesceOptions, createReadCoalescer } from './read-coalescer.ts'

export interface GatewayDirectory {
  get(name: string): Promise<Gateway | null>
  /** The gateway a credential hash belongs to; every sync and status call asks, so it is remembered too. */
  byCredential(credentialHash: string): Promise<Gateway | null>
  invalidate(): void
}

export function createGatewayDirectory(
  store: Store,
  clock: Clock,
  maxAgeMs = 2_000,
  coalesce: CoalesceOptions = { coalesce: true },
): GatewayDirectory {
  let cached: { at: number; byName: Map<string, Gateway> } | null = null
  let loading: Promise<Map<string, Gateway>> | null = null

  async function load(): Promise<Map<string, Gateway>> {
    const now = clock.now()
    if (cached !== null && now - cached.at < maxAgeMs) return cached.byName
    // Concurrent issuances share one read instead of stampeding the store.
    loading ??= store.listGateways().then(
      (list) => {
        const byName = new Map(list.map((g) => [g.name, g]))
        cached = { at: clock.now(), byName }
        loading = null
        return byName
      },
      (error: unknown) => {
        loading = null
        throw error
      },
    )
    return loading
  }

  // Misses are remembered too, briefly, so a client repeating a bad credential costs no query each time
  // (the rate limit on failures stops one that varies it). A credential is new and random at enrolment,
  // and enrolment through this process clears the memory, so no good credential waits on a stale miss.
  const credentials = new Map<string, { at: number; gateway: Gateway | null }>()
  // A thousand agents reconnecting to a fresh process all miss at once: one statement per batch.
  const lookUp = createReadCoalescer(async (hashes: readonly string[]) => {
    const found = await store.findGatewaysByCredentials(hashes)
    return found.map((gateway) => Promise.resolve(gateway))
  }, coalesce)

  return {
    async get(name) {
      return (await load()).get(name) ?? null
    },
    async byCredential(credentialHash) {
      const known = credentials.get(credentialHash)
      if (known !== undefined && clock.now() - known.at < maxAgeMs) return known.gateway
      const gateway = await lookUp(credentialHash)
      credentials.delete(credentialHash)
      if (credentials.size >= 10_000) credentials.delete(credentials.keys().next().value as string)
      credentials.set(credentialHash, { at: clock.now(), gateway })
      return gateway
    },
    invalidate() {
      cached = null
      credentials.clear()
    },
  }
}
