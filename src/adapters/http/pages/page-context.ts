/**
 * What the portal's routes share: who is viewing (for the top bar), and what a user whose sign-in falls
 * short of the policy can do about it: confirm with Keygate's own second factor, sign in again, or ask
 * the admin (adviseOnDenial), under the same code the API gives for that refusal.
 */
import type { BrokerDeps, SessionContext } from '../../../core/broker/broker-deps.ts'
import { denialError, subjectOf } from '../../../core/broker/issue-lease.ts'
import type { ErrorCode, ErrorReason, Reason, ReasonCode } from '../../../core/errors.ts'
import type { AuthFacts } from '../../../core/model.ts'
import {
  type CompiledPolicy,
  type DenyDecision,
  evaluatePolicy,
  isPolicyAdmin,
  type StepUpDemand,
} from '../../../core/policy/index.ts'
import type { Viewer } from './layout.tsx'

/**
 * The top bar offers "New device" only where following it gets somewhere: when the policy allows this
 * sign-in now, or when a step-up would (the device page sends the user through it and back). A link that
 * ends in a refusal is never shown; the access page's notice holds the next step instead.
 */
export function viewerOf(session: SessionContext, deps: Pick<BrokerDeps, 'policy' | 'clock'>): Viewer {
  const policy = deps.policy()
  const now = deps.clock.now()
  const decision = evaluatePolicy(policy, { subject: subjectOf(session) }, now)
  const canAddDevice =
    decision.allow || adviseOnDenial(policy, session, decision, now, '/devices/new').next.kind === 'step-up'
  return {
    name: session.email ?? session.subject,
    admin: isPolicyAdmin(policy, subjectOf(session)),
    canAddDevice,
  }
}

export function signInAgainUrl(session: Pick<SessionContext, 'idpId'>, returnTo: string): string {
  return `/auth/${encodeURIComponent(session.idpId)}/login?stepUp=1&returnTo=${encodeURIComponent(returnTo)}`
}

export function stepUpPageUrl(returnTo: string): string {
  return `/step-up?returnTo=${encodeURIComponent(returnTo)}`
}

const AGE_CODES: ReadonlySet<string> = new Set<ReasonCode>(['AUTH_TOO_OLD', 'AUTH_TIME_MISSING'])

/** True when a fresh IdP sign-in is what is missing. */
export function needsFreshSignIn(
  session: SessionContext,
  demand: Pick<StepUpDemand, 'maxAgeSeconds'> | null,
  reasons: readonly ErrorReason[],
  now: number,
): boolean {
  if (reasons.some((r) => AGE_CODES.has(r.code))) return true
  if (demand === null) return false
  const authTime = session.auth.authTime
  return authTime === null || Math.floor(now / 1000) - authTime > demand.maxAgeSeconds
}

/** What the user can do about a denial: one next step, never one that ends in the same denial. */
export type NextStep =
  | { kind: 'step-up'; href: string; label: string }
  | { kind: 'sign-in'; href: string; label: string }
  | { kind: 'ask-admin' }

export interface DenialAdvice {
  /** The code the API answers for this same refusal (issue-lease.ts's denialError). */
  code: ErrorCode
  /** Plain language for the user, first on the page. */
  lead: string
  next: NextStep
  /** The policy's own reasons, for the admin: shown folded. */
  reasons: Reason[]
}

/**
 * Advice is found by asking the policy "what if": would the same sign-in with Keygate's own second factor
 * be allowed (then a step-up button), would a fresh sign-in be (then "Sign in again"), otherwise nothing
 * the user can do here helps (ask the admin). Asking the policy itself, rather than reading the denial's
 * codes, is what keeps a user from being sent round a loop: a step-up already made, or a factor the
 * policy does not count for this grant, is never offered again.
 */
export function adviseOnDenial(
  policy: CompiledPolicy,
  session: SessionContext,
  decision: DenyDecision,
  now: number,
  returnTo: string,
  gateways?: readonly string[],
): DenialAdvice {
  const code = denialError(decision).code
  const reasons = decision.reasons
  const allows = (auth: Partial<AuthFacts>) =>
    evaluatePolicy(
      policy,
      { subject: subjectOf({ ...session, auth: { ...session.auth, ...auth } }), gateways },
      now,
    ).allow
  if (decision.code !== 'ASSURANCE_UNMET') {
    return {
      code,
      lead:
        decision.code === 'DENIED_BY_RULE'
          ? 'The access policy blocks your account from the VPN. If you think this is a mistake, ask your admin.'
          : 'Your account has no VPN access. Ask your admin to grant it, and tell them the account shown below.',
      next: { kind: 'ask-admin' },
      reasons,
    }
  }
  const fresh = Math.floor(now / 1000)
  const factors = STEP_UP_TOKENS_TO_TRY.filter((t) => t !== session.auth.stepUp)
  if (factors.some((stepUp) => allows({ stepUp }))) {
    return {
      code,
      lead: 'Your organisation requires a second factor for this access. Confirm it’s you with your authenticator app or security key.',
      next: { kind: 'step-up', href: stepUpPageUrl(returnTo), label: 'Confirm with your second factor' },
      reasons,
    }
  }
  if (allows({ authTime: fresh }) || factors.some((stepUp) => allows({ authTime: fresh, stepUp }))) {
    return {
      code,
      lead: 'Your sign-in is too old for this access. Sign in again to carry on; nothing else changes.',
      next: { kind: 'sign-in', href: signInAgainUrl(session, returnTo), label: 'Sign in again' },
      reasons,
    }
  }
  return {
    code,
    lead: 'Your organisation requires a stronger sign-in for this access than your account gives here (multi-factor authentication at your identity provider). Ask your admin how to set it up.',
    next: { kind: 'ask-admin' },
    reasons,
  }
}

/** The factors Keygate's step-up can prove without special configuration (see step-up-proof.ts). */
const STEP_UP_TOKENS_TO_TRY = ['totp', 'webauthn'] as const
