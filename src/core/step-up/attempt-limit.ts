/**
 * How many failed second-factor attempts an identity may make, and for how long it must then wait.
 *
 * A six-digit code has a million values and the window accepts three of them at a time; without a limit
 * an attacker holding a password-only session could guess one in hours. Failures are counted per
 * identity (issuer + subject), not per session or address, so opening new sessions buys nothing.
 * A success does not wipe the count: the limit is about the number of guesses, not about who guessed.
 */

export interface AttemptLimit {
  /** Failures allowed inside the window before further attempts are refused. */
  maxFailures: number
  windowMs: number
}

export const DEFAULT_ATTEMPT_LIMIT: AttemptLimit = { maxFailures: 5, windowMs: 15 * 60_000 }

export type AttemptDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterMs: number }

/**
 * @param failureTimes the identity's recent failure times (ms); older ones are ignored.
 */
export function decideAttempt(
  failureTimes: readonly number[],
  nowMs: number,
  limit: AttemptLimit = DEFAULT_ATTEMPT_LIMIT,
): AttemptDecision {
  const recent = failureTimes.filter((at) => at > nowMs - limit.windowMs && at <= nowMs).sort((a, b) => a - b)
  if (recent.length < limit.maxFailures)
    return { allowed: true, remaining: limit.maxFailures - recent.length }
  // The window slides: the next attempt is allowed once enough of the oldest failures have aged out.
  const unlocking = recent[recent.length - limit.maxFailures]!
  return { allowed: false, retryAfterMs: Math.max(1, unlocking + limit.windowMs - nowMs) }
}

/** Failures older than this are never needed again and may be deleted. */
export function attemptHorizon(nowMs: number, limit: AttemptLimit = DEFAULT_ATTEMPT_LIMIT): number {
  return nowMs - limit.windowMs
}
