/**
 * How long ago the user really authenticated at the IdP, against a maximum age.
 *
 * The broker runs this on every login, not only where openid-client checks `max_age` (the code flow):
 * device and refresh flows skip that check, and an IdP may ignore `max_age` altogether.
 */
import type { Reason } from '../errors.ts'
import type { AuthFacts } from '../model.ts'

export const DEFAULT_CLOCK_SKEW_SECONDS = 30

/**
 * @param nowMs the current time in milliseconds since the epoch (a parameter: core has no clock).
 * @returns null when fresh enough, otherwise the reason (`AUTH_TIME_MISSING` or `AUTH_TOO_OLD`).
 */
export function checkAuthFreshness(
  facts: Pick<AuthFacts, 'authTime'>,
  maxAgeSeconds: number,
  nowMs: number,
  skewSeconds: number = DEFAULT_CLOCK_SKEW_SECONDS,
): Reason | null {
  if (facts.authTime === null) {
    return {
      code: 'AUTH_TIME_MISSING',
      message: 'The identity provider did not say when the user signed in (auth_time).',
    }
  }
  const nowSeconds = Math.floor(nowMs / 1000)
  // A time far in the future is as unusable as none: the age it implies would let a lease outlive the
  // policy's maximum auth age.
  if (facts.authTime > nowSeconds + skewSeconds) {
    return {
      code: 'AUTH_TIME_MISSING',
      message: `The identity provider's auth_time lies ${facts.authTime - nowSeconds}s in the future; check the clocks.`,
    }
  }
  const age = nowSeconds - facts.authTime
  if (age > maxAgeSeconds + skewSeconds) {
    return {
      code: 'AUTH_TOO_OLD',
      message: `The sign-in at the identity provider was ${age}s ago; at most ${maxAgeSeconds}s is allowed.`,
    }
  }
  return null
}
