/**
 * The compiled policy: an immutable snapshot built once per load and shared by every decision until the
 * next swap. Everything a decision needs is precomputed here (flattened groups, member indexes, expanded
 * routes, reason texts), so evaluation does lookups and no parsing.
 */
import type { MemberIndex } from './member-index.ts'
import type { OnUnmet } from './policy-document.ts'
import type { PrimitiveMember } from './resolve-groups.ts'

export interface PolicyNetwork {
  ipv4: string
  ipv6: string | null
  dns: string[]
}

export interface PolicyGateway {
  endpoint: string
  /** Route name -> CIDR prefixes, in file order. */
  routes: Record<string, string[]>
}

export interface AssuranceLevel {
  name: string
  mfa: boolean
  amrAny: readonly string[] | null
  acrAny: readonly string[] | null
  maxAuthAgeMs: number | null
}

/** One route of one gateway; its position in `routeTable` is its id, in file order. */
export interface RouteEntry {
  gateway: string
  route: string
  /** `GATEWAY:ROUTE` */
  name: string
  cidrs: readonly string[]
}

export interface CompiledGrant {
  id: string
  index: number
  /** The grant's src as written, and what it reaches with groups flattened. */
  src: readonly string[]
  members: readonly PrimitiveMember[]
  /** Ids into `routeTable`, ascending. */
  routeIds: readonly number[]
  gateways: ReadonlySet<string>
  assurance: AssuranceLevel | null
  ttlMs: number
  onUnmet: OnUnmet
  /** Text for the reason this grant adds to a decision it contributes to. */
  summary: string
}

export interface CompiledDenyRule {
  id: string
  src: readonly string[]
  members: readonly PrimitiveMember[]
}

export interface CompiledPolicy {
  /** Hex SHA-256 of the source text: stamped on every lease and audit event. */
  readonly hash: string
  readonly fileName: string
  readonly network: PolicyNetwork
  readonly gateways: ReadonlyMap<string, PolicyGateway>
  /** The smallest maxAuthAge of any assurance level, in seconds (3600 when none): sent as OIDC max_age. */
  readonly maxLoginAgeSeconds: number
  /** Live leases one identity may hold at once (`leases.maxPerUser`). */
  readonly maxLeasesPerUser: number
  readonly assurance: ReadonlyMap<string, AssuranceLevel>
  readonly groups: ReadonlyMap<string, readonly PrimitiveMember[]>
  readonly routeTable: readonly RouteEntry[]
  readonly grants: readonly CompiledGrant[]
  readonly denyRules: readonly CompiledDenyRule[]
  readonly admins: readonly string[]
  /** An IdP's back-channel logout revokes the identity's live leases too (default true: signing out at
   *  the IdP is how an organisation cuts someone off, so the safe reading is "all access ends"). */
  readonly idpLogoutRevokesLeases: boolean
  readonly grantIndex: MemberIndex
  readonly denyIndex: MemberIndex
  readonly adminIndex: MemberIndex
}

export const DEFAULT_TTL_MS = 8 * 3_600_000
export const DEFAULT_MAX_LOGIN_AGE_SECONDS = 3_600
/** Used when a file has no `network` section (an empty policy still needs an address pool to describe). */
export const DEFAULT_NETWORK: PolicyNetwork = { ipv4: '100.96.0.0/16', ipv6: null, dns: [] }
