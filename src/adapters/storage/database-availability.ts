/**
 * What the broker does while its database is away: a driver's connection failure becomes
 * `DATABASE_UNAVAILABLE` (503 with Retry-After) instead of `INTERNAL`, and no store call waits longer
 * than a bound for a connection, so a PostgreSQL restart costs clients a quick refusal and a retry,
 * never a request hung for the driver's whole reconnect backoff. Also keeps the outage's state for
 * `/readyz` and `/metrics`.
 *
 * Free of Node APIs: the Worker builds its request-scoped store through here too.
 */
import { KeygateError } from '../../core/errors.ts'
import type { Store } from '../../core/ports.ts'

/** How long a store call may wait for the database before the request is refused. Generous: under a
 *  burst, calls queue for one of the pool's connections, and that is load, not an outage. */
export const DEFAULT_DATABASE_WAIT_MS = 5_000
/** Once a call has failed to reach the database, later ones wait only about one reconnect attempt
 *  (postgres.js retries every 250 ms, open-database.ts) until a call succeeds again. */
export const DEFAULT_DATABASE_DOWN_WAIT_MS = 300
/** What a refused client is told to wait. */
export const DATABASE_RETRY_AFTER_SECONDS = 1

// Node's socket errors, postgres.js's own connection codes, SQLSTATE class 08 (connection exception),
// 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now), and PGlite after close.
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01',
  '57P02',
  '57P03',
])

export function isConnectionError(error: unknown, depth = 0): boolean {
  if (error instanceof KeygateError) return error.code === 'DATABASE_UNAVAILABLE'
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true
  if (error instanceof Error && /PGlite is closed/i.test(error.message)) return true
  // drizzle wraps the driver's error ("Failed query: ...") with the original as its cause.
  const cause = (error as { cause?: unknown } | null)?.cause
  return depth < 3 && cause !== undefined && isConnectionError(cause, depth + 1)
}

export function databaseUnavailable(cause?: unknown): KeygateError {
  return new KeygateError('DATABASE_UNAVAILABLE', 'The database is not answering; retry shortly', {
    cause,
    details: { retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS },
  })
}

export interface DatabaseAvailability {
  /** False from a connection failure until the next call that succeeds. */
  readonly available: boolean
  /** Connection failures and timeouts seen so far (a counter for /metrics). */
  readonly failures: number
  /** When the current outage began (ms since the epoch), or null. */
  readonly downSince: number | null
  /** How long a call may wait now: the full bound while the database answers, a short one in an outage. */
  waitMs(): number
  succeeded(): void
  /** Records a failure; returns the DATABASE_UNAVAILABLE error to throw. */
  failed(cause?: unknown): KeygateError
}

export function createDatabaseAvailability(
  options: { waitMs?: number; downWaitMs?: number; now?: () => number } = {},
): DatabaseAvailability {
  const waitMs = options.waitMs ?? DEFAULT_DATABASE_WAIT_MS
  const downWaitMs = options.downWaitMs ?? DEFAULT_DATABASE_DOWN_WAIT_MS
  const now = options.now ?? Date.now
  let failures = 0
  let downSince: number | null = null
  return {
    get available() {
      return downSince === null
    },
    get failures() {
      return failures
    },
    get downSince() {
      return downSince
    },
    waitMs: () => (downSince === null ? waitMs : downWaitMs),
    succeeded() {
      downSince = null
    },
    failed(cause) {
      failures++
      downSince ??= now()
      return cause instanceof KeygateError ? cause : databaseUnavailable(cause)
    },
  }
}

/**
 * Wraps every store method: a call that does not settle within `availability.waitMs()` is refused
 * with DATABASE_UNAVAILABLE (the runner also withdraws a query that never reached a connection, see
 * sql-runner.ts), and connection errors are translated to the same code.
 */
export function guardStore(store: Store, availability: DatabaseAvailability): Store {
  function guard<A extends unknown[], R>(method: (...args: A) => Promise<R>) {
    return (...args: A): Promise<R> =>
      new Promise<R>((resolve, reject) => {
        const timer = setTimeout(() => reject(availability.failed()), availability.waitMs())
        method(...args).then(
          (value) => {
            clearTimeout(timer)
            availability.succeeded()
            resolve(value)
          },
          (error: unknown) => {
            clearTimeout(timer)
            if (isConnectionError(error)) reject(availability.failed(error))
            else reject(error)
          },
        )
      })
  }

  const guarded = { ...store } as Record<string, unknown>
  for (const [name, value] of Object.entries(store)) {
    if (name === 'close' || typeof value !== 'function') continue
    guarded[name] = guard(value as (...args: unknown[]) => Promise<unknown>)
  }
  return guarded as unknown as Store
}
