/**
 * Opening the database Keygate runs on: PostgreSQL through postgres.js when a `DATABASE_URL` is given,
 * else the embedded PGlite persisted in `<dataDir>/pglite` (held by this process alone, under a lock
 * file), or an in-memory PGlite for tests and benchmarks. Also applies the drizzle-kit migrations.
 */
import { join } from 'node:path'
import type { PGlite } from '@electric-sql/pglite'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { KeygateError } from '../../core/errors.ts'
import type { Logger, Store } from '../../core/ports.ts'
import { migrationsFolder as packagedMigrations } from '../runtime/package-files.ts'
import { type DataDirLock, lockDataDir } from './data-dir-lock.ts'
import { createDatabaseAvailability, type DatabaseAvailability, guardStore } from './database-availability.ts'
import type { Db } from './db.ts'
import { createDrizzleStore } from './drizzle-store.ts'
import { ensurePrivateDir, tightenTree } from './private-dir.ts'
import { pgliteRunner, postgresRunner } from './sql-runner.ts'

export interface OpenDatabaseOptions {
  /** `postgres://…`; when set, PostgreSQL is used and `dataDir` is not touched. */
  databaseUrl?: string
  /** Where the embedded database lives (`<dataDir>/pglite`). Required for the persisted PGlite. */
  dataDir?: string
  /** `'memory'`: an in-memory PGlite (tests, benchmarks); ignored when `databaseUrl` is set. */
  pglite?: 'memory' | 'directory'
  logger?: Logger
  /** postgres.js connections (default 10). */
  poolSize?: number
  /** How long a store call waits for the database before DATABASE_UNAVAILABLE (PostgreSQL only). */
  databaseWaitMs?: number
  /** The same, once a call has failed to reach the database and until one succeeds. */
  databaseDownWaitMs?: number
  feedRetentionMs?: number
  /** Defaults to the `drizzle/` folder of this package. */
  migrationsFolder?: string
}

export interface OpenedDatabase {
  readonly kind: 'postgres' | 'pglite'
  readonly store: Store
  /** The drizzle handle, for stores beside the main one (the step-up factors of schema-factors.ts). */
  readonly db: Db
  /** Whether the database answers, as the store's calls last saw it (for /readyz and /metrics). */
  readonly availability: DatabaseAvailability
  /** Applies pending migrations; safe to run on every start, and from two processes at once. */
  migrate(): Promise<void>
  /** Closes the driver and releases the data directory. Idempotent. */
  close(): Promise<void>
}

const RECONNECT_BACKOFF_SECONDS = 0.25
const CONNECT_TIMEOUT_SECONDS = 5

/**
 * For every postgres.js client of the broker. With `fetch_types` on, postgres.js sends a type-catalogue
 * query on each new connection from a promise nobody handles: a connection reset while it is in flight
 * (a PostgreSQL restart right after a reconnect) is an unhandled rejection, which ends the Node process.
 * The schema uses only built-in types (jsonb, no arrays), so the catalogue is not needed.
 */
export const CRASH_SAFE_POSTGRES_OPTIONS = { fetch_types: false } as const

// Any constant works; it only has to be the same in every Keygate process migrating one database.
const MIGRATION_LOCK_KEY = 0x6b657967 // "keyg"

export async function openDatabase(options: OpenDatabaseOptions): Promise<OpenedDatabase> {
  const migrationsFolder = options.migrationsFolder ?? packagedMigrations()
  if (options.databaseUrl !== undefined && options.databaseUrl !== '') {
    return openPostgres(options.databaseUrl, options, migrationsFolder)
  }
  return openPglite(options, migrationsFolder)
}

function onlyOnce(work: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined
  return () => {
    done ??= work()
    return done
  }
}

function openPostgres(url: string, options: OpenDatabaseOptions, migrationsFolder: string): OpenedDatabase {
  const client = postgres(url, {
    max: options.poolSize ?? 10,
    onnotice: () => {},
    // postgres.js's default backoff grows to 20 s, so a 2 s restart became 10-17 s of hung requests. A
    // fixed quarter second reconnects within a second of the server accepting again, at four
    // connection attempts per second per pooled connection while it is down.
    backoff: () => RECONNECT_BACKOFF_SECONDS,
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    ...CRASH_SAFE_POSTGRES_OPTIONS,
    // Fixed session settings, so timestamps come back in one format whatever the server's defaults are.
    connection: { TimeZone: 'UTC', DateStyle: 'ISO, YMD', application_name: 'keygate' },
  })
  const db = drizzlePostgres({ client })
  const close = onlyOnce(() => client.end({ timeout: 5 }))
  const availability = createDatabaseAvailability({
    ...(options.databaseWaitMs === undefined ? {} : { waitMs: options.databaseWaitMs }),
    ...(options.databaseDownWaitMs === undefined ? {} : { downWaitMs: options.databaseDownWaitMs }),
  })
  const store = guardStore(
    createDrizzleStore({
      db: db as unknown as Db,
      runner: postgresRunner(client, { waitMs: availability.waitMs }),
      close,
      ...(options.feedRetentionMs === undefined ? {} : { feedRetentionMs: options.feedRetentionMs }),
    }),
    availability,
  )
  options.logger?.info('storage.opened', { driver: 'postgres' })
  return {
    kind: 'postgres',
    store,
    availability,
    db: db as unknown as Db,
    async migrate() {
      // Two brokers starting together must not both run the same migration: hold an advisory lock on one
      // connection while the migrator works on the others.
      // Without fetch_types, postgres.js never hands a *new* connection to `reserve()` (it hangs): open
      // one with a plain query first, so `reserve()` takes an open connection.
      await client`SELECT 1`
      const reserved = await client.reserve()
      try {
        await reserved`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`
        await migratePostgres(db, { migrationsFolder })
      } finally {
        await reserved`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.catch(() => {})
        reserved.release()
      }
      options.logger?.info('storage.migrated', { driver: 'postgres' })
    },
    close,
  }
}

async function openPglite(options: OpenDatabaseOptions, migrationsFolder: string): Promise<OpenedDatabase> {
  let lock: DataDirLock | undefined
  // Imported here, not at the top: a server on PostgreSQL never loads PGlite's module graph.
  const [{ PGlite }, { drizzle: drizzlePglite }, { migrate: migratePglite }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('drizzle-orm/pglite'),
    import('drizzle-orm/pglite/migrator'),
  ])
  let client: PGlite
  if (options.pglite === 'memory') {
    client = new PGlite()
  } else {
    if (options.dataDir === undefined || options.dataDir === '') {
      throw new KeygateError(
        'CONFIG_INVALID',
        'the embedded database needs a data directory (KEYGATE_DATA_DIR)',
      )
    }
    await ensurePrivateDir(options.dataDir, options.logger)
    lock = await lockDataDir(options.dataDir)
    try {
      client = new PGlite(join(options.dataDir, 'pglite'))
    } catch (error) {
      await lock.release()
      throw error
    }
  }
  try {
    await client.waitReady
    if (options.pglite !== 'memory') await tightenTree(join(options.dataDir as string, 'pglite'))
  } catch (error) {
    await lock?.release()
    throw error
  }
  const db = drizzlePglite({ client })
  const close = onlyOnce(async () => {
    try {
      await client.close()
    } finally {
      await lock?.release()
    }
  })
  // No wait bound: the embedded database lives in this process and has no connection to lose; the
  // guard only turns a call after close (shutdown) into DATABASE_UNAVAILABLE rather than INTERNAL.
  const availability = createDatabaseAvailability({ waitMs: 2 ** 31 - 1, downWaitMs: 2 ** 31 - 1 })
  const store = guardStore(
    createDrizzleStore({
      db: db as unknown as Db,
      runner: pgliteRunner(client),
      close,
      ...(options.feedRetentionMs === undefined ? {} : { feedRetentionMs: options.feedRetentionMs }),
    }),
    availability,
  )
  options.logger?.info('storage.opened', {
    driver: 'pglite',
    location: options.pglite === 'memory' ? 'memory' : options.dataDir,
  })
  return {
    kind: 'pglite',
    store,
    availability,
    db: db as unknown as Db,
    async migrate() {
      await migratePglite(db, { migrationsFolder })
      options.logger?.info('storage.migrated', { driver: 'pglite' })
    },
    close,
  }
}
