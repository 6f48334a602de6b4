/**
 * Gateways: one-time enrollment tokens, enrollment (credential hash + overlay address), lookups and the
 * status each agent reports.
 *
 * Only hashes of tokens and credentials are stored. A token is consumed by a conditional update (unused,
 * unexpired) whose affected row is the proof of single use, in the same transaction that records the
 * gateway's key and gives it an address, so a failure anywhere leaves the token unused.
 */
import { sql } from 'drizzle-orm'
import { KeygateError } from '../../core/errors.ts'
import type { Gateway } from '../../core/model.ts'
import { planPool } from '../../core/peers/address-pool.ts'
import type { AddressPool } from '../../core/ports.ts'
import { ALLOCATION_ATTEMPTS, allocationCtes } from './address-allocation.ts'
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
      // Audit events name gateways as the policy and the admins do (enrollment tokens are audited the same way).
      await tx.rows(sql`
        INSERT INTO audit_events (id, at, type, gateway_id, actor, data)
        VALUES (gen_random_uuid(), ${at}::timestamptz, 'gateway.enrolled', ${name}, 'gateway',
          ${JSON.stringify({ publicKey: input.publicKey, addressV4, addressV6 })}::jsonb)`)
      return gatewayFromRow(updated)
    })
  }

  async function findGatewayByCredential(credentialHash: string): Promise<Gateway | null> {
    const [row] = await runner.rows(sql`SELECT * FROM gateways WHERE credential_hash = ${credentialHash}`)
    return row === undefined ? null : gatewayFromRow(row)
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
    status: { appliedVersion: number; peerCount: number; latestHandshakes?: Record<string, number> },
    now: number,
  ): Promise<void> {
    const handshakes = status.latestHandshakes === undefined ? null : JSON.stringify(status.latestHandshakes)
    const rows = await runner.rows(sql`
      UPDATE gateways SET last_seen_at = ${isoTime(now)}::timestamptz, applied_version = ${status.appliedVersion},
        peer_count = ${status.peerCount}, handshakes = coalesce(${handshakes}::jsonb, handshakes)
      WHERE name = ${gatewayName}
      RETURNING id`)
    if (rows.length === 0) throw new KeygateError('GATEWAY_UNKNOWN', `no gateway named ${gatewayName}`)
  }

  return {
    createEnrollment,
    enrollGateway,
    findGatewayByCredential,
    getGateway,
    listGateways,
    recordGatewayStatus,
  }
}
