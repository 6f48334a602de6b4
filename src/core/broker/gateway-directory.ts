/**
 * Enrolled gateways' public keys and overlay addresses, needed to render every client config, and the
 * gateway behind each credential, needed on every sync and status call. Reading them from the store each
 * time would add a round trip to hot paths, so this keeps short-lived copies; enrollment invalidates
 * them, and the staleness bound keeps replicas honest.
 */
import type { Gateway } from '../model.ts'
import type { Clock, Store } from '../ports.ts'

export interface GatewayDirectory {
  get(name: string): Promise<Gateway | null>
  /** The gateway a credential hash belongs to; every sync and status call asks, so it is remembered too. */
  byCredential(credentialHash: string): Promise<Gateway | null>
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

  // Only hits are remembered: an unknown credential always asks the store, so enrolment takes effect at once.
  const credentials = new Map<string, { at: number; gateway: Gateway }>()

  return {
    async get(name) {
      return (await load()).get(name) ?? null
    },
    async byCredential(credentialHash) {
      const hit = credentials.get(credentialHash)
      if (hit !== undefined && clock.now() - hit.at < maxAgeMs) return hit.gateway
      const gateway = await store.findGatewayByCredential(credentialHash)
      credentials.delete(credentialHash)
      if (gateway !== null) {
        if (credentials.size >= 10_000) credentials.delete(credentials.keys().next().value as string)
        credentials.set(credentialHash, { at: clock.now(), gateway })
      }
      return gateway
    },
    invalidate() {
      cached = null
      credentials.clear()
    },
  }
}
