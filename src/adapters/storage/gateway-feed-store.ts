/**
 * Reading a gateway's change feed (deltas or a full snapshot) and pruning old entries.
 *
 * A delta read is one statement over the feed's counter row and its entries after the cursor: work in
 * proportion to the changes, never to the peers; one statement serves many gateways' reads at once. A
 * snapshot (`reset: true`) is one statement too, so the version it reports and the leases it lists come
 * from one database snapshot: every change at or below that version is in it, and every later change is
 * in the feed.
 *
 * Expiry is enforced at read time as well: an upsert whose expiry has passed is handed out as a removal,
 * so a gateway that reads late can never (re)install a peer past its expiry.
 */
import { sql } from 'drizzle-orm'
import { KeygateError } from '../../core/errors.ts'
import type { GatewayFeedPage, GatewayFeedRequest, PeerChange } from '../../core/ports.ts'
import { integerArray, textArray } from './batch-arrays.ts'
import { isoTime, jsonOf, numberOf, textOf, timeOf } from './row-values.ts'
import type { Row, SqlRunner } from './sql-runner.ts'

export interface GatewayFeedStoreOptions {
  runner: SqlRunner
  /** Entries older than this may be pruned by the sweep; cursors older than the pruned ones get a reset. */
  retentionMs: number
  pruneBatch?: number
}

function changeFromEntry(row: Row, now: number): PeerChange {
  const leaseId = textOf(row, 'lease_id')
  const publicKey = textOf(row, 'public_key')
  if (textOf(row, 'kind') === 'remove' || timeOf(row, 'expires_at') <= now) {
    return { kind: 'remove', leaseId, publicKey }
  }
  return {
    kind: 'upsert',
    leaseId,
    publicKey,
    presharedKeyCiphertext: textOf(row, 'preshared_key_ciphertext'),
    allowedIps: jsonOf<string[]>(row, 'allowed_ips'),
    // Entries written before protocol v2 carry no routes: the agent then filters everything (fail closed).
    routes: row.routes === null || row.routes === undefined ? [] : jsonOf<string[]>(row, 'routes'),
    expiresAt: timeOf(row, 'expires_at'),
  }
}

/** The routes a lease's stored grants give it through one gateway. */
function routesThrough(grants: unknown, gateway: string): string[] {
  const list = typeof grants === 'string' ? (JSON.parse(grants) as unknown) : grants
  if (!Array.isArray(list)) return []
  const routes: string[] = []
  for (const grant of list as Array<{ gateway?: unknown; routes?: unknown }>) {
    if (grant.gateway !== gateway || !Array.isArray(grant.routes)) continue
    for (const route of grant.routes)
      if (typeof route === 'string' && !routes.includes(route)) routes.push(route)
  }
  return routes
}

export function createGatewayFeedStore(options: GatewayFeedStoreOptions) {
  const { runner, retentionMs } = options
  const pruneBatch = options.pruneBatch ?? 5000

  async function snapshot(gateway: string, now: number): Promise<GatewayFeedPage> {
    const rows = await runner.rows(sql`
      SELECT coalesce((SELECT version FROM gateway_feeds WHERE gateway = ${gateway}), 0) AS head,
        l.id, l.public_key, l.preshared_key_ciphertext, l.address_v4, l.address_v6, l.expires_at, l.grants
      FROM (SELECT 1) AS one
      LEFT JOIN LATERAL (
        SELECT id, public_key, preshared_key_ciphertext, address_v4, address_v6, expires_at, created_at, grants
        FROM leases
        WHERE grants @> ${JSON.stringify([{ gateway }])}::jsonb
          AND revoked_at IS NULL AND expires_at > ${isoTime(now)}::timestamptz
      ) l ON true
      ORDER BY l.created_at, l.id`)
    const changes: PeerChange[] = []
    for (const row of rows) {
      if (row.id === null || row.id === undefined) continue
      const v6 = row.address_v6
      changes.push({
        kind: 'upsert',
        leaseId: textOf(row, 'id'),
        publicKey: textOf(row, 'public_key'),
        presharedKeyCiphertext: textOf(row, 'preshared_key_ciphertext'),
        allowedIps: [`${textOf(row, 'address_v4')}/32`, ...(typeof v6 === 'string' ? [`${v6}/128`] : [])],
        routes: routesThrough(row.grants, gateway),
        expiresAt: timeOf(row, 'expires_at'),
      })
    }
    return { version: rows[0] === undefined ? 0 : numberOf(rows[0], 'head'), reset: true, changes }
  }

  /**
   * Many gateways' deltas in one statement (a wake-up that settles a thousand held polls costs one
   * query, not a thousand): each request's rows carry its index, so every gateway gets exactly its own
   * entries after its own cursor, from one database snapshot. A request whose cursor needs a snapshot
   * (0, from the future, older than the pruned entries, no feed yet) gets one of its own afterwards.
   * With `gatewayId`, the statement also checks that this gateway is still the one enrolled under the
   * name (not removed, not removed and added again): the page is null when it is not.
   */
  async function readGatewayFeeds(
    requests: readonly GatewayFeedRequest[],
    limit: number,
    now: number,
  ): Promise<Array<GatewayFeedPage | null>> {
    if (requests.length === 0) return []
    const wanted = requests.map((r) => ({
      gateway: r.gateway,
      // A cursor that is not a positive safe integer reads no entries: it gets a snapshot.
      since: Number.isSafeInteger(r.since) && r.since > 0 ? r.since : 0,
      gatewayId: r.gatewayId ?? null,
    }))
    const rows = await runner.rows(sql`
      SELECT q.i, f.version AS head, f.floor_version AS floor,
        (q.gateway_id IS NULL OR EXISTS (
          SELECT 1 FROM gateways g WHERE g.name = q.gateway AND g.id::text = q.gateway_id)) AS present,
        e.version, e.kind, e.lease_id, e.public_key, e.preshared_key_ciphertext, e.allowed_ips, e.routes,
        e.expires_at
      FROM unnest(${integerArray(wanted.map((_, i) => i))}::int[], ${textArray(wanted.map((w) => w.gateway))}::text[],
        ${integerArray(wanted.map((w) => w.since))}::bigint[], ${textArray(wanted.map((w) => w.gatewayId))}::text[])
        AS q(i, gateway, since, gateway_id)
      LEFT JOIN gateway_feeds f ON f.gateway = q.gateway
      LEFT JOIN LATERAL (
        SELECT * FROM gateway_feed_entries e
        WHERE q.since > 0 AND e.gateway = f.gateway AND e.version > q.since
        ORDER BY e.version
        LIMIT ${Math.max(1, Math.floor(limit))}
      ) e ON true
      ORDER BY q.i, e.version`)
    const byRequest: Row[][] = requests.map(() => [])
    for (const row of rows) byRequest[numberOf(row, 'i')]?.push(row)
    return Promise.all(
      wanted.map(async ({ gateway, since }, i) => {
        const own = byRequest[i]!
        const first = own[0]
        if (first === undefined) throw new KeygateError('INTERNAL', `the feed read lost request ${i}`)
        if (first.present !== true) return null
        // No feed yet (version 0), a cursor from the future (another database, a restore), or one older
        // than the pruned entries: only a full snapshot is correct.
        if (
          since <= 0 ||
          first.head === null ||
          since > numberOf(first, 'head') ||
          since < numberOf(first, 'floor')
        ) {
          return snapshot(gateway, now)
        }
        const changes: PeerChange[] = []
        let version = since
        for (const row of own) {
          if (row.version === null || row.version === undefined) continue
          version = numberOf(row, 'version')
          changes.push(changeFromEntry(row, now))
        }
        return { version, reset: false, changes }
      }),
    )
  }

  async function gatewayFeedVersion(gateway: string): Promise<number> {
    const [row] = await runner.rows(sql`SELECT version FROM gateway_feeds WHERE gateway = ${gateway}`)
    return row === undefined ? 0 : numberOf(row, 'version')
  }

  /** Deletes entries older than the retention and raises each feed's floor past them. */
  async function pruneFeeds(now: number): Promise<number> {
    const cutoff = isoTime(now - retentionMs)
    let total = 0
    for (;;) {
      const [row] = await runner.rows(sql`WITH
      gone AS (
        DELETE FROM gateway_feed_entries e
        USING (
          SELECT gateway, version FROM gateway_feed_entries
          WHERE created_at < ${cutoff}::timestamptz
          ORDER BY created_at
          LIMIT ${pruneBatch}
        ) d
        WHERE e.gateway = d.gateway AND e.version = d.version
        RETURNING e.gateway, e.version
      ),
      floors AS (
        INSERT INTO gateway_feeds AS f (gateway, version, floor_version)
        SELECT gateway, max(version), max(version) FROM gone GROUP BY gateway ORDER BY gateway
        ON CONFLICT (gateway) DO UPDATE SET floor_version = greatest(f.floor_version, excluded.floor_version)
      )
      SELECT count(*) AS pruned FROM gone`)
      const pruned = row === undefined ? 0 : numberOf(row, 'pruned')
      total += pruned
      if (pruned < pruneBatch) return total
    }
  }

  return { readGatewayFeeds, gatewayFeedVersion, pruneFeeds }
}
