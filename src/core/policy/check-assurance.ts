/**
 * Whether a sign-in meets an assurance level, and until when. Every condition of a level must hold; each
 * that does not becomes a reason naming what was wanted and what the sign-in had.
 */
import type { Reason } from '../errors.ts'
import { parseStepUp } from '../identity/step-up-proof.ts'
import type { AuthFacts } from '../model.ts'
import type { AssuranceLevel } from './compiled-policy.ts'
import { formatDuration } from './durations.ts'

export interface AssuranceCheck {
  met: boolean
  failures: Reason[]
  /** When the level stops being met because of maxAuthAge (ms since epoch); Infinity without one. */
  deadline: number
}

/**
 * Failure messages name the level, not the grant: one check serves every grant using the level.
 *
 * @param countStepUp whether Keygate's own step-up may meet the level: only for grants that say
 *   `onUnmet: "stepUp"`. Elsewhere the level needs what the IdP asserted, so a password-only user cannot
 *   enrol a factor of their own and reach a grant the policy author reserved for the IdP's MFA.
 */
export function checkAssurance(
  level: AssuranceLevel,
  auth: AuthFacts,
  now: number,
  countStepUp: boolean,
): AssuranceCheck {
  const failures: Reason[] = []
  const where = `(assurance "${level.name}")`
  const proof = countStepUp ? parseStepUp(auth.stepUp) : null
  const ignored =
    !countStepUp && auth.stepUp !== null
      ? ` (Keygate's own step-up "${auth.stepUp}" counts only for grants with onUnmet "stepUp")`
      : ''
  if (level.mfa && auth.verdict !== 'mfa' && proof === null) {
    failures.push({
      code: 'MFA_NOT_PROVEN',
      message: `${where} requires multi-factor authentication; the sign-in's verdict is "${auth.verdict}"${ignored}`,
    })
  }
  if (level.amrAny !== null) {
    const ok = level.amrAny.some((v) => auth.amr.includes(v) || v === proof?.amr)
    if (!ok) {
      const proved = proof === null ? '' : `, Keygate's step-up proved ${proof.amr}`
      failures.push({
        code: 'AMR_NOT_MET',
        message: `${where} requires one of amr [${level.amrAny.join(', ')}]; the sign-in had [${auth.amr.join(', ')}]${proved}${ignored}`,
      })
    }
  }
  if (level.acrAny !== null) {
    const ok = level.acrAny.some((v) => auth.acr === v || auth.acrs.includes(v))
    if (!ok) {
      failures.push({
        code: 'ACR_NOT_MET',
        message: `${where} requires one of acr [${level.acrAny.join(', ')}]; the sign-in had ${auth.acr ?? 'none'}`,
      })
    }
  }
  let deadline = Number.POSITIVE_INFINITY
  if (level.maxAuthAgeMs !== null) {
    if (auth.authTime === null) {
      deadline = Number.NEGATIVE_INFINITY
      failures.push({
        code: 'AUTH_TIME_MISSING',
        message: `${where} requires a sign-in within ${formatDuration(level.maxAuthAgeMs)}, and the sign-in has no auth_time`,
      })
    } else {
      // An auth_time in the future (clock skew) counts as now, so it never buys more than maxAuthAge.
      deadline = Math.min(auth.authTime * 1000, now) + level.maxAuthAgeMs
      if (deadline <= now) {
        failures.push({
          code: 'AUTH_TOO_OLD',
          message: `${where} requires a sign-in within ${formatDuration(level.maxAuthAgeMs)}; this one is ${formatDuration(now - auth.authTime * 1000)} old`,
        })
      }
    }
  }
  return { met: failures.length === 0, failures, deadline }
}
