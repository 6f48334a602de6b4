/**
 * When a user may enrol a new second factor, and what a step-up changes in the session's facts.
 *
 * Enrolment is the weak spot of any second factor: whoever enrols first owns it. So the first factor may
 * be enrolled only right after a fresh IdP sign-in (a stolen, hours-old session cookie is not enough),
 * and once a factor exists, adding another also needs a step-up with an existing one in this session
 * (otherwise a password-only attacker could add their own authenticator next to the user's).
 */
import type { Reason } from '../errors.ts'
import type { AuthFacts } from '../model.ts'

export const ENROLMENT_MAX_AUTH_AGE_SECONDS = 10 * 60

export type StepUpMethod = 'totp' | 'webauthn'

export const STEP_UP_METHODS: readonly StepUpMethod[] = ['totp', 'webauthn']

/** Null when enrolment is allowed; otherwise why not, in the user's words. */
export function enrolmentRefusal(
  auth: Pick<AuthFacts, 'authTime' | 'stepUp'>,
  hasConfirmedFactor: boolean,
  nowMs: number,
  maxAgeSeconds: number = ENROLMENT_MAX_AUTH_AGE_SECONDS,
): Reason | null {
  const ageSeconds = auth.authTime === null ? null : Math.floor(nowMs / 1000) - auth.authTime
  if (ageSeconds === null || ageSeconds > maxAgeSeconds) {
    return {
      code: 'AUTH_TOO_OLD',
      message: `Adding a second factor needs a sign-in at your identity provider within the last ${Math.round(maxAgeSeconds / 60)} minutes. Sign in again, then add it.`,
    }
  }
  if (hasConfirmedFactor && auth.stepUp === null) {
    return {
      code: 'STEP_UP_REQUIRED',
      message: 'You already have a second factor. Use it first; then you may add another.',
    }
  }
  return null
}

/** The session's facts after a successful step-up: the IdP's facts stay as they were, only stepUp is set. */
export function withStepUp(auth: AuthFacts, method: StepUpMethod): AuthFacts {
  return { ...auth, stepUp: method }
}
