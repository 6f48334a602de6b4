/**
 * A Store for one Worker request over Hyperdrive: a postgres.js client on the binding's connection
 * string, made when the request starts and ended when it is done, as Hyperdrive expects. Hyperdrive
 * keeps the real connections to PostgreSQL warm, so the per-request connect is to a nearby pooler and
 * cheap; holding a client across requests is not allowed by workerd anyway.
 *
 * Migrations never run here: `keygate migrate` with DATABASE_URL does them from the CLI, once.
 *
 * The store is guarded as on Node (database-availability.ts): a database that is away answers
 * 503 DATABASE_UNAVAILABLE with Retry-After, not 500, and no call waits on it beyond the bound. The
 * availability is the isolate's, shared by its requests, so once one request has met the outage the
 * next ones give up after the short wait.
 */
import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import type { DeviceStore } from '../../core/device/device-store.ts'
import type { Store } from '../../core/ports.ts'
import type { FactorStore } from '../../core/step-up/index.ts'
import { createFactorStore } from '../step-up/factor-store.ts'
import { type DatabaseAvailability, guardStore } from '../storage/database-availability.ts'
import type { Db } from '../storage/db.ts'
import { createDeviceStore } from '../storage/device-store.ts'
import { createDrizzleStore } from '../storage/drizzle-store.ts'
import { postgresRunner } from '../storage/sql-runner.ts'

/** Hyperdrive's guidance for postgres.js: a handful of connections per request, at most six sockets. */
export const REQUEST_POOL_SIZE = 5

export interface RequestStore {
  store: Store
  /** Keygate's own second factors (TOTP, WebAuthn), on the same client. */
  factors: FactorStore
  /** The terminal client's device sign-ins and credentials, on the same client. */
  devices: DeviceStore
  /** Ends the client; hand it to `ctx.waitUntil` so the response does not wait for it. */
  close(): Promise<void>
}

export function openRequestStore(connectionString: string, availability: DatabaseAvailability): RequestStore {
  const client = postgres(connectionString, {
    max: REQUEST_POOL_SIZE,
    // The schema uses only built-in types (jsonb, not arrays), so skip the type-catalogue round trip
    // that postgres.js would otherwise make on every new connection, i.e. on every request here.
    fetch_types: false,
    onnotice: () => {},
    connection: { TimeZone: 'UTC', DateStyle: 'ISO, YMD', application_name: 'keygate-worker' },
  })
  let closed: Promise<void> | null = null
  const close = () => {
    closed ??= client.end({ timeout: 5 })
    return closed
  }
  const db = drizzle({ client }) as unknown as Db
  const store = guardStore(
    createDrizzleStore({ db, runner: postgresRunner(client, { waitMs: availability.waitMs }), close }),
    availability,
  )
  return { store, factors: createFactorStore(db), devices: createDeviceStore(db), close }
}
