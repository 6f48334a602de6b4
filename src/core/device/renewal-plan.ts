/**
 * When the terminal client acts on its lease, as a pure function of times (milliseconds): renew with the
 * credential at two thirds of the lease's life (so a failed attempt has a third left for retries), and
 * start a fresh device sign-in ahead of the moment the sign-in behind the lease runs out (the policy's
 * maxAuthAge), so the person has time to approve before anything drops.
 */

export interface LeaseTimes {
  /** When the client last got or renewed the lease. */
  since: number
  expiresAt: number
  /** When the lease's sign-in becomes too old for the policy; null when the policy sets no limit. */
  signInValidUntil: number | null
  /** The lease's full life as first issued (its ttl), the yardstick for "well before". */
  lifetime: number
}

export type NextStep = { kind: 'renew'; at: number } | { kind: 'sign-in'; at: number }

/** Retries of a failed renewal come this often, until the lease ends. */
export const RENEW_RETRY_MS = 1_000

/** How long before the sign-in runs out a fresh one is asked for: a third of a lease life, and at
 *  least a whole short lease (or a minute), so a person has time to approve. */
export function signInMargin(lifetime: number): number {
  return Math.max(lifetime / 3, Math.min(lifetime, 60_000))
}

export function nextStep(times: LeaseTimes): NextStep {
  const renewAt = times.since + Math.floor(((times.expiresAt - times.since) * 2) / 3)
  if (times.signInValidUntil !== null) {
    const signInAt = times.signInValidUntil - signInMargin(times.lifetime)
    // A renewal cannot reach past the end of the sign-in: once the lease already ends there, only a
    // new sign-in helps.
    if (times.expiresAt >= times.signInValidUntil || signInAt <= renewAt) {
      return { kind: 'sign-in', at: signInAt }
    }
  }
  return { kind: 'renew', at: renewAt }
}
