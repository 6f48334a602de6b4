/**
 * When a user may enrol a new second factor, and what a step-up changes in the session's facts.
 *
 * Enrolment is the weak spot of any second factor: whoever enrols first owns it. So every enrolment needs
 * a fresh IdP sign-in (a stolen, hours-old session cookie is not enough); the first factor also needs a
 * proof beyond the password, by default the IdP's MFA or a one-time code an admin issued for this
 * identity (otherwise whoever holds the password enrols their own app and owns the account's step-up);
 * and once a factor exists, adding another needs a step-up with an existing one in this session.
 */
import type { Reason } from '../errors.ts'
import {
  formatStepUp,
  parseStepUp,
  type StepUpAmr,
  type StepUpMethod,
  type StepUpProof,
} from '../identity/step-up-proof.ts'
import type { AuthFacts } from '../model.ts'

export const ENROLMENT_MAX_AUTH_AGE_SECONDS = 10 * 60

/**
 * What the first factor of an identity needs besides a fresh sign-in (KEYGATE_FIRST_FACTOR):
 * `idp-mfa-or-code` (the default) an IdP-MFA session or an admin-issued enrolment code; `idp-mfa` only
 * an IdP-MFA session; `code` only an admin-issued code; `password` nothing more (any holder of the
 * password enrols it: only for an IdP whose password sign-in is itself strong).
 */
export type FirstFactorRule = 'idp-mfa-or-code' | 'idp-mfa' | 'code' | 'password'

export const FIRST_FACTOR_RULES: readonly FirstFactorRule[] = [
  'idp-mfa-or-code',
  'idp-mfa',
  'code',
  'password',
]

export const DEFAULT_FIRST_FACTOR_RULE: FirstFactorRule = 'idp-mfa-or-code'

export interface EnrolmentContext {
  auth: Pick<AuthFacts, 'authTime' | 'stepUp' | 'verdict'>
  hasConfirmedFactor: boolean
  rule: FirstFactorRule
  /** Whether the request carries an unused, unexpired enrolment code an admin issued for this identity. */
  hasValidCode: boolean
}

/** Null when enrolment is allowed; otherwise why not, in the user's words. */
export function enrolmentRefusal(
  context: EnrolmentContext,
  nowMs: number,
  maxAgeSeconds: number = ENROLMENT_MAX_AUTH_AGE_SECONDS,
): Reason | null {
  const { auth } = context
  const ageSeconds = auth.authTime === null ? null : Math.floor(nowMs / 1000) - auth.authTime
  if (ageSeconds === null || ageSeconds > maxAgeSeconds) {
    return {
      code: 'AUTH_TOO_OLD',
      message: `Adding a second factor needs a sign-in at your identity provider within the last ${Math.round(maxAgeSeconds / 60)} minutes. Sign in again, then add it.`,
    }
  }
  if (context.hasConfirmedFactor) {
    if (auth.stepUp === null) {
      return {
        code: 'STEP_UP_REQUIRED',
        message: 'You already have a second factor. Use it first; then you may add another.',
      }
    }
    return null
  }
  const mfa = auth.verdict === 'mfa'
  const allowed =
    context.rule === 'password' ||
    (context.rule === 'idp-mfa' && mfa) ||
    (context.rule === 'code' && context.hasValidCode) ||
    (context.rule === 'idp-mfa-or-code' && (mfa || context.hasValidCode))
  if (allowed) return null
  return {
    code: 'ENROLMENT_CODE_REQUIRED',
    message:
      context.rule === 'idp-mfa'
        ? 'Your first second factor must be set up in a sign-in with multi-factor authentication at your identity provider.'
        : context.rule === 'code'
          ? 'Setting up your first second factor needs a one-time enrolment code from your administrator.'
          : 'Setting up your first second factor needs a sign-in with multi-factor authentication at your identity provider, or a one-time enrolment code from your administrator.',
  }
}

/** Whether a factor enrolled now may later stand in for the IdP's MFA (administration). */
export function enrolmentIsAnchored(auth: Pick<AuthFacts, 'verdict' | 'stepUp'>): boolean {
  return auth.verdict === 'mfa' || parseStepUp(auth.stepUp)?.anchored === true
}

/** The session's facts after a successful step-up: the IdP's facts stay as they were, only stepUp is set. */
export function withStepUp(auth: AuthFacts, proof: StepUpProof): AuthFacts {
  return { ...auth, stepUp: formatStepUp(proof) }
}

export type { StepUpAmr, StepUpMethod }
