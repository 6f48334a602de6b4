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
