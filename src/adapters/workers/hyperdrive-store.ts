/**
 * A Store for one Worker request over Hyperdrive: a postgres.js client on the binding's connection
 * string, made when the request starts and ended when it is done, as Hyperdrive expects. Hyperdrive
 * keeps the real connections to PostgreSQL warm, so the per-request connect is to a nearby pooler and
 * cheap; holding a client across requests is not allowed by workerd anyway.
 *
 * Migrations never run here: `keygate migrate` with DATABASE_URL does them from the CLI, once.
 */
import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import type { Store } from '../../core/ports.ts'
import type { FactorStore } from '../../core/step-up/index.ts'
import { createFactorStore } from '../step-up/factor-store.ts'
import type { Db } from '../storage/db.ts'
import { createDrizzleStore } from '../storage/drizzle-store.ts'
import { postgresRunner } from '../storage/sql-runner.ts'

/** Hyperdrive's guidance for postgres.js: a handful of connections per request, at most six sockets. */
export const REQUEST_POOL_SIZE = 5

export interface RequestStore {
  store: Store
  /** Keygate's own second factors (TOTP, WebAuthn), on the same client. */
  factors: FactorStore
  /** Ends the client; hand it to `ctx.waitUntil` so the response does not wait for it. */
  close(): Promise<void>
}

export function openRequestStore(connectionString: string): RequestStore {
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
  const store = createDrizzleStore({ db, runner: postgresRunner(client), close })
  return { store, factors: createFactorStore(db), close }
}
