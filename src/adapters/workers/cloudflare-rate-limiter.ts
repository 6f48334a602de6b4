/**
 * Rate limits on Workers through Cloudflare's rate-limit bindings (wrangler.toml `[[ratelimits]]`),
 * which count across the isolates of a Cloudflare location without a database write per request. A
 * bucket whose binding is missing falls back to a counter in this isolate (logged once at start), which
 * bounds one isolate only: docs/workers.md says to declare the bindings.
 *
 * The binding answers only yes or no and has no "peek", so a key it refused is remembered as blocked
 * in this isolate until the binding's period is over; `check` reads that memory.
 */
import type { RateBucket, RateLimits } from '../../core/limits/rate-limit.ts'
import type { Clock, Logger, RateLimiter } from '../../core/ports.ts'
import { createMemoryRateLimiter } from '../limits/memory-rate-limiter.ts'

/** Cloudflare's binding (Workers runtime API `RateLimit`). */
export interface RateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>
}

export const RATE_LIMIT_BINDINGS: Record<RateBucket, string> = {
  auth: 'RATE_LIMIT_AUTH',
  issue: 'RATE_LIMIT_ISSUE',
  gatewayAuthFailure: 'RATE_LIMIT_GATEWAY_AUTH_FAILURES',
  deviceStart: 'RATE_LIMIT_DEVICE_START',
  userCodeFailure: 'RATE_LIMIT_USER_CODE_FAILURES',
  scim: 'RATE_LIMIT_SCIM',
}

/** The binding's period can be 10 or 60 s; Retry-After names the longer, which is never too early. */
const BINDING_PERIOD_SECONDS = 60

export function createCloudflareRateLimiter(
  bindings: Record<string, unknown>,
  limits: RateLimits,
  clock: Clock,
  logger: Logger,
): RateLimiter {
  const fallback = createMemoryRateLimiter(limits, clock, 10_000)
  const bound = new Map<RateBucket, RateLimitBinding>()
  const missing: string[] = []
  for (const [bucket, name] of Object.entries(RATE_LIMIT_BINDINGS) as Array<[RateBucket, string]>) {
    const binding = bindings[name]
    if (isRateLimitBinding(binding)) bound.set(bucket, binding)
    else if (limits[bucket] !== null) missing.push(name)
  }
  if (missing.length > 0) {
    logger.warn('rate_limit.per_isolate', {
      missing,
      hint: 'declare these [[ratelimits]] bindings in wrangler.toml (docs/workers.md); until then each isolate counts alone',
    })
  }
  const blockedUntil = new Map<string, number>()

  return {
    async hit(bucket, key) {
      const binding = bound.get(bucket)
      if (binding === undefined || limits[bucket] === null) return fallback.hit(bucket, key)
      const { success } = await binding.limit({ key: `${bucket}:${key}` })
      if (success) return { allowed: true }
      if (blockedUntil.size >= 10_000) blockedUntil.delete(blockedUntil.keys().next().value as string)
      blockedUntil.set(`${bucket} ${key}`, clock.now() + BINDING_PERIOD_SECONDS * 1000)
      return { allowed: false, retryAfterSeconds: BINDING_PERIOD_SECONDS }
    },
    async check(bucket, key) {
      if (!bound.has(bucket) || limits[bucket] === null) return fallback.check(bucket, key)
      const until = blockedUntil.get(`${bucket} ${key}`)
      if (until === undefined) return { allowed: true }
      const left = until - clock.now()
      if (left <= 0) {
        blockedUntil.delete(`${bucket} ${key}`)
        return { allowed: true }
      }
      return { allowed: false, retryAfterSeconds: Math.ceil(left / 1000) }
    },
  }
}

function isRateLimitBinding(value: unknown): value is RateLimitBinding {
  return (
    typeof value === 'object' && value !== null && typeof (value as { limit?: unknown }).limit === 'function'
  )
}
