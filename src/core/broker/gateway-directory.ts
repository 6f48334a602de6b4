/**
 * Enrolled gateways' public keys and overlay addresses, needed to render every client config.
 * Reading them from the store on each issuance would add a round trip to the hot path, so this keeps a
 * short-lived copy; enrollment invalidates it, and the staleness bound keeps replicas honest.
 */
import type { Gateway } from '../model.ts'
import type { Clock, Store } from '../ports.ts'

export interface GatewayDirectory {
  get(name: string): Promise<Gateway | null>
  invalidate(): void
}

export function createGatewayDirectory(store: Store, clock: Clock, maxAgeMs = 2_000): GatewayDirectory {
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

  return {
    async get(name) {
      return (await load()).get(name) ?? null
    },
    invalidate() {
      cached = null
    },
  }
}
