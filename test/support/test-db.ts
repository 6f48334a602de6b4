// A fresh database for each integration test file, on the engine KEYGATE_TEST_DB names (vitest.config.ts
// sets it per project): 'pglite' is an in-memory PGlite; 'postgres' is a new database on the local server
// (KEYGATE_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres), dropped on close.
// Both come migrated. Other suites build on this: keep its shape stable.
import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import {
  type OpenDatabaseOptions,
  type OpenedDatabase,
  openDatabase,
} from '../../src/adapters/storage/open-database.ts'
import type { Store } from '../../src/core/ports.ts'

export type TestDatabaseKind = 'pglite' | 'postgres'

export interface TestDatabase {
  kind: TestDatabaseKind
  store: Store
  /** The database's URL when it is PostgreSQL (for a second process or connection). */
  databaseUrl?: string
  database: OpenedDatabase
  close(): Promise<void>
}

export const ADMIN_URL =
  process.env.KEYGATE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export function testDatabaseKind(): TestDatabaseKind {
  const kind = process.env.KEYGATE_TEST_DB ?? 'pglite'
  if (kind !== 'pglite' && kind !== 'postgres')
    throw new Error(`KEYGATE_TEST_DB must be pglite or postgres, got ${kind}`)
  return kind
}

/** A URL for database `name` on the same server as ADMIN_URL. */
export function urlForDatabase(name: string): string {
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

type ExtraOptions = Omit<OpenDatabaseOptions, 'databaseUrl' | 'dataDir' | 'pglite'>

export async function createTestDatabase(options: ExtraOptions = {}): Promise<TestDatabase> {
  const kind = testDatabaseKind()
  if (kind === 'pglite') {
    const database = await openDatabase({ ...options, pglite: 'memory' })
    await database.migrate()
    return { kind, store: database.store, database, close: () => database.close() }
  }
  const name = `keygate_test_${randomBytes(6).toString('hex')}`
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const databaseUrl = urlForDatabase(name)
  const database = await openDatabase({ ...options, databaseUrl })
  await database.migrate()
  return {
    kind,
    store: database.store,
    databaseUrl,
    database,
    async close() {
      await database.close()
      const dropper = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
      try {
        await dropper.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await dropper.end()
      }
    },
  }
}

/**
 * A store on a PostgreSQL database someone else made and migrates (a fault test's own cluster, shared by
 * several broker replicas); closing it closes this connection only, never drops the database.
 */
export async function openTestDatabaseAt(url: string): Promise<TestDatabase> {
  const database = await openDatabase({ databaseUrl: url })
  return {
    kind: 'postgres',
    store: database.store,
    databaseUrl: url,
    database,
    close: () => database.close(),
  }
}
