/**
 * Taking an overlay address from a pool inside a larger statement, unique under any concurrency.
 *
 * Fresh offsets first: the pool's row (keyed on its canonical IPv4 prefix, created by the first
 * allocation) holds the high-water mark, bumped under its row lock, so concurrent issuances get distinct
 * offsets in O(1). Once the mark passes the last usable offset, the least recently freed allocation is
 * taken over (an index on (pool, held_until), `FOR UPDATE SKIP LOCKED` so concurrent takers pick different
 * rows): an address is reused only after its holder let go, and the oldest freed one first, which keeps an
 * address from changing hands soon after a revocation. Fresh first also means a big pool rarely reuses.
 *
 * Allocations are keyed on the address itself. If a policy change made pools overlap and a fresh offset
 * lands on an address another pool still holds, the insert does nothing: the caller sees `picked > 0`
 * with no row in `taken`, and simply runs the statement again for the next offset.
 *
 * Defines the CTEs `pool`, `reusable`, `picked` and `taken` (address, off, address_v6).
 */
import { type SQL, sql } from 'drizzle-orm'
import { ipv6PrefixText, type PoolPlan } from '../../core/peers/address-pool.ts'
import { isoTime } from './row-values.ts'

export type AddressHolder = { leaseId: string; heldUntil: number } | { gatewayId: string }

/** `guard`, when given, is a boolean SQL expression: false takes no address at all (and bumps nothing). */
export function allocationCtes(
  plan: PoolPlan,
  holder: AddressHolder,
  now: number,
  guard: SQL = sql`true`,
): SQL {
  const at = isoTime(now)
  const v6 = ipv6PrefixText(plan)
  const leaseId = 'leaseId' in holder ? holder.leaseId : null
  const gatewayId = 'gatewayId' in holder ? holder.gatewayId : null
  // A gateway keeps its address for good: there is no way to remove a gateway yet.
  const heldUntil = 'leaseId' in holder ? isoTime(holder.heldUntil) : 'infinity'
  return sql`
  pool AS (
    INSERT INTO address_pools AS p (cidr, next_offset, last_offset)
    SELECT ${plan.key}, ${plan.firstOffset + 1}, ${plan.lastOffset} WHERE ${guard}
    ON CONFLICT (cidr) DO UPDATE SET next_offset = p.next_offset + 1, last_offset = excluded.last_offset
      WHERE p.next_offset <= excluded.last_offset
    RETURNING p.next_offset - 1 AS off
  ),
  reusable AS (
    SELECT address, "offset" AS off FROM address_allocations
    WHERE pool = ${plan.key} AND held_until <= ${at}::timestamptz AND "offset" <= ${plan.lastOffset}
      AND NOT EXISTS (SELECT 1 FROM pool) AND ${guard}
    ORDER BY held_until
    LIMIT 1
    FOR UPDATE SKIP LOCKED
  ),
  picked AS (
    SELECT host(${plan.key}::inet + off) AS address, off FROM pool
    UNION ALL
    SELECT address, off FROM reusable
  ),
  taken AS (
    INSERT INTO address_allocations AS a (address, pool, "offset", lease_id, gateway_id, held_until)
    SELECT address, ${plan.key}, off, ${leaseId}::uuid, ${gatewayId}::uuid, ${heldUntil}::timestamptz FROM picked
    ON CONFLICT (address) DO UPDATE SET pool = excluded.pool, "offset" = excluded."offset",
      lease_id = excluded.lease_id, gateway_id = excluded.gateway_id, held_until = excluded.held_until
      WHERE a.held_until <= ${at}::timestamptz
    RETURNING a.address, a."offset" AS off,
      CASE WHEN ${v6}::text IS NULL THEN NULL ELSE host(${v6}::inet + a."offset") END AS address_v6
  )`
}

/** How many times a statement is re-run when fresh offsets land on addresses an overlapping pool holds. */
export const ALLOCATION_ATTEMPTS = 64
