/**
 * The decision: may this subject have a lease now, through which gateways and routes, and for how long.
 *
 * Semantics (DESIGN.md): denied by default; a matching deny rule wins; otherwise the grants whose src
 * names the subject and whose assurance is met give the union of their routes per gateway, and the lease
 * lasts the smallest of their ttls and of what each grant's maxAuthAge still allows since auth_time. When
 * grants match but none is met, the denial is ASSURANCE_UNMET, with a step-up demand only when every one
 * of them says `onUnmet: "stepUp"`. Keygate's own step-up counts only for grants that say so.
 */
import type { Reason, ReasonCode, StepUpDemand } from '../errors.ts'
import type { GatewayGrant, Subject } from '../model.ts'
import { type AssuranceCheck, checkAssurance } from './check-assurance.ts'
import type { AssuranceLevel, CompiledDenyRule, CompiledGrant, CompiledPolicy } from './compiled-policy.ts'
import { lookupMembers } from './member-index.ts'

export interface PolicyRequest {
  subject: Subject
  /** Restrict the decision to these gateways; absent or empty means every gateway the policy allows. */
  gateways?: readonly string[] | undefined
}

/** Why a policy says no: one of the reason codes (errors.ts's registry). */
export type DenialCode = Extract<ReasonCode, 'NO_MATCHING_GRANT' | 'DENIED_BY_RULE' | 'ASSURANCE_UNMET'>

/** A refusal's step-up demand is part of the error vocabulary (a STEP_UP_REQUIRED answer carries it). */
export type { StepUpDemand }

export interface AllowDecision {
  allow: true
  /** Per gateway, the union of the CIDR prefixes of every route granted, gateways and routes in file order. */
  grants: GatewayGrant[]
  /** The same routes by name, `GATEWAY:ROUTE`. */
  routeNames: string[]
  ttlMs: number
  expiresAt: number
  /** Ids of the grants that contributed, e.g. `grants[0]`. */
  matchedGrants: string[]
  reasons: Reason[]
}

export interface DenyDecision {
  allow: false
  code: DenialCode
  stepUp: StepUpDemand | null
  reasons: Reason[]
}

export type Decision = AllowDecision | DenyDecision

/** The working of a decision, kept for explanations and lease re-evaluation. */
export interface Assessment {
  deniedBy: CompiledDenyRule[]
  /** Grants whose src names the subject, before scoping to the requested gateways. */
  named: CompiledGrant[]
  /** Named grants giving at least one route on a requested gateway. */
  inScope: CompiledGrant[]
  satisfied: Array<{ grant: CompiledGrant; check: AssuranceCheck | null }>
  unmet: Array<{ grant: CompiledGrant; check: AssuranceCheck }>
  /** The smallest ttl of the satisfied grants (Infinity when none). */
  ttlLimitMs: number
  /** The earliest maxAuthAge deadline of the satisfied grants (Infinity when none applies). */
  authDeadline: number
  routeIds: number[]
  scope: ReadonlySet<string> | null
}

export function assessPolicy(policy: CompiledPolicy, request: PolicyRequest, now: number): Assessment {
  const { subject } = request
  const deniedBy = lookupMembers(policy.denyIndex, subject).map((i) => policy.denyRules[i]!)
  const named = lookupMembers(policy.grantIndex, subject).map((i) => policy.grants[i]!)
  const scope =
    request.gateways !== undefined && request.gateways.length > 0 ? new Set(request.gateways) : null
  const inScope = scope === null ? named : named.filter((g) => [...g.gateways].some((gw) => scope.has(gw)))
  const satisfied: Assessment['satisfied'] = []
  const unmet: Assessment['unmet'] = []
  // Grants often share a level: check each level once per decision, once with Keygate's step-up counted
  // (grants saying onUnmet "stepUp") and once without.
  const checks = [new Map<AssuranceLevel, AssuranceCheck>(), new Map<AssuranceLevel, AssuranceCheck>()]
  let ttlLimitMs = Number.POSITIVE_INFINITY
  let authDeadline = Number.POSITIVE_INFINITY
  // One mark per route of the policy (tens to hundreds): reading them back in order gives file order.
  const granted = new Uint8Array(policy.routeTable.length)
  if (deniedBy.length === 0) {
    for (const grant of inScope) {
      let check: AssuranceCheck | null = null
      if (grant.assurance !== null) {
        const countStepUp = grant.onUnmet === 'stepUp'
        const cache = checks[countStepUp ? 1 : 0]!
        check = cache.get(grant.assurance) ?? checkAssurance(grant.assurance, subject.auth, now, countStepUp)
        cache.set(grant.assurance, check)
        if (!check.met) {
          unmet.push({ grant, check })
          continue
        }
        authDeadline = Math.min(authDeadline, check.deadline)
      }
      satisfied.push({ grant, check })
      ttlLimitMs = Math.min(ttlLimitMs, grant.ttlMs)
      for (const id of grant.routeIds) {
        if (scope === null || scope.has(policy.routeTable[id]!.gateway)) granted[id] = 1
      }
    }
  }
  const routeIds: number[] = []
  if (satisfied.length > 0)
    for (let id = 0; id < granted.length; id++) if (granted[id] === 1) routeIds.push(id)
  return {
    deniedBy,
    named,
    inScope,
    satisfied,
    unmet,
    ttlLimitMs,
    authDeadline,
    routeIds,
    scope,
  }
}

/** An unmet level's failures as reasons of one grant: the level is checked once, the grant named here. */
export function unmetReasons(grant: CompiledGrant, check: AssuranceCheck): Reason[] {
  return check.failures.map((f) => ({ code: f.code, message: `${grant.id} ${f.message}`, source: grant.id }))
}

export function evaluatePolicy(policy: CompiledPolicy, request: PolicyRequest, now: number): Decision {
  return decide(policy, request, assessPolicy(policy, request, now), now)
}

export function decide(policy: CompiledPolicy, request: PolicyRequest, a: Assessment, now: number): Decision {
  const who = describeSubject(request.subject)
  if (a.deniedBy.length > 0) {
    return {
      allow: false,
      code: 'DENIED_BY_RULE',
      stepUp: null,
      reasons: a.deniedBy.map((rule) => ({
        code: 'DENIED_BY_RULE',
        message: `${rule.id} denies ${who} (src: ${rule.src.join(', ')})`,
        source: rule.id,
      })),
    }
  }
  if (a.inScope.length === 0) {
    const message =
      a.named.length > 0 && a.scope !== null
        ? `no grant gives ${who} access to ${[...a.scope].join(', ')}`
        : `no grant's src names ${who}`
    return {
      allow: false,
      code: 'NO_MATCHING_GRANT',
      stepUp: null,
      reasons: [{ code: 'NO_MATCHING_GRANT', message }],
    }
  }
  const unmet = a.unmet.flatMap((u) => unmetReasons(u.grant, u.check))
  if (a.satisfied.length === 0) {
    return {
      allow: false,
      code: 'ASSURANCE_UNMET',
      stepUp: stepUpDemand(policy, a),
      reasons: unmet,
    }
  }
  const ttlMs = Math.max(0, Math.min(a.ttlLimitMs, a.authDeadline - now))
  return {
    allow: true,
    ...routesOf(policy, a.routeIds),
    ttlMs,
    expiresAt: now + ttlMs,
    matchedGrants: a.satisfied.map((s) => s.grant.id),
    reasons: [
      ...a.satisfied.map(
        (s): Reason => ({ code: 'GRANT_MATCHED', message: s.grant.summary, source: s.grant.id }),
      ),
      ...unmet,
    ],
  }
}

export function routesOf(
  policy: CompiledPolicy,
  routeIds: readonly number[],
): { grants: GatewayGrant[]; routeNames: string[] } {
  const grants: GatewayGrant[] = []
  const routeNames: string[] = []
  let current: GatewayGrant | null = null
  for (const id of routeIds) {
    const entry = policy.routeTable[id]!
    routeNames.push(entry.name)
    if (current === null || current.gateway !== entry.gateway) {
      current = { gateway: entry.gateway, routes: [] }
      grants.push(current)
    }
    // Routes of one gateway are few; a linear check beats a Set here.
    for (const cidr of entry.cidrs) if (!current.routes.includes(cidr)) current.routes.push(cidr)
  }
  return { grants, routeNames }
}

/**
 * The level to ask for when every blocking grant allows step-up: the one that unblocks the most grants,
 * the first in file order on a tie, so the demand is predictable.
 */
function stepUpDemand(policy: CompiledPolicy, a: Assessment): StepUpDemand | null {
  if (a.unmet.length === 0 || a.unmet.some((u) => u.grant.onUnmet !== 'stepUp')) return null
  const counts = new Map<AssuranceLevel, number>()
  for (const u of a.unmet)
    if (u.grant.assurance) counts.set(u.grant.assurance, (counts.get(u.grant.assurance) ?? 0) + 1)
  let best: AssuranceLevel | null = null
  for (const [level, count] of counts) if (best === null || count > counts.get(best)!) best = level
  if (best === null) return null
  return {
    assurance: best.name,
    mfa: best.mfa,
    amrAny: best.amrAny === null ? null : [...best.amrAny],
    acrAny: best.acrAny === null ? null : [...best.acrAny],
    maxAgeSeconds:
      best.maxAuthAgeMs === null ? policy.maxLoginAgeSeconds : Math.floor(best.maxAuthAgeMs / 1000),
  }
}

export function describeSubject(subject: Subject): string {
  const groups = subject.groups.length === 0 ? '' : `, groups ${subject.groups.join(', ')}`
  return `${subject.email ?? subject.subject} (idp ${subject.idpId}${groups})`
}

export function isPolicyAdmin(policy: CompiledPolicy, subject: Subject): boolean {
  return lookupMembers(policy.adminIndex, subject).length > 0
}
