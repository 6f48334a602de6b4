/**
 * Opening the database Keygate runs on: PostgreSQL through postgres.js when a `DATABASE_URL` is given,
 * else the embedded PGlite persisted in `<dataDir>/pglite` (held by this process alone, under a lock
 * file), or an in-memory PGlite for tests and benchmarks. Also applies the drizzle-kit migrations.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { KeygateError } from '../../core/errors.ts'
import type { Logger, Store } from '../../core/ports.ts'
import { type DataDirLock, lockDataDir } from './data-dir-lock.ts'
import type { Db } from './db.ts'
import { createDrizzleStore } from './drizzle-store.ts'
import type { FeedListener } from './lease-store.ts'
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
  feedRetentionMs?: number
  onFeedChange?: FeedListener
  /** Defaults to the `drizzle/` folder of this package. */
  migrationsFolder?: string
}

export interface OpenedDatabase {
  readonly kind: 'postgres' | 'pglite'
  readonly store: Store
  /** The drizzle handle, for stores beside the main one (the step-up factors of schema-factors.ts). */
  readonly db: Db
  /** Applies pending migrations; safe to run on every start, and from two processes at once. */
  migrate(): Promise<void>
  /** Closes the driver and releases the data directory. Idempotent. */
  close(): Promise<void>
}

const MIGRATIONS = fileURLToPath(new URL('../../../drizzle', import.meta.url))

// Any constant works; it only has to be the same in every Keygate process migrating one database.
const MIGRATION_LOCK_KEY = 0x6b657967 // "keyg"

export async function openDatabase(options: OpenDatabaseOptions): Promise<OpenedDatabase> {
  const migrationsFolder = options.migrationsFolder ?? MIGRATIONS
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
    // Fixed session settings, so timestamps come back in one format whatever the server's defaults are.
    connection: { TimeZone: 'UTC', DateStyle: 'ISO, YMD', application_name: 'keygate' },
  })
  const db = drizzlePostgres({ client })
  const close = onlyOnce(() => client.end({ timeout: 5 }))
  const store = createDrizzleStore({
    db: db as unknown as Db,
    runner: postgresRunner(client),
    close,
    ...(options.feedRetentionMs === undefined ? {} : { feedRetentionMs: options.feedRetentionMs }),
    ...(options.onFeedChange === undefined ? {} : { onFeedChange: options.onFeedChange }),
  })
  options.logger?.info('storage.opened', { driver: 'postgres' })
  return {
    kind: 'postgres',
    store,
    db: db as unknown as Db,
    async migrate() {
      // Two brokers starting together must not both run the same migration: hold an advisory lock on one
      // connection while the migrator works on the others.
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
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 })
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
  const store = createDrizzleStore({
    db: db as unknown as Db,
    runner: pgliteRunner(client),
    close,
    ...(options.feedRetentionMs === undefined ? {} : { feedRetentionMs: options.feedRetentionMs }),
    ...(options.onFeedChange === undefined ? {} : { onFeedChange: options.onFeedChange }),
  })
  options.logger?.info('storage.opened', {
    driver: 'pglite',
    location: options.pglite === 'memory' ? 'memory' : options.dataDir,
  })
  return {
    kind: 'pglite',
    store,
    db: db as unknown as Db,
    async migrate() {
      await migratePglite(db, { migrationsFolder })
      options.logger?.info('storage.migrated', { driver: 'pglite' })
    },
    close,
  }
}
