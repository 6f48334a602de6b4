/**
 * Per-client rate limits: which requests are counted (the buckets), how a limit is written in the
 * configuration (`30/min`, `5/10s`, `off`), and the fixed-window arithmetic the in-memory limiter uses.
 * A fixed window may let through up to twice the limit across a window boundary; that is enough to
 * bound abuse (a sign-in start, an issuance, a failed gateway credential) and costs one counter per key.
 */
import { KeygateError } from '../errors.ts'

/** What is counted: sign-in starts and callbacks, issuances, failed gateway credentials, terminal
 *  sign-in starts, user codes that named no waiting device (RFC 8628 section 5.1: guesses), and SCIM
 *  requests (an IdP's provisioning client, or someone guessing its token). */
export type RateBucket = 'auth' | 'issue' | 'gatewayAuthFailure' | 'deviceStart' | 'userCodeFailure' | 'scim'

export const RATE_BUCKETS: readonly RateBucket[] = [
  'auth',
  'issue',
  'gatewayAuthFailure',
  'deviceStart',
  'userCodeFailure',
  'scim',
]

export interface RateRule {
  limit: number
  windowMs: number
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number }

/** The limits of a deployment; null means the bucket is not limited. */
export type RateLimits = Readonly<Record<RateBucket, RateRule | null>>

export const DEFAULT_RATE_LIMITS: RateLimits = Object.freeze({
  // Each sign-in is two requests (start and callback); a person retrying is far below this.
  auth: { limit: 60, windowMs: 60_000 },
  // Per identity: a device or the CLI renewing is one issuance per lease.
  issue: { limit: 30, windowMs: 60_000 },
  // Per client address: a gateway with a good credential never counts here.
  gatewayAuthFailure: { limit: 10, windowMs: 60_000 },
  // Per client address: each `keygate login` is one; an anonymous caller cannot fill the table.
  deviceStart: { limit: 20, windowMs: 60_000 },
  // Per signed-in identity: a person mistyping a code a few times is far below this; guessing one of
  // 20^8 codes at 10 a minute is hopeless within a code's 10 minutes.
  userCodeFailure: { limit: 10, windowMs: 60_000 },
  // Per client address: an IdP's first sync of a large directory is a burst of requests (Okta and
  // Entra ID slow down on 429 and retry after Retry-After); ten a second still bounds a token guesser.
  scim: { limit: 600, windowMs: 60_000 },
})

const UNITS: Record<string, number> = { s: 1_000, sec: 1_000, m: 60_000, min: 60_000, h: 3_600_000 }

/** `LIMIT/WINDOW` where WINDOW is `s`, `min`, `h` or a count of them (`10s`, `5min`); `off` disables. */
export function parseRateRule(text: string, name: string): RateRule | null {
  const value = text.trim().toLowerCase()
  if (value === 'off' || value === '0') return null
  const match = /^(\d+)\s*\/\s*(\d*)\s*(s|sec|m|min|h)$/.exec(value)
  const limit = match === null ? Number.NaN : Number(match[1])
  const count = match?.[2] ? Number(match[2]) : 1
  if (match === null || !Number.isSafeInteger(limit) || limit < 1 || count < 1) {
    throw new KeygateError(
      'CONFIG_INVALID',
      `${name} must look like 30/min, 5/10s or 100/h (or "off"), got "${text}"`,
    )
  }
  return { limit, windowMs: count * (UNITS[match[3] as string] as number) }
}

export interface WindowCount {
  windowStart: number
  count: number
}

/** Counts one request into the window that holds `now`; the decision says whether it may go on. */
export function countInWindow(
  previous: WindowCount | undefined,
  rule: RateRule,
  now: number,
): { next: WindowCount; decision: RateDecision } {
  const windowStart = now - (now % rule.windowMs)
  const count = previous !== undefined && previous.windowStart === windowStart ? previous.count + 1 : 1
  const next = { windowStart, count }
  return { next, decision: judge(next, rule, now) }
}

/** Whether a key whose window holds `current` may make another request, without counting it. */
export function peekWindow(current: WindowCount | undefined, rule: RateRule, now: number): RateDecision {
  const windowStart = now - (now % rule.windowMs)
  if (current === undefined || current.windowStart !== windowStart) return { allowed: true }
  return judge({ windowStart, count: current.count + 1 }, rule, now)
}

function judge(window: WindowCount, rule: RateRule, now: number): RateDecision {
  if (window.count <= rule.limit) return { allowed: true }
  return {
    allowed: false,
    retryAfterSeconds: Math.max(1, Math.ceil((window.windowStart + rule.windowMs - now) / 1000)),
  }
}

export function rateLimitedError(bucket: RateBucket, decision: { retryAfterSeconds: number }): KeygateError {
  const what: Record<RateBucket, string> = {
    auth: 'sign-in requests',
    issue: 'issuances',
    gatewayAuthFailure: 'failed gateway credentials',
    deviceStart: 'device sign-in starts',
    userCodeFailure: 'wrong device codes',
    scim: 'SCIM requests',
  }
  return new KeygateError(
    'RATE_LIMITED',
    `Too many ${what[bucket]} from this client; retry in ${decision.retryAfterSeconds} s`,
    { details: { retryAfterSeconds: decision.retryAfterSeconds } },
  )
}

/** Every bucket unlimited: for benchmarks of the broker's own work, never a deployment default. */
export const NO_RATE_LIMITS: RateLimits = Object.freeze({
  auth: null,
  issue: null,
  gatewayAuthFailure: null,
  deviceStart: null,
  userCodeFailure: null,
  scim: null,
})
