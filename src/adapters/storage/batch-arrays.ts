/**
 * A batch statement's per-request values as PostgreSQL array literals, unnested together in the query.
 *
 * Why not `jsonb_to_recordset`: the planner assumes 100 rows from any set-returning function it cannot
 * see into, so a batch of one (a gateway reconnecting alone, the common case) was planned as hash joins
 * over every gateway and feed row, eight times the work of index lookups (docs/benchmarks.md, "Broker
 * restart"). `unnest` of an array parameter is estimated from the array itself, so a batch of one probes
 * the indexes and a batch of hundreds still hashes.
 */

/** A `text[]` literal of these values (cast with `::text[]` at the use site); null stays NULL. */
export function textArray(values: ReadonlyArray<string | null>): string {
  return `{${values.map((v) => (v === null ? 'NULL' : `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`)).join(',')}}`
}

/** A `bigint[]` or `int[]` literal of these integers. */
export function integerArray(values: readonly number[]): string {
  return `{${values.map((v) => String(Math.trunc(v))).join(',')}}`
}
