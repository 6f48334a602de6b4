/**
 * What administrators see of each gateway the policy declares: enrolled or not, when it last reported,
 * what it applied against what its feed holds, and how many peers it carries. One view for the admin API
 * and the admin console.
 */
import type { BrokerDeps } from './broker-deps.ts'

/** A gateway that has not reported for this long is shown as unhealthy (agents report every 15 s). */
export const GATEWAY_HEALTHY_WITHIN_MS = 60_000

export interface GatewayHealth {
  name: string
  endpoint: string
  routes: Record<string, string[]>
  enrolled: boolean
  publicKey: string | null
  lastSeenAt: number | null
  healthy: boolean
  appliedVersion: number | null
  feedVersion: number
  peerCount: number | null
  /** 'nftables' when the agent filters each peer to its grants; 'off' when started without enforcement. */
  enforcement: string | null
}

export async function describeGateways(
  deps: Pick<BrokerDeps, 'store' | 'clock' | 'policy'>,
): Promise<GatewayHealth[]> {
  const policy = deps.policy()
  const now = deps.clock.now()
  const enrolled = new Map((await deps.store.listGateways()).map((g) => [g.name, g]))
  return Promise.all(
    [...policy.gateways].map(async ([name, declared]) => {
      const g = enrolled.get(name)
      return {
        name,
        endpoint: declared.endpoint,
        routes: declared.routes,
        enrolled: g?.enrolledAt != null,
        publicKey: g?.publicKey ?? null,
        lastSeenAt: g?.lastSeenAt ?? null,
        healthy: g?.lastSeenAt != null && now - g.lastSeenAt < GATEWAY_HEALTHY_WITHIN_MS,
        appliedVersion: g?.appliedVersion ?? null,
        feedVersion: await deps.store.gatewayFeedVersion(name),
        peerCount: g?.peerCount ?? null,
        enforcement: g?.enforcement ?? null,
      }
    }),
  )
}
