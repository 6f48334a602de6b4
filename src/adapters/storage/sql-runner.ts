/**
 * Runs hand-written SQL (drizzle `sql` templates) on either driver and hands back plain rows.
 *
 * The store's change-feed and allocation statements are single SQL statements with data-modifying CTEs:
 * one round trip and one implicit transaction each, which is what keeps issuance fast. drizzle's query
 * builder cannot express them, and `db.execute` would re-plan them on every call, so they go through here:
 * on postgres.js as named prepared statements, on PGlite through its own `query`. Transactions of several
 * statements (enrollment) use `transaction`.
 *
 * On PostgreSQL a deadlock or serialization failure aborts the statement; those are retried a few times,
 * since the statements are idempotent as a whole (they either committed everything or nothing).
 */
import type { PGlite, Transaction as PGliteTransaction } from '@electric-sql/pglite'
import type { SQL } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'
import type { Sql, TransactionSql } from 'postgres'
import { databaseUnavailable } from './database-availability.ts'

export type Row = Record<string, unknown>

export interface SqlRunner {
  rows(query: SQL): Promise<Row[]>
  /** Runs `work` in one transaction; throwing rolls it back. */
  transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T>
}

const dialect = new PgDialect()

// 40P01 deadlock_detected, 40001 serialization_failure.
const RETRYABLE = new Set(['40P01', '40001'])
const ATTEMPTS = 4

/** The constraint a unique violation (23505) names, on either driver; null for any other error. */
export function uniqueViolation(error: unknown): string | null {
  const e = error as {
    code?: unknown
    constraint_name?: unknown
    constraint?: unknown
    cause?: unknown
  } | null
  if (e === null || typeof e !== 'object') return null
  if (e.code !== '23505') return e.cause === undefined ? null : uniqueViolation(e.cause)
  const name = e.constraint_name ?? e.constraint
  return typeof name === 'string' ? name : ''
}

function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && RETRYABLE.has(code)
}

async function retrying<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
    } catch (error) {
      if (attempt >= ATTEMPTS || !isRetryable(error)) throw error
    }
  }
}

type PostgresLike = Sql | TransactionSql

function postgresRows(client: PostgresLike, query: SQL, waitMs?: () => number): Promise<Row[]> {
  const { sql: text, params } = dialect.sqlToQuery(query)
  // postgres.js caches the prepared statement per connection by its text; our texts are fixed per shape.
  const pending = client.unsafe(text, params as never[], { prepare: true })
  if (waitMs === undefined) return pending as unknown as Promise<Row[]>
  return new Promise<Row[]>((resolve, reject) => {
    // While the database is away postgres.js keeps a query queued until a connection comes back, which
    // would commit an issuance long after its client was told 503. A query that no connection has
    // taken yet (no backend `state`) after the wait is withdrawn: it never reaches the server. One
    // already handed to a connection runs on; the store guard answers its caller. postgres.js starts
    // every query with `state = null` and sets it when a connection executes it, hence `!= null`.
    const timer = setTimeout(() => {
      if ((pending as unknown as { state?: unknown }).state != null) return
      reject(databaseUnavailable())
      // Withdrawing a query nobody took settles at once; the catch is for the driver changing that
      // (its canceller may throw, or hand back a promise that rejects) without an unhandled rejection.
      Promise.resolve()
        .then(() => pending.cancel())
        .catch(() => {})
    }, waitMs())
    ;(pending as unknown as Promise<Row[]>).then(
      (rows) => {
        clearTimeout(timer)
        resolve(rows)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}

export function postgresRunner(client: Sql, options: { waitMs?: () => number } = {}): SqlRunner {
  const inTransaction = (tx: TransactionSql): SqlRunner => ({
    rows: (query) => postgresRows(tx, query),
    transaction: () => Promise.reject(new Error('nested transactions are not used by the store')),
  })
  return {
    rows: (query) => retrying(() => postgresRows(client, query, options.waitMs)),
    transaction: <T>(work: (tx: SqlRunner) => Promise<T>) =>
      retrying(() => client.begin((tx) => work(inTransaction(tx))) as Promise<T>),
  }
}

type PGliteLike = PGlite | PGliteTransaction

async function pgliteRows(client: PGliteLike, query: SQL): Promise<Row[]> {
  const { sql: text, params } = dialect.sqlToQuery(query)
  const result = await client.query<Row>(text, params)
  return result.rows
}

export function pgliteRunner(client: PGlite): SqlRunner {
  const inTransaction = (tx: PGliteTransaction): SqlRunner => ({
    rows: (query) => pgliteRows(tx, query),
    transaction: () => Promise.reject(new Error('nested transactions are not used by the store')),
  })
  return {
    rows: (query) => pgliteRows(client, query),
    transaction: (work) => client.transaction((tx) => work(inTransaction(tx))),
  }
}
