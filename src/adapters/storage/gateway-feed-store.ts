/**
 * Reading a gateway's change feed (deltas or a full snapshot) and pruning old entries.
 *
 * A delta read is one statement over the feed's counter row and its entries after the cursor: work in
 * proportion to the changes, never to the peers. A snapshot (`reset: true`) is one statement too, so the
 * version it reports and the leases it lists come from one database snapshot: every change at or below
 * that version is in it, and every later change is in the feed.
 *
 * Expiry is enforced at read time as well: an upsert whose expiry has passed is handed out as a removal,
 * so a gateway that reads late can never (re)install a peer past its expiry.
 */
import { sql } from 'drizzle-orm'
import type { GatewayFeedPage, PeerChange } from '../../core/ports.ts'
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
    expiresAt: timeOf(row, 'expires_at'),
  }
}

export function createGatewayFeedStore(options: GatewayFeedStoreOptions) {
  const { runner, retentionMs } = options
  const pruneBatch = options.pruneBatch ?? 5000

  async function snapshot(gateway: string, now: number): Promise<GatewayFeedPage> {
    const rows = await runner.rows(sql`
      SELECT coalesce((SELECT version FROM gateway_feeds WHERE gateway = ${gateway}), 0) AS head,
        l.id, l.public_key, l.preshared_key_ciphertext, l.address_v4, l.address_v6, l.expires_at
      FROM (SELECT 1) AS one
      LEFT JOIN LATERAL (
        SELECT id, public_key, preshared_key_ciphertext, address_v4, address_v6, expires_at, created_at
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
        expiresAt: timeOf(row, 'expires_at'),
      })
    }
    return { version: rows[0] === undefined ? 0 : numberOf(rows[0], 'head'), reset: true, changes }
  }

  async function readGatewayFeed(
    gateway: string,
    since: number,
    limit: number,
    now: number,
  ): Promise<GatewayFeedPage> {
    if (!Number.isSafeInteger(since) || since <= 0) return snapshot(gateway, now)
    const rows = await runner.rows(sql`
      SELECT f.version AS head, f.floor_version AS floor, e.version, e.kind, e.lease_id, e.public_key,
        e.preshared_key_ciphertext, e.allowed_ips, e.expires_at
      FROM gateway_feeds f
      LEFT JOIN LATERAL (
        SELECT * FROM gateway_feed_entries e
        WHERE e.gateway = f.gateway AND e.version > ${since}
        ORDER BY e.version
        LIMIT ${Math.max(1, Math.floor(limit))}
      ) e ON true
      WHERE f.gateway = ${gateway}
      ORDER BY e.version`)
    const first = rows[0]
    // No feed yet (version 0), a cursor from the future (another database, a restore), or one older than
    // the pruned entries: only a full snapshot is correct.
    if (first === undefined || since > numberOf(first, 'head') || since < numberOf(first, 'floor')) {
      return snapshot(gateway, now)
    }
    const changes: PeerChange[] = []
    let version = since
    for (const row of rows) {
      if (row.version === null || row.version === undefined) continue
      version = numberOf(row, 'version')
      changes.push(changeFromEntry(row, now))
    }
    return { version, reset: false, changes }
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

  return { readGatewayFeed, gatewayFeedVersion, pruneFeeds }
}
