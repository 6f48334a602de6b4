/**
 * Appending to gateway change feeds inside a larger statement, with versions no reader can skip.
 *
 * A statement that changes what gateways must hold defines a CTE named `changes` (gateway, kind, lease_id,
 * public_key, preshared_key_ciphertext, allowed_ips, routes, expires_at) and appends `feedAppendCtes`. For each
 * gateway, that bumps the counter row in `gateway_feeds` by the number of its changes and numbers the new
 * entries below the new counter value. The counter row stays locked until the statement commits, so the
 * next writer for that gateway gets the next versions only after this one is visible: versions appear in
 * commit order, without holes, and a reader polling `version > since` never passes an uncommitted one.
 *
 * The bump is an upsert (a gateway's first change creates its row) fed in gateway-name order, so
 * statements touching several gateways take the row locks in one global order and cannot deadlock on them.
 * The CTE `feed_bump` (gateway, version) is left for the caller to report which feeds moved.
 */
import { type SQL, sql } from 'drizzle-orm'
import { isoTime } from './row-values.ts'

export function feedAppendCtes(now: number): SQL {
  return sql`
  feed_counts AS (SELECT gateway, count(*) AS n FROM changes GROUP BY gateway),
  feed_bump AS (
    INSERT INTO gateway_feeds AS f (gateway, version)
    SELECT gateway, n FROM feed_counts ORDER BY gateway
    ON CONFLICT (gateway) DO UPDATE SET version = f.version + excluded.version
    RETURNING f.gateway, f.version
  ),
  feed_rows AS (
    INSERT INTO gateway_feed_entries
      (gateway, version, kind, lease_id, public_key, preshared_key_ciphertext, allowed_ips, routes, expires_at,
       created_at)
    SELECT c.gateway,
           b.version - k.n + row_number() OVER (PARTITION BY c.gateway ORDER BY c.lease_id, c.kind),
           c.kind, c.lease_id, c.public_key, c.preshared_key_ciphertext, c.allowed_ips, c.routes, c.expires_at,
           ${isoTime(now)}::timestamptz
    FROM changes c
    JOIN feed_bump b ON b.gateway = c.gateway
    JOIN feed_counts k ON k.gateway = c.gateway
  )`
}

/** The gateways whose feeds a statement moved, as a jsonb array column named `touched`. */
export const touchedGateways = sql`(SELECT coalesce(jsonb_agg(gateway ORDER BY gateway), '[]'::jsonb) FROM feed_bump) AS touched`

/** What a peer upsert lets through on the gateway: the lease's own overlay addresses, as host routes. */
export function allowedIpsOf(alias: string): SQL {
  const v4 = sql.raw(`${alias}.address_v4`)
  const v6 = sql.raw(`${alias}.address_v6`)
  return sql`(jsonb_build_array(${v4} || '/32')
    || CASE WHEN ${v6} IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(${v6} || '/128') END)`
}

/**
 * One `changes` row per distinct gateway in a lease's grants. An upsert carries the grant's routes for that
 * gateway (the union of the lease's granted prefixes there), which the agent turns into its packet filter.
 */
export function perGrantedGateway(leaseAlias: string, grantsColumn: string, kind: 'upsert' | 'remove'): SQL {
  const l = sql.raw(leaseAlias)
  const grants = sql.raw(`${leaseAlias}.${grantsColumn}`)
  const details =
    kind === 'upsert'
      ? sql`${l}.preshared_key_ciphertext, ${allowedIpsOf(leaseAlias)} AS allowed_ips,
          coalesce(g->'routes', '[]'::jsonb) AS routes, ${l}.expires_at`
      : sql`NULL::text AS preshared_key_ciphertext, NULL::jsonb AS allowed_ips, NULL::jsonb AS routes,
          NULL::timestamptz AS expires_at`
  return sql`SELECT DISTINCT ON (${l}.id, g->>'gateway') g->>'gateway' AS gateway, ${kind}::text AS kind,
      ${l}.id AS lease_id, ${l}.public_key, ${details}
    FROM ${l}, jsonb_array_elements(${grants}) g`
}
