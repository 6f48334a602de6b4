/**
 * Gateways: one-time enrollment tokens, enrollment (credential hash + overlay address), lookups and the
 * status each agent reports.
 *
 * Only hashes of tokens and credentials are stored. A token is consumed by a conditional update (unused,
 * unexpired) whose affected row is the proof of single use, in the same transaction that records the
 * gateway's key and gives it an address, so a failure anywhere leaves the token unused. Enrollment
 * appends to the gateway's feed one upsert per live lease granted it: those leases gained a peer.
 */
import { sql } from 'drizzle-orm'
import { KeygateError } from '../../core/errors.ts'
import type { AuditEventType, Gateway } from '../../core/model.ts'
import { planPool } from '../../core/peers/address-pool.ts'
import type { AddressPool } from '../../core/ports.ts'
import { ALLOCATION_ATTEMPTS, allocationCtes } from './address-allocation.ts'
import { textArray } from './batch-arrays.ts'
import { feedAppendCtes, perGrantedGateway, touchedGateways } from './feed-sql.ts'
import { isoTime, numberOf, numberOrNull, textOf, textOrNull, timeOrNull } from './row-values.ts'
import type { Row, SqlRunner } from './sql-runner.ts'

export function gatewayFromRow(row: Row): Gateway {
  return {
    id: textOf(row, 'id'),
    name: textOf(row, 'name'),
    publicKey: textOrNull(row, 'public_key'),
    addressV4: textOrNull(row, 'address_v4'),
    addressV6: textOrNull(row, 'address_v6'),
    enrolledAt: timeOrNull(row, 'enrolled_at'),
    lastSeenAt: timeOrNull(row, 'last_seen_at'),
    appliedVersion: numberOrNull(row, 'applied_version'),
    peerCount: numberOrNull(row, 'peer_count'),
    enforcement: textOrNull(row, 'enforcement'),
  }
}

export function createGatewayStore(options: { runner: SqlRunner; newId: () => string }) {
  const { runner, newId } = options

  async function createEnrollment(
    input: { gatewayName: string; tokenHash: string; expiresAt: number },
    now: number,
  ): Promise<void> {
    const at = isoTime(now)
    await runner.rows(sql`WITH
    gateway AS (
      INSERT INTO gateways (id, name, created_at) VALUES (${newId()}::uuid, ${input.gatewayName}, ${at}::timestamptz)
      ON CONFLICT (name) DO NOTHING
    )
    INSERT INTO gateway_enrollments (token_hash, gateway_name, created_at, expires_at)
    VALUES (${input.tokenHash}, ${input.gatewayName}, ${at}::timestamptz, ${isoTime(input.expiresAt)}::timestamptz)`)
  }

  async function enrollGateway(
    input: { tokenHash: string; publicKey: string; credentialHash: string; pool: AddressPool },
    now: number,
  ): Promise<Gateway> {
    const plan = planPool(input.pool)
    const at = isoTime(now)
    return runner.transaction(async (tx) => {
      const [token] = await tx.rows(sql`
        UPDATE gateway_enrollments SET used_at = ${at}::timestamptz
        WHERE token_hash = ${input.tokenHash} AND used_at IS NULL AND expires_at > ${at}::timestamptz
        RETURNING gateway_name`)
      if (token === undefined) {
        throw new KeygateError('ENROLLMENT_TOKEN_INVALID', 'the enrollment token is unknown, used or expired')
      }
      const name = textOf(token, 'gateway_name')
      // The row exists since createEnrollment made it; the upsert keeps a hand-deleted row from breaking this.
      const [gateway] = await tx.rows(sql`
        INSERT INTO gateways AS g (id, name, created_at) VALUES (${newId()}::uuid, ${name}, ${at}::timestamptz)
        ON CONFLICT (name) DO UPDATE SET name = g.name
        RETURNING id, address_v4, address_v6`)
      if (gateway === undefined) throw new KeygateError('INTERNAL', 'gateway row vanished during enrollment')
      let addressV4 = textOrNull(gateway, 'address_v4')
      let addressV6 = textOrNull(gateway, 'address_v6')
      // A re-enrolling gateway keeps its address: clients' configs and routes name it.
      if (addressV4 === null) {
        const gatewayId = textOf(gateway, 'id')
        for (let attempt = 0; attempt < ALLOCATION_ATTEMPTS && addressV4 === null; attempt++) {
          const [row] = await tx.rows(sql`WITH ${allocationCtes(plan, { gatewayId }, now)}
            SELECT taken.address, taken.address_v6, (SELECT count(*) FROM picked) AS picked
            FROM (SELECT 1) AS one LEFT JOIN taken ON true`)
          if (row !== undefined && row.address !== null) {
            addressV4 = textOf(row, 'address')
            addressV6 = textOrNull(row, 'address_v6')
          } else if (row === undefined || numberOf(row, 'picked') === 0) {
            break
          }
        }
        if (addressV4 === null) {
          throw new KeygateError(
            'ADDRESS_POOL_EXHAUSTED',
            `no free address in ${plan.key} for gateway ${name}`,
          )
        }
      }
      const [updated] = await tx.rows(sql`
        UPDATE gateways SET public_key = ${input.publicKey}, credential_hash = ${input.credentialHash},
          enrolled_at = ${at}::timestamptz, address_v4 = ${addressV4}, address_v6 = ${addressV6}::text
        WHERE name = ${name}
        RETURNING *`)
      if (updated === undefined) throw new KeygateError('INTERNAL', 'gateway row vanished during enrollment')
      // Version 0 means "this agent holds nothing yet" and always answers with a snapshot at once; an
      // enrolled gateway's feed starts at 1 so an idle agent's `since` is a cursor it can wait on.
      await tx.rows(sql`
        INSERT INTO gateway_feeds AS f (gateway, version, floor_version) VALUES (${name}, 1, 1)
        ON CONFLICT (gateway) DO UPDATE SET version = greatest(f.version, 1),
          floor_version = CASE WHEN f.version = 0 THEN 1 ELSE f.floor_version END`)
      // Every live lease granted this gateway gains a peer now, and its feed says so with a real entry
      // per lease (the same upsert issuance wrote): a client watching its lease waits on this feed's
      // version, and where nothing carries a wake-up (Workers poll the version) only a moved version
      // tells it. An agent re-reading these upserts changes nothing; the enrolling agent starts from a
      // snapshot, whose version includes them.
      await tx.rows(sql`WITH
        lease AS (
          SELECT id, public_key, preshared_key_ciphertext, address_v4, address_v6, expires_at, grants
          FROM leases
          WHERE grants @> ${JSON.stringify([{ gateway: name }])}::jsonb
            AND revoked_at IS NULL AND expires_at > ${at}::timestamptz
        ),
        changes AS (
          SELECT * FROM (${perGrantedGateway('lease', 'grants', 'upsert')}) granted WHERE gateway = ${name}
        ),
        ${feedAppendCtes(now)}
        SELECT ${touchedGateways}`)
      // Audit events name gateways as the policy and the admins do (enrollment tokens are audited the same way).
      await tx.rows(sql`
        INSERT INTO audit_events (id, at, type, gateway_id, actor, data)
        VALUES (gen_random_uuid(), ${at}::timestamptz, ${'gateway.enrolled' satisfies AuditEventType}::text, ${name}, 'gateway',
          ${JSON.stringify({ publicKey: input.publicKey, addressV4, addressV6 })}::jsonb)`)
      return gatewayFromRow(updated)
    })
  }

  /** Many credential lookups in one statement (a thousand agents reconnecting at once), in order. */
  async function findGatewaysByCredentials(
    credentialHashes: readonly string[],
  ): Promise<Array<Gateway | null>> {
    if (credentialHashes.length === 0) return []
    const rows = await runner.rows(sql`
      SELECT * FROM gateways
      WHERE credential_hash = ANY(${textArray(credentialHashes)}::text[])`)
    const byHash = new Map(rows.map((row) => [textOf(row, 'credential_hash'), gatewayFromRow(row)]))
    return credentialHashes.map((hash) => byHash.get(hash) ?? null)
  }

  async function getGateway(name: string): Promise<Gateway | null> {
    const [row] = await runner.rows(sql`SELECT * FROM gateways WHERE name = ${name}`)
    return row === undefined ? null : gatewayFromRow(row)
  }

  async function listGateways(): Promise<Gateway[]> {
    return (await runner.rows(sql`SELECT * FROM gateways ORDER BY name`)).map(gatewayFromRow)
  }

  async function recordGatewayStatus(
    gatewayName: string,
    status: {
      appliedVersion: number
      peerCount: number
      latestHandshakes?: Record<string, number>
      enforcement?: string
    },
    now: number,
  ): Promise<void> {
    const handshakes = status.latestHandshakes === undefined ? null : JSON.stringify(status.latestHandshakes)
    const rows = await runner.rows(sql`
      UPDATE gateways SET last_seen_at = ${isoTime(now)}::timestamptz, applied_version = ${status.appliedVersion},
        peer_count = ${status.peerCount}, handshakes = coalesce(${handshakes}::jsonb, handshakes),
        enforcement = coalesce(${status.enforcement ?? null}::text, enforcement)
      WHERE name = ${gatewayName}
      RETURNING id`)
    if (rows.length === 0) throw new KeygateError('GATEWAY_UNKNOWN', `no gateway named ${gatewayName}`)
  }

  /**
   * Removal in one transaction: the row goes (so its credential hash stops matching at once), unused
   * enrollment tokens are spent, the overlay address is let go and the feed is dropped; a gateway added
   * again later enrolls afresh and starts from a snapshot.
   */
  async function removeGateway(name: string, now: number): Promise<Gateway | null> {
    const at = isoTime(now)
    const [row] = await runner.rows(sql`WITH
    gone AS (DELETE FROM gateways WHERE name = ${name} RETURNING *),
    tokens AS (
      UPDATE gateway_enrollments SET used_at = ${at}::timestamptz
      WHERE gateway_name = ${name} AND used_at IS NULL
    ),
    freed AS (
      UPDATE address_allocations a SET held_until = ${at}::timestamptz, gateway_id = NULL
      FROM gone WHERE a.gateway_id = gone.id
    ),
    entries AS (DELETE FROM gateway_feed_entries WHERE gateway = ${name}),
    feed AS (DELETE FROM gateway_feeds WHERE gateway = ${name})
    SELECT * FROM gone`)
    return row === undefined ? null : gatewayFromRow(row)
  }

  return {
    removeGateway,
    createEnrollment,
    enrollGateway,
    findGatewaysByCredentials,
    getGateway,
    listGateways,
    recordGatewayStatus,
  }
}
