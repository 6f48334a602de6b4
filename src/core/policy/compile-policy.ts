/**
 * Compilation: a validated policy document becomes the immutable CompiledPolicy that decisions read.
 * Only called on documents without errors, so references are known to resolve.
 */
import {
  type AssuranceLevel,
  type CompiledDenyRule,
  type CompiledGrant,
  type CompiledPolicy,
  DEFAULT_MAX_LOGIN_AGE_SECONDS,
  DEFAULT_NETWORK,
  DEFAULT_TTL_MS,
  type PolicyGateway,
  type RouteEntry,
} from './compiled-policy.ts'
import { formatDuration } from './durations.ts'
import { createMemberIndex, indexMembers } from './member-index.ts'
import type { PolicyDocument } from './policy-document.ts'
import { DEFAULT_MAX_LEASES_PER_USER } from './read-policy-document.ts'
import { expandMembers, flattenGroups } from './resolve-groups.ts'

export function compilePolicy(doc: PolicyDocument, meta: { hash: string; fileName: string }): CompiledPolicy {
  const network = doc.network
    ? {
        ipv4: doc.network.ipv4.value.text,
        ipv6: doc.network.ipv6?.value.text ?? null,
        dns: doc.network.dns.map((d) => d.value),
      }
    : DEFAULT_NETWORK

  const gateways = new Map<string, PolicyGateway>()
  const routeTable: RouteEntry[] = []
  const routeIdsByGateway = new Map<string, Map<string, number>>()
  for (const gateway of doc.gateways) {
    const routes: Record<string, string[]> = {}
    const ids = new Map<string, number>()
    for (const route of gateway.routes) {
      const cidrs = [...new Set(route.cidrs.map((c) => c.value.text))]
      routes[route.name] = cidrs
      ids.set(route.name, routeTable.length)
      routeTable.push({
        gateway: gateway.name,
        route: route.name,
        name: `${gateway.name}:${route.name}`,
        cidrs,
      })
    }
    gateways.set(gateway.name, { endpoint: gateway.endpoint, routes })
    routeIdsByGateway.set(gateway.name, ids)
  }

  const assurance = new Map<string, AssuranceLevel>(
    doc.assurance.map((a) => [
      a.name,
      { name: a.name, mfa: a.mfa, amrAny: a.amrAny, acrAny: a.acrAny, maxAuthAgeMs: a.maxAuthAgeMs },
    ]),
  )
  const ages = doc.assurance.flatMap((a) => (a.maxAuthAgeMs === null ? [] : [a.maxAuthAgeMs]))
  const maxLoginAgeSeconds =
    ages.length === 0 ? DEFAULT_MAX_LOGIN_AGE_SECONDS : Math.floor(Math.min(...ages) / 1000)

  const groups = flattenGroups(doc.groups)
  const grantIndex = createMemberIndex()
  const grants: CompiledGrant[] = doc.grants.map((spec, index) => {
    const members = expandMembers(
      spec.src.map((m) => m.value),
      groups,
    )
    indexMembers(grantIndex, index, members)
    const routeIds = new Set<number>()
    for (const { value } of spec.dst) {
      const ids = routeIdsByGateway.get(value.gateway)
      if (ids === undefined) continue
      if (value.route === '*') for (const id of ids.values()) routeIds.add(id)
      else if (ids.has(value.route)) routeIds.add(ids.get(value.route)!)
    }
    const sorted = [...routeIds].sort((a, b) => a - b)
    const level = spec.assurance === null ? null : (assurance.get(spec.assurance.value) ?? null)
    const ttlMs = spec.ttlMs ?? DEFAULT_TTL_MS
    const dst = spec.dst.map((d) => `${d.value.gateway}:${d.value.route}`).join(', ')
    const summary = `${spec.id} allows ${dst}${level === null ? '' : ` at assurance "${level.name}"`} for up to ${formatDuration(ttlMs)}`
    return {
      id: spec.id,
      index,
      src: spec.src.map((m) => m.value.text),
      members,
      routeIds: sorted,
      gateways: new Set(sorted.map((id) => routeTable[id]!.gateway)),
      assurance: level,
      ttlMs,
      onUnmet: spec.onUnmet,
      summary,
    }
  })

  const denyIndex = createMemberIndex()
  const denyRules: CompiledDenyRule[] = doc.deny.map((rule, index) => {
    const members = expandMembers(
      rule.src.map((m) => m.value),
      groups,
    )
    indexMembers(denyIndex, index, members)
    return { id: rule.id, src: rule.src.map((m) => m.value.text), members }
  })

  const adminIndex = createMemberIndex()
  indexMembers(
    adminIndex,
    0,
    expandMembers(
      doc.admins.map((m) => m.value),
      groups,
    ),
  )

  return Object.freeze({
    hash: meta.hash,
    fileName: meta.fileName,
    network: Object.freeze(network),
    gateways,
    maxLoginAgeSeconds,
    maxLeasesPerUser: doc.leases?.maxPerUser ?? DEFAULT_MAX_LEASES_PER_USER,
    assurance,
    groups,
    routeTable,
    grants,
    denyRules,
    admins: doc.admins.map((m) => m.value.text),
    idpLogoutRevokesLeases: doc.sessions.idpLogoutRevokesLeases ?? true,
    grantIndex,
    denyIndex,
    adminIndex,
  })
}
