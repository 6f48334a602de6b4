// Withdrawing a queued query must not turn a failing cancel() into an unhandled rejection or a thrown
// timer callback (either would end `keygate serve`). postgres.js 3.4 never rejects on this path, so the
// driver is stood in for by a query that never settles and whose cancel fails; the real driver's
// withdrawal is tested against PostgreSQL in test/integration/storage/sql-runner.test.ts.
import { sql } from 'drizzle-orm'
import type { Sql } from 'postgres'
import { describe, expect, it } from 'vitest'
import { postgresRunner } from '../../../src/adapters/storage/sql-runner.ts'
import { isKeygateError } from '../../../src/core/errors.ts'

function clientWhoseCancel(cancel: () => unknown): Sql {
  const unsafe = () => Object.assign(new Promise<never>(() => {}), { state: null, cancel })
  return { unsafe } as unknown as Sql
}

async function refusal(client: Sql): Promise<unknown> {
  const runner = postgresRunner(client, { waitMs: () => 20 })
  const error = await runner.rows(sql`SELECT 1`).then(
    () => null,
    (caught: unknown) => caught,
  )
  // Let the withdrawal's own promise settle inside the test, where vitest would report it.
  await new Promise((resolve) => setTimeout(resolve, 20))
  return error
}

describe('postgresRunner withdrawing a queued query', () => {
  it('refuses with DATABASE_UNAVAILABLE when cancel() hands back a rejected promise', async () => {
    let cancelled = 0
    const error = await refusal(
      clientWhoseCancel(() => {
        cancelled++
        return Promise.reject(new Error('cancel failed'))
      }),
    )
    expect(isKeygateError(error, 'DATABASE_UNAVAILABLE')).toBe(true)
    expect(cancelled).toBe(1)
  })

  it('refuses with DATABASE_UNAVAILABLE when cancel() throws', async () => {
    const error = await refusal(
      clientWhoseCancel(() => {
        throw new Error('cancel threw')
      }),
    )
    expect(isKeygateError(error, 'DATABASE_UNAVAILABLE')).toBe(true)
  })
})
