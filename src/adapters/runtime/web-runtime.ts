/**
 * Clock and randomness from the Web platform APIs that Node and workerd share.
 */
import type { Clock, Random } from '../../core/ports.ts'

export const systemClock: Clock = { now: () => Date.now() }

export const cryptoRandom: Random = {
  bytes(length) {
    return crypto.getRandomValues(new Uint8Array(length))
  },
}
