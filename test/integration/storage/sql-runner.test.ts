// The runner's bounded wait on PostgreSQL: a query that no connection has taken when the wait runs out is
// withdrawn (refused with DATABASE_UNAVAILABLE and never executed), so an issuance cannot commit long
// after its client was told 503; a query a connection already runs is left to finish. The pool's only
// connection is held with reserve(), which queues every other query exactly as a database that is away
// does (postgres.js keeps them until a connection is free). PostgreSQL only: PGlite has no pool.
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postgresRunner } from '../../../src/adapters/storage/sql-runner.ts'
import { isKeygateError } from '../../../src/core/errors.ts'
import { createTestDatabase, type TestDatabase, testDatabaseKind } from '../../support/test-db.ts'

const onPostgres = testDatabaseKind() === 'postgres'

describe.skipIf(!onPostgres)('postgresRunner with a wait bound', () => {
  let db: TestDatabase
  let client: postgres.Sql

  beforeAll(async () => {
    db = await createTestDatabase()
    client = postgres(db.databaseUrl!, { max: 1, onnotice: () => {}, fetch_types: false })
    await client.unsafe('CREATE TABLE runner_probe (label text NOT NULL)')
  })
  afterAll(async () => {
    await client?.end()
    await db?.close()
  })

  async function labels(): Promise<string[]> {
    const rows = await client.unsafe<{ label: string }[]>('SELECT label FROM runner_probe ORDER BY label')
    return rows.map((row) => row.label)
  }

  it('withdraws a query still waiting for a connection: DATABASE_UNAVAILABLE, and it never runs', async () => {
    const runner = postgresRunner(client, { waitMs: () => 200 })
    const held = await client.reserve()
    // Released after the wait has run out either way, so a runner that does not withdraw lets the
    // insert through (and resolves) instead of hanging the test.
    const release = setTimeout(() => held.release(), 1_000)
    try {
      const outcome = await runner
        .rows(sql`INSERT INTO runner_probe (label) VALUES ('queued') RETURNING label`)
        .then(
          (rows) => ({ rows }),
          (error: unknown) => ({ error }),
        )
      expect('error' in outcome && isKeygateError(outcome.error, 'DATABASE_UNAVAILABLE')).toBe(true)
    } finally {
      await new Promise((resolve) => setTimeout(resolve, 1_100))
      clearTimeout(release)
    }
    // The connection is free again and has run whatever was still queued: the insert is not there.
    expect(await labels()).not.toContain('queued')
  })

  it('lets a query a connection is already running finish past the wait', async () => {
    const runner = postgresRunner(client, { waitMs: () => 100 })
    const rows = await runner.rows(
      sql`INSERT INTO runner_probe (label) SELECT 'running' FROM pg_sleep(0.6) RETURNING label`,
    )
    expect(rows).toEqual([{ label: 'running' }])
    expect(await labels()).toContain('running')
  })
})
