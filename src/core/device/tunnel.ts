/**
 * What a client needs to bring a lease's tunnel up, as data rather than wg-quick text: its addresses,
 * DNS, and one peer per granted, enrolled gateway (key, endpoint, allowed IPs). The same facts
 * renderLeaseConfig writes as a config; the client applies them to an interface itself. The preshared
 * key is not here: the client gets it once, when it collects the lease, and keeps it.
 */
import type { GatewayDirectory } from '../broker/gateway-directory.ts'
import type { Lease } from '../model.ts'
import type { CompiledPolicy } from '../policy/index.ts'

export interface TunnelPeer {
  gateway: string
  publicKey: string
  endpoint: string
  /** The gateway's routes for this lease, then the gateway's own overlay address. */
  allowedIps: string[]
}

export interface TunnelDescription {
  addresses: string[]
  dns: string[]
  peers: TunnelPeer[]
  /** Granted gateways that have not enrolled yet (no peer until they do). */
  pending: string[]
}

export async function describeTunnel(
  gateways: Pick<GatewayDirectory, 'get'>,
  policy: CompiledPolicy,
  lease: Lease,
): Promise<TunnelDescription> {
  const peers: TunnelPeer[] = []
  const pending: string[] = []
  for (const grant of lease.grants) {
    const declared = policy.gateways.get(grant.gateway)
    const enrolled = await gateways.get(grant.gateway)
    if (declared === undefined || enrolled?.publicKey == null) {
      pending.push(grant.gateway)
      continue
    }
    const overlay = [
      enrolled.addressV4 === null ? null : `${enrolled.addressV4}/32`,
      enrolled.addressV6 === null ? null : `${enrolled.addressV6}/128`,
    ].filter((ip): ip is string => ip !== null)
    peers.push({
      gateway: grant.gateway,
      publicKey: enrolled.publicKey,
      endpoint: declared.endpoint,
      allowedIps: [...grant.routes, ...overlay],
    })
  }
  return {
    addresses: [`${lease.addressV4}/32`, ...(lease.addressV6 === null ? [] : [`${lease.addressV6}/128`])],
    dns: [...policy.network.dns],
    peers,
    pending,
  }
}
