/**
 * Retry delays for the gateway agent: exponential, capped, with "equal jitter" (half fixed, half random).
 * The fixed half keeps a flapping broker from being hammered; the random half spreads a thousand gateways
 * reconnecting after a broker restart over time instead of one synchronized storm.
 */

export interface BackoffPolicy {
  baseMs: number
  maxMs: number
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 30_000 }

/** The delay before retry number `attempt` (0 for the first retry); `random01` is uniform in [0, 1). */
export function backoffDelay(
  attempt: number,
  random01: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(attempt, 0), 30))
  return Math.round(ceiling / 2 + (Math.min(Math.max(random01, 0), 1) * ceiling) / 2)
}

/** A uniform number in [0, 1) from four random bytes (core has no Math.random). */
export function unitInterval(bytes: Uint8Array): number {
  const n =
    ((bytes[0] ?? 0) * 2 ** 24 + (bytes[1] ?? 0) * 2 ** 16 + (bytes[2] ?? 0) * 2 ** 8 + (bytes[3] ?? 0)) >>> 0
  return n / 2 ** 32
}

/**
 * Why a broker call failed, as far as retrying goes:
 * - `unreachable`: nobody is listening (refused, reset, no route, a timeout): the broker is restarting, so
 *   retry within about a second, with jitter, however long the outage has lasted;
 * - `overloaded`: 503 or 429: back off, and never sooner than the broker's Retry-After;
 * - `failed`: another retryable failure (a 500, an answer that does not parse): exponential backoff;
 * - `refused`: a 4xx the broker means (a revoked credential, another protocol): the slowest pace.
 */
export type FailureKind = 'unreachable' | 'overloaded' | 'failed' | 'refused'

/** Retry after "nobody listening": uniform in [250, 1000) ms, so a thousand gateways do not arrive at once. */
export const UNREACHABLE_RETRY = { minMs: 250, maxMs: 1_000 }

/** The delay before the next attempt after a failure of this kind (`attempt` counts consecutive failures). */
export function retryDelay(
  kind: FailureKind,
  attempt: number,
  random01: number,
  options: { retryAfterMs?: number | null; policy?: BackoffPolicy } = {},
): number {
  const policy = options.policy ?? DEFAULT_BACKOFF
  const r = Math.min(Math.max(random01, 0), 1)
  switch (kind) {
    case 'unreachable':
      return Math.round(UNREACHABLE_RETRY.minMs + r * (UNREACHABLE_RETRY.maxMs - UNREACHABLE_RETRY.minMs))
    case 'overloaded':
      return Math.max(options.retryAfterMs ?? 0, backoffDelay(attempt, r, policy))
    case 'failed':
      return backoffDelay(attempt, r, policy)
    case 'refused':
      return backoffDelay(attempt, r, { ...policy, baseMs: policy.maxMs })
  }
}
