/**
 * The rate limiter of one process: a fixed-window counter per (bucket, key) in a bounded map. Each
 * Node replica counts on its own, so N replicas admit up to N times a limit (docs/security.md says so).
 * The map never grows past `maxKeys`: expired windows go first, then the oldest keys.
 */
import {
  countInWindow,
  peekWindow,
  type RateBucket,
  type RateLimits,
  type WindowCount,
} from '../../core/limits/rate-limit.ts'
import type { Clock, RateLimiter } from '../../core/ports.ts'

export function createMemoryRateLimiter(limits: RateLimits, clock: Clock, maxKeys = 100_000): RateLimiter {
  const windows = new Map<string, WindowCount>()

  function makeRoom(now: number) {
    if (windows.size < maxKeys) return
    for (const [key, window] of windows) {
      const bucket = key.slice(0, key.indexOf(' ')) as RateBucket
      const rule = limits[bucket]
      if (rule === null || window.windowStart + rule.windowMs <= now) windows.delete(key)
    }
    // Still full of live windows: forget the oldest (insertion order), which favours a flood's newest keys
    // over old ones only as long as the flood lasts.
    while (windows.size >= maxKeys) windows.delete(windows.keys().next().value as string)
  }

  return {
    async hit(bucket, key) {
      const rule = limits[bucket]
      if (rule === null) return { allowed: true }
      const now = clock.now()
      const id = `${bucket} ${key}`
      const previous = windows.get(id)
      const { next, decision } = countInWindow(previous, rule, now)
      if (previous === undefined) makeRoom(now)
      windows.set(id, next)
      return decision
    },
    async check(bucket, key) {
      const rule = limits[bucket]
      if (rule === null) return { allowed: true }
      return peekWindow(windows.get(`${bucket} ${key}`), rule, clock.now())
    },
  }
}
