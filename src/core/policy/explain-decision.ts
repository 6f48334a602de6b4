/**
 * Why a decision came out as it did: which deny rules and grants name the subject and through which
 * member, which assurance conditions failed, what each grant contributes. For `keygate policy explain`
 * and the admin pages; slower than evaluatePolicy, and meant to be.
 */
import type { Reason } from '../errors.ts'
import type { Subject } from '../model.ts'
import type { CompiledPolicy } from './compiled-policy.ts'
import { formatDuration } from './durations.ts'
import {
  assessPolicy,
  type Decision,
  decide,
  isPolicyAdmin,
  type PolicyRequest,
  unmetReasons,
} from './evaluate-policy.ts'
import { memberMatches } from './member-index.ts'
import { parseMember } from './members.ts'

export type GrantStatus = 'contributes' | 'assurance-unmet' | 'out-of-scope' | 'overridden-by-deny'

export interface GrantExplanation {
  id: string
  status: GrantStatus
  /** The src entries that name the subject, with the member that matched inside a group. */
  via: string[]
  destinations: string[]
  assurance: string | null
  ttlMs: number
  /** The assurance conditions that failed. */
  failed: Reason[]
}

export interface PolicyExplanation {
  policyHash: string
  subject: {
    email: string | null
    idp: string
    groups: string[]
    verdict: string
    amr: string[]
    acr: string | null
    authAgeSeconds: number | null
    stepUp: string | null
  }
  /** Policy groups the subject belongs to. */
  policyGroups: string[]
  admin: boolean
  requestedGateways: string[] | null
  denyRules: Array<{ id: string; via: string[] }>
  grants: GrantExplanation[]
  /** How many grants do not name the subject at all. */
  otherGrants: number
  decision: Decision
}

export function explainDecision(
  policy: CompiledPolicy,
  request: PolicyRequest,
  now: number,
): PolicyExplanation {
  const { subject } = request
  const a = assessPolicy(policy, request, now)
  const decision = decide(policy, request, a, now)
  const inScope = new Set(a.inScope)
  const unmet = new Map(a.unmet.map((u) => [u.grant, unmetReasons(u.grant, u.check)]))
  const satisfied = new Set(a.satisfied.map((s) => s.grant))
  const denied = a.deniedBy.length > 0
  const grants = a.named.map((grant): GrantExplanation => {
    const status: GrantStatus = !inScope.has(grant)
      ? 'out-of-scope'
      : denied
        ? 'overridden-by-deny'
        : satisfied.has(grant)
          ? 'contributes'
          : 'assurance-unmet'
    return {
      id: grant.id,
      status,
      via: viaOf(policy, grant.src, subject),
      destinations: grant.routeIds.map(
        (id) => `${policy.routeTable[id]!.gateway}:${policy.routeTable[id]!.route}`,
      ),
      assurance: grant.assurance?.name ?? null,
      ttlMs: grant.ttlMs,
      failed: unmet.get(grant) ?? [],
    }
  })
  const authTime = subject.auth.authTime
  return {
    policyHash: policy.hash,
    subject: {
      email: subject.email,
      idp: subject.idpId,
      groups: subject.groups,
      verdict: subject.auth.verdict,
      amr: subject.auth.amr,
      acr: subject.auth.acr,
      authAgeSeconds: authTime === null ? null : Math.floor(now / 1000) - authTime,
      stepUp: subject.auth.stepUp,
    },
    policyGroups: [...policy.groups]
      .filter(([, members]) => members.some((m) => memberMatches(m, subject)))
      .map(([name]) => name),
    admin: isPolicyAdmin(policy, subject),
    requestedGateways: a.scope === null ? null : [...a.scope],
    denyRules: a.deniedBy.map((rule) => ({ id: rule.id, via: viaOf(policy, rule.src, subject) })),
    grants,
    otherGrants: policy.grants.length - a.named.length,
    decision,
  }
}

function viaOf(policy: CompiledPolicy, src: readonly string[], subject: Subject): string[] {
  const out: string[] = []
  for (const text of src) {
    if (text.startsWith('group:')) {
      const hit = policy.groups.get(text)?.find((m) => memberMatches(m, subject))
      if (hit !== undefined) out.push(`${text} (${hit.text})`)
      continue
    }
    const parsed = parseMember(text)
    if (parsed.ok && parsed.member.kind !== 'group' && memberMatches(parsed.member, subject)) out.push(text)
  }
  return out
}

const STATUS_TEXT: Record<GrantStatus, string> = {
  contributes: 'contributes',
  'assurance-unmet': 'assurance unmet',
  'out-of-scope': 'no requested gateway',
  'overridden-by-deny': 'overridden by a deny rule',
}

/** Plain text for a terminal. */
export function renderExplanation(e: PolicyExplanation): string {
  const lines: string[] = []
  const d = e.decision
  if (d.allow) {
    lines.push(
      `Decision: ALLOW for ${formatDuration(d.ttlMs)} (until ${new Date(d.expiresAt).toISOString()})`,
    )
    for (const g of d.grants) lines.push(`  ${g.gateway}: ${g.routes.join(', ')}`)
  } else {
    lines.push(`Decision: DENY ${d.code}`)
    if (d.stepUp !== null) {
      const s = d.stepUp
      const wants = [
        s.mfa ? 'MFA' : null,
        s.amrAny && `amr one of [${s.amrAny.join(', ')}]`,
        s.acrAny && `acr one of [${s.acrAny.join(', ')}]`,
      ]
        .filter(Boolean)
        .join(', ')
      lines.push(`  step-up to "${s.assurance}": ${wants || 'a fresh sign-in'}, max_age ${s.maxAgeSeconds}s`)
    }
  }
  const s = e.subject
  const age =
    s.authAgeSeconds === null ? 'no auth_time' : `signed in ${formatDuration(s.authAgeSeconds * 1000)} ago`
  lines.push(
    '',
    `Subject: ${s.email ?? '(no email)'} via idp "${s.idp}", groups [${s.groups.join(', ')}]`,
    `  verdict ${s.verdict}, amr [${s.amr.join(', ')}], acr ${s.acr ?? 'none'}, ${age}${s.stepUp ? `, step-up ${s.stepUp}` : ''}`,
    `  policy groups: ${e.policyGroups.length === 0 ? 'none' : e.policyGroups.join(', ')}; admin: ${e.admin ? 'yes' : 'no'}`,
  )
  if (e.requestedGateways !== null) lines.push(`  requested gateways: ${e.requestedGateways.join(', ')}`)
  lines.push('', `Deny rules hit:${e.denyRules.length === 0 ? ' none' : ''}`)
  for (const rule of e.denyRules) lines.push(`  ${rule.id} via ${rule.via.join(', ')}`)
  lines.push('', `Grants naming the subject:${e.grants.length === 0 ? ' none' : ''}`)
  for (const g of e.grants) {
    const mark = g.status === 'contributes' ? '+' : '-'
    const level = g.assurance === null ? 'no assurance' : `assurance "${g.assurance}"`
    lines.push(`  ${mark} ${g.id}: ${STATUS_TEXT[g.status]}; via ${g.via.join(', ')}`)
    lines.push(
      `      ${g.destinations.join(', ') || '(no routes)'}; ${level}; ttl ${formatDuration(g.ttlMs)}`,
    )
    for (const f of g.failed) lines.push(`      failed ${f.code}: ${f.message}`)
  }
  lines.push(`Grants not naming the subject: ${e.otherGrants}`, '', 'Reasons:')
  for (const r of d.reasons) lines.push(`  ${r.code}${r.source ? ` [${r.source}]` : ''}: ${r.message}`)
  lines.push('', `Policy hash: ${e.policyHash}`)
  return `${lines.join('\n')}\n`
}
