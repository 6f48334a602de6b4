// A Clock that moves only when a test moves it, for unit tests of core use cases.
import type { Clock } from '../../src/core/ports.ts'

export interface ManualClock extends Clock {
  set(ms: number): void
  advance(ms: number): void
}

/** A fixed instant well inside the range every time format handles (2027-01-15). */
export const TEST_EPOCH_MS = 1_800_000_000_000

export function createManualClock(start = TEST_EPOCH_MS): ManualClock {
  let now = start
  return {
    now: () => now,
    set(ms) {
      now = ms
    },
    advance(ms) {
      now += ms
    },
  }
}
