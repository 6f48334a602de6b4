/**
 * What the portal's routes share: who is viewing (for the top bar), and where to send a user whose
 * sign-in falls short of what the policy asks. That second question has three answers, tried in order:
 * the sign-in is too old (sign in again at the IdP, with prompt=login), the IdP proved no second factor
 * (Keygate's own step-up), or the policy wants something only the IdP can give (sign in again with the
 * stronger request).
 */
import type { SessionContext } from '../../../core/broker/broker-deps.ts'
import { subjectOf } from '../../../core/broker/issue-lease.ts'
import type { Reason } from '../../../core/errors.ts'
import { type CompiledPolicy, isPolicyAdmin, type StepUpDemand } from '../../../core/policy/index.ts'
import type { Viewer } from './layout.tsx'

export function viewerOf(session: SessionContext, policy: CompiledPolicy): Viewer {
  return { name: session.email ?? session.subject, admin: isPolicyAdmin(policy, subjectOf(session)) }
}

export function signInAgainUrl(session: Pick<SessionContext, 'idpId'>, returnTo: string): string {
  return `/auth/${encodeURIComponent(session.idpId)}/login?stepUp=1&returnTo=${encodeURIComponent(returnTo)}`
}

export function stepUpPageUrl(returnTo: string): string {
  return `/step-up?returnTo=${encodeURIComponent(returnTo)}`
}

const AGE_CODES = new Set(['AUTH_TOO_OLD', 'AUTH_TIME_MISSING'])

/** True when a fresh IdP sign-in is what is missing. */
export function needsFreshSignIn(
  session: SessionContext,
  demand: Pick<StepUpDemand, 'maxAgeSeconds'> | null,
  reasons: readonly Reason[],
  now: number,
): boolean {
  if (reasons.some((r) => AGE_CODES.has(r.code))) return true
  if (demand === null) return false
  const authTime = session.auth.authTime
  return authTime === null || Math.floor(now / 1000) - authTime > demand.maxAgeSeconds
}

/**
 * Where to go next for a refusal, or null when nothing the user can do here helps (no matching grant, a
 * deny rule, or MFA the policy will not let Keygate step up for).
 */
export function nextStepFor(
  session: SessionContext,
  refusal: { code: string; stepUp: StepUpDemand | null; reasons: readonly Reason[] },
  now: number,
  returnTo: string,
): { href: string; label: string } | null {
  if (
    refusal.code !== 'ASSURANCE_UNMET' &&
    refusal.code !== 'STEP_UP_REQUIRED' &&
    refusal.code !== 'MFA_REQUIRED'
  ) {
    return null
  }
  if (needsFreshSignIn(session, refusal.stepUp, refusal.reasons, now)) {
    return { href: signInAgainUrl(session, returnTo), label: 'Sign in again' }
  }
  if (refusal.stepUp !== null) {
    const onlyIdpCanHelp =
      refusal.stepUp.acrAny !== null && !refusal.stepUp.mfa && refusal.stepUp.amrAny === null
    return onlyIdpCanHelp
      ? { href: signInAgainUrl(session, returnTo), label: 'Sign in again with a stronger method' }
      : { href: stepUpPageUrl(returnTo), label: 'Use a second factor' }
  }
  // MFA required and no step-up allowed: only the IdP can prove it.
  return { href: signInAgainUrl(session, returnTo), label: 'Sign in again with MFA' }
}
