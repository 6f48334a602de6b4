/**
 * Per-client rate limits at the HTTP edge (the buckets are core's, src/core/limits/rate-limit.ts):
 * sign-in starts and callbacks by client address, issuance by the signed-in identity, and failed gateway
 * or enrolment credentials by client address, checked before the credential costs a database query.
 * A refusal is `429 RATE_LIMITED` with `Retry-After`.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { type RateBucket, rateLimitedError } from '../../core/limits/rate-limit.ts'
import type { RateLimiter } from '../../core/ports.ts'
import type { AppEnv } from './app-env.ts'

/** How the runtime names the client of a request (the socket's peer on Node, CF-Connecting-IP on Workers). */
export type ClientAddressOf = (c: Context<AppEnv>) => string | undefined

/**
 * The client's address: the last value of a configured proxy header (the one the trusted proxy itself
 * appended), else the runtime's view. Unknown clients share one key, which limits them together.
 */
export function clientKey(c: Context<AppEnv>, header: string | null, runtime: ClientAddressOf | undefined) {
  if (header !== null) {
    const values = (c.req.header(header) ?? '').split(',')
    const last = values[values.length - 1]?.trim()
    if (last) return last
  }
  return runtime?.(c) ?? 'unknown'
}

export function rateLimit(
  limiter: RateLimiter,
  bucket: RateBucket,
  keyOf: (c: Context<AppEnv>) => string,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const decision = await limiter.hit(bucket, keyOf(c))
    if (!decision.allowed) throw rateLimitedError(bucket, decision)
    await next()
  }
}

/**
 * Counts only failures (a 401 from a credential check) and refuses a client over its limit before the
 * next credential is looked up, so guessing costs no database query once the limit is reached.
 */
export function rateLimitFailures(
  limiter: RateLimiter,
  bucket: RateBucket,
  keyOf: (c: Context<AppEnv>) => string,
  failed: (status: number) => boolean = (status) => status === 401,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = keyOf(c)
    const decision = await limiter.check(bucket, key)
    if (!decision.allowed) throw rateLimitedError(bucket, decision)
    await next()
    if (failed(c.res.status)) await limiter.hit(bucket, key)
  }
}
