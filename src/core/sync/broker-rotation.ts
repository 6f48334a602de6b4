/**
 * Which broker URL the agent asks, and how long it waits after a failure: the one failover rule for
 * enrollment and sync. "Nobody answering" (unreachable, overloaded) moves on to the next URL at once; only
 * when every URL failed in a row does the agent wait (backoff.ts's delay for that kind of failure). A
 * refusal is the broker's answer and is not asked elsewhere.
 */
import { type BackoffPolicy, type FailureKind, retryDelay } from './backoff.ts'

export interface BrokerFailure {
  kind: FailureKind
  retryAfterMs: number | null
}

export class BrokerRotation {
  private readonly count: number
  private readonly backoff: BackoffPolicy
  private readonly random01: () => number
  private index = 0
  private failedInRound = 0
  private attempt = 0

  constructor(count: number, backoff: BackoffPolicy, random01: () => number) {
    if (count < 1) throw new Error('at least one broker URL is needed')
    this.count = count
    this.backoff = backoff
    this.random01 = random01
  }

  /** The index of the broker to ask now. */
  current(): number {
    return this.index
  }

  succeeded(): void {
    this.failedInRound = 0
    this.attempt = 0
  }

  /** After a failed call: null to ask `current()` (the next URL) at once, else the ms to wait before asking again. */
  failed(failure: BrokerFailure): number | null {
    if (failure.kind === 'unreachable' || failure.kind === 'overloaded') {
      this.index = (this.index + 1) % this.count
      this.failedInRound++
      if (this.failedInRound < this.count) return null
    }
    this.failedInRound = 0
    return retryDelay(failure.kind, this.attempt++, this.random01(), {
      retryAfterMs: failure.retryAfterMs,
      policy: this.backoff,
    })
  }
}
