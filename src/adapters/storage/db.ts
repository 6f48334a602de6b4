/**
 * The drizzle database type the store's query-builder code is written against: either driver's database,
 * seen through the dialect they share (PGlite and postgres.js differ only in their result wrappers).
 */
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'

export type Db = PgDatabase<PgQueryResultHKT>
