/**
 * The policy file as its author wrote it, after the structural read: typed, in file order, and with the
 * site of every value so later checks can point at it. Compilation turns this into indexes.
 */
import type { Verdict } from '../model.ts'
import type { Cidr } from './cidr.ts'
import type { Site } from './diagnostics.ts'
import type { Member } from './members.ts'

export interface Located<T> {
  value: T
  at: Site
}

export interface NetworkSpec {
  ipv4: Located<Cidr>
  ipv6: Located<Cidr> | null
  dns: Located<string>[]
}

export interface RouteSpec {
  name: string
  at: Site
  cidrs: Located<Cidr>[]
}

export interface GatewaySpec {
  name: string
  at: Site
  endpoint: string
  routes: RouteSpec[]
}

export interface GroupSpec {
  /** Including the `group:` prefix, as members name it. */
  name: string
  at: Site
  members: Located<Member>[]
}

export interface AssuranceSpec {
  name: string
  at: Site
  mfa: boolean
  amrAny: string[] | null
  acrAny: string[] | null
  maxAuthAgeMs: number | null
}

/** `GATEWAY:ROUTE` or `GATEWAY:*`. */
export interface DestinationRef {
  gateway: string
  route: string
}

export type OnUnmet = 'deny' | 'stepUp'

export interface GrantSpec {
  /** Stable id used in decisions and leases: `grants[3]`. */
  id: string
  at: Site
  src: Located<Member>[]
  dst: Located<DestinationRef>[]
  assurance: Located<string> | null
  ttlMs: number | null
  onUnmet: OnUnmet
}

export interface DenySpec {
  id: string
  at: Site
  src: Located<Member>[]
}

export interface PolicyTestExpectation {
  at: Site
  allow: Located<DestinationRef>[] | null
  ttlMs: number | null
  deny: string | null
  stepUp: Located<string> | null
}

export interface PolicyTestSpec {
  id: string
  at: Site
  user: string
  idp: string
  groups: string[]
  amr: string[]
  acr: string | null
  /** null: the sign-in carried no auth_time. */
  authAgeMs: number | null
  /** Absent: derived from `amr` (see derive-test-verdict.ts). */
  verdict: Verdict | null
  stepUp: string | null
  gateways: string[] | null
  expect: PolicyTestExpectation
}

export interface PolicyDocument {
  network: NetworkSpec | null
  gateways: GatewaySpec[]
  groups: GroupSpec[]
  assurance: AssuranceSpec[]
  grants: GrantSpec[]
  deny: DenySpec[]
  admins: Located<Member>[]
  leases: LeaseSettingsSpec | null
  sessions: SessionsSpec
  tests: PolicyTestSpec[]
}

/** The `leases` section: limits on what one person may hold. */
export interface LeaseSettingsSpec {
  maxPerUser: number | null
}

/** How sessions end. null: not set (the compiled default applies). */
export interface SessionsSpec {
  /** Whether an IdP's back-channel logout also revokes the identity's live leases. */
  idpLogoutRevokesLeases: boolean | null
}
