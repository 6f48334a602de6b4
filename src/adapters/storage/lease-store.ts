/**
 * Leases: issuing (address + lease + audit + feed entries in one statement), reading, revoking, updating
 * and the expiry sweep. Each method is a single SQL statement, hence a single transaction and, on
 * PostgreSQL, a single round trip: issuance is the broker's hot path.
 *
 * A lease's address is held (in `address_allocations`) until its expiry, or until its revocation; the
 * expiry sweep only records the end (audit event, feed removals) since the address is already free by
 * time. Feed entries carry everything a gateway applies, so deltas never read the leases table.
 */
import { type SQL, sql } from 'drizzle-orm'
import { KeygateError } from '../../core/errors.ts'
import type { AuditEventType, AuthFacts, GatewayGrant, Lease, Verdict } from '../../core/model.ts'
import { planPool } from '../../core/peers/address-pool.ts'
import type {
  IdempotencyRecord,
  IssueLeaseInput,
  NewAuditEvent,
  StoredIdempotencyKey,
} from '../../core/ports.ts'
import { ALLOCATION_ATTEMPTS, allocationCtes } from './address-allocation.ts'
import { feedAppendCtes, perGrantedGateway, touchedGateways } from './feed-sql.ts'
import {
  isoTime,
  isUuid,
  jsonOf,
  numberOf,
  numberOrNull,
  textOf,
  textOrNull,
  timeOf,
  timeOrNull,
} from './row-values.ts'
import { type Row, type SqlRunner, uniqueViolation } from './sql-runner.ts'

export interface LeaseStoreOptions {
  runner: SqlRunner
  newId: () => string
  /** Leases ended per sweep statement. */
  sweepBatch?: number
}

export function leaseFromRow(row: Row): Lease {
  return {
    id: textOf(row, 'id'),
    identityId: textOf(row, 'identity_id'),
    publicKey: textOf(row, 'public_key'),
    name: textOrNull(row, 'name'),
    addressV4: textOf(row, 'address_v4'),
    addressV6: textOrNull(row, 'address_v6'),
    grants: jsonOf<GatewayGrant[]>(row, 'grants'),
    createdAt: timeOf(row, 'created_at'),
    expiresAt: timeOf(row, 'expires_at'),
    revokedAt: timeOrNull(row, 'revoked_at'),
    revokedReason: textOrNull(row, 'revoked_reason'),
    auth: {
      verdict: textOf(row, 'verdict') as Verdict,
      amr: jsonOf<string[]>(row, 'amr'),
      acr: textOrNull(row, 'acr'),
      acrs: jsonOf<string[]>(row, 'acrs'),
      authTime: numberOrNull(row, 'auth_time'),
      stepUp: textOrNull(row, 'step_up'),
    },
    policyHash: textOf(row, 'policy_hash'),
    matchedGrants: jsonOf<string[]>(row, 'matched_grants'),
    sessionId: textOrNull(row, 'session_id'),
  }
}

function auditInsert(audit: NewAuditEvent, leaseAlias: string, now: number, policyHash: SQL): SQL {
  const l = sql.raw(leaseAlias)
  return sql`INSERT INTO audit_events (id, at, type, identity_id, lease_id, gateway_id, actor, policy_hash, data)
    SELECT gen_random_uuid(), ${isoTime(now)}::timestamptz, ${audit.type},
      coalesce(${audit.identityId}::text, ${l}.identity_id::text), ${l}.id::text, ${audit.gatewayId}::text,
      ${audit.actor}::text, ${policyHash}, ${JSON.stringify(audit.data)}::jsonb
    FROM ${l}`
}

export function createLeaseStore(options: LeaseStoreOptions) {
  const { runner, newId } = options
  const sweepBatch = options.sweepBatch ?? 1000

  function touchedBy(row: Row | undefined): string[] {
    return (row === undefined ? null : jsonOf<string[] | null>(row, 'touched')) ?? []
  }

  async function issueLease(input: IssueLeaseInput, now: number): Promise<Lease> {
    const plan = planPool(input.pool)
    const id = newId()
    const grants = JSON.stringify(input.grants)
    const at = isoTime(now)
    const limit = Math.max(1, Math.floor(input.maxLiveLeases))
    // A gateway holds one peer per public key, so a key with a live lease gets no second one. Checked in
    // this same statement (no extra round trip); the WHERE names only the key so the key index serves it
    // (any condition on ended_at or expires_at would let the planner walk the expiry index instead), and
    // the aggregate judges the few rows a key has. The check gives the clear answer; the unique index
    // `leases_unended_public_key` is what holds under concurrency.
    const keyFree = sql`coalesce((SELECT NOT bool_or(ended_at IS NULL AND revoked_at IS NULL
      AND expires_at > ${at}::timestamptz) FROM leases WHERE public_key = ${input.publicKey}), true)`
    // One identity holds at most `limit` live leases: each takes one of `limit` slots, and the unique index
    // `leases_unended_identity_slot` lets no two unended leases share one, so concurrent issuances for
    // one person cannot pass the limit together (the loser re-runs and sees the winner). Leases that
    // expired but are not swept yet still hold their slot: the caller sweeps and runs again.
    const statement = sql`WITH
    key_free AS (SELECT ${keyFree} AS ok),
    held AS (
      SELECT count(*) AS live FROM leases
      WHERE identity_id = ${input.identityId}::uuid AND ended_at IS NULL AND revoked_at IS NULL
        AND expires_at > ${at}::timestamptz
    ),
    slot AS (
      SELECT s FROM held, generate_series(0, ${limit - 1}::int) AS s
      WHERE held.live < ${limit}::int AND NOT EXISTS (
        SELECT 1 FROM leases WHERE identity_id = ${input.identityId}::uuid AND ended_at IS NULL
          AND identity_slot = s)
      ORDER BY s LIMIT 1
    ),
    ${allocationCtes(plan, { leaseId: id, heldUntil: input.expiresAt }, now, sql`(SELECT ok FROM key_free) AND EXISTS (SELECT 1 FROM slot)`)},
    lease AS (
      INSERT INTO leases (id, identity_id, public_key, name, address_v4, address_v6, grants,
        preshared_key_ciphertext, created_at, expires_at, verdict, amr, acr, acrs, auth_time, step_up,
        policy_hash, matched_grants, identity_slot, session_id)
      SELECT ${id}::uuid, ${input.identityId}::uuid, ${input.publicKey}, ${input.name}::text, t.address,
        t.address_v6, ${grants}::jsonb, ${input.presharedKeyCiphertext}, ${at}::timestamptz,
        ${isoTime(input.expiresAt)}::timestamptz, ${input.auth.verdict}, ${JSON.stringify(input.auth.amr)}::jsonb,
        ${input.auth.acr}::text, ${JSON.stringify(input.auth.acrs)}::jsonb, ${input.auth.authTime}::bigint,
        ${input.auth.stepUp}::text, ${input.policyHash}, ${JSON.stringify(input.matchedGrants)}::jsonb, slot.s,
        ${input.sessionId ?? null}::text
      FROM taken t, slot
      RETURNING id, identity_id, public_key, preshared_key_ciphertext, address_v4, address_v6, expires_at, grants
    ),
    audit AS (${auditInsert(input.audit, 'lease', now, sql`${input.policyHash}::text`)}),
    ${idempotencyInsert(input.idempotency, at)}
    changes AS (${perGrantedGateway('lease', 'grants', 'upsert')}),
    ${feedAppendCtes(now)}
    SELECT lease.address_v4, lease.address_v6, (SELECT count(*) FROM picked) AS picked,
      (SELECT ok FROM key_free) AS key_free, (SELECT live FROM held) AS live,
      EXISTS (SELECT 1 FROM slot) AS slot_free, ${touchedGateways}
    FROM (SELECT 1) AS one LEFT JOIN lease ON true`

    await pruneIdempotencyKeys(input.idempotency, at)
    let swept = false
    for (let attempt = 0; attempt < ALLOCATION_ATTEMPTS; attempt++) {
      let row: Row | undefined
      try {
        ;[row] = await runner.rows(statement)
      } catch (error) {
        if (uniqueViolation(error) === 'idempotency_keys_pkey') throw keyTakenConcurrently()
        // A concurrent issuance took the key or the slot first (or an expired, unswept lease holds it):
        // run again on the state it left, which answers with the clear refusal or succeeds.
        if (uniqueViolation(error)?.startsWith('leases_unended_') !== true) throw error
        if (!swept) {
          await endExpired(now)
          swept = true
        }
        continue
      }
      if (row !== undefined && row.address_v4 !== null) {
        return {
          id,
          identityId: input.identityId,
          publicKey: input.publicKey,
          name: input.name,
          addressV4: textOf(row, 'address_v4'),
          addressV6: textOrNull(row, 'address_v6'),
          grants: input.grants,
          createdAt: now,
          expiresAt: input.expiresAt,
          revokedAt: null,
          revokedReason: null,
          auth: input.auth,
          policyHash: input.policyHash,
          matchedGrants: input.matchedGrants,
          sessionId: input.sessionId ?? null,
        }
      }
      if (row !== undefined && row.key_free === false) {
        throw new KeygateError('PUBLIC_KEY_IN_USE', 'This public key already has a live lease')
      }
      if (row !== undefined && row.slot_free === false) {
        if (numberOf(row, 'live') >= limit) {
          throw new KeygateError(
            'LEASE_LIMIT_REACHED',
            `This account already holds ${numberOf(row, 'live')} live leases, the most the policy allows (${limit})`,
            { details: { limit } },
          )
        }
        // Slots held by leases that have expired but whose end is not recorded yet: record it, retry.
        if (swept) break
        await endExpired(now)
        swept = true
        continue
      }
      // Nothing picked: the pool is full. Picked but not taken: an overlapping pool holds that address.
      if (row === undefined || numberOf(row, 'picked') === 0) break
    }
    throw new KeygateError('ADDRESS_POOL_EXHAUSTED', `no free address in ${plan.key} (${plan.size} usable)`)
  }

  /** The key row goes in with the act it guards (the `lease` CTE): rolled back with it, committed with
   *  it, and written only when the act happened. */
  function idempotencyInsert(idem: IdempotencyRecord | undefined, at: string): SQL {
    if (idem === undefined) return sql``
    return sql`idem AS (INSERT INTO idempotency_keys (owner, key, fingerprint, lease_id, created_at, expires_at)
      SELECT ${idem.owner}, ${idem.key}, ${idem.fingerprint}, lease.id, ${at}::timestamptz,
        ${isoTime(idem.expiresAt)}::timestamptz FROM lease),`
  }

  /** Expired keys of this owner, and its oldest beyond the bound, go before a new one is written (an
   *  expired row with the same key would otherwise collide with it). */
  async function pruneIdempotencyKeys(idem: IdempotencyRecord | undefined, at: string): Promise<void> {
    if (idem === undefined) return
    const keep = Math.max(0, Math.floor(idem.maxPerOwner) - 1)
    await runner.rows(sql`DELETE FROM idempotency_keys WHERE owner = ${idem.owner} AND (
      expires_at <= ${at}::timestamptz OR key IN (SELECT key FROM idempotency_keys
        WHERE owner = ${idem.owner} ORDER BY created_at DESC OFFSET ${keep}::int))`)
  }

  /** A concurrent request with the same key committed first; nothing of ours was stored. */
  function keyTakenConcurrently(): KeygateError {
    return new KeygateError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used concurrently')
  }

  /** Runs a keyed statement: a key that another request stored first refuses it (nothing of it stays). */
  async function keyedRows(query: SQL, idem: IdempotencyRecord | undefined, at: string): Promise<Row[]> {
    await pruneIdempotencyKeys(idem, at)
    try {
      return await runner.rows(query)
    } catch (error) {
      if (uniqueViolation(error) === 'idempotency_keys_pkey') throw keyTakenConcurrently()
      throw error
    }
  }

  async function findIdempotencyKey(
    owner: string,
    key: string,
    now: number,
  ): Promise<StoredIdempotencyKey | null> {
    const [row] = await runner.rows(sql`SELECT fingerprint, lease_id FROM idempotency_keys
      WHERE owner = ${owner} AND key = ${key} AND expires_at > ${isoTime(now)}::timestamptz`)
    return row === undefined
      ? null
      : { fingerprint: textOf(row, 'fingerprint'), leaseId: textOf(row, 'lease_id') }
  }

  async function presharedKeyOf(leaseId: string): Promise<string | null> {
    if (!isUuid(leaseId)) return null
    const [row] = await runner.rows(
      sql`SELECT preshared_key_ciphertext FROM leases WHERE id = ${leaseId}::uuid`,
    )
    return row === undefined ? null : textOf(row, 'preshared_key_ciphertext')
  }

  async function getLease(id: string): Promise<Lease | null> {
    if (!isUuid(id)) return null
    const [row] = await runner.rows(sql`SELECT * FROM leases WHERE id = ${id}::uuid`)
    return row === undefined ? null : leaseFromRow(row)
  }

  async function findLiveLeaseByPublicKey(publicKey: string, now: number): Promise<Lease | null> {
    // Only the key in SQL, so the planner takes the key index; the few rows a key has are judged here.
    const rows = await runner.rows(sql`SELECT * FROM leases WHERE public_key = ${publicKey}`)
    const live = rows.map(leaseFromRow).find((lease) => lease.revokedAt === null && lease.expiresAt > now)
    return live ?? null
  }

  async function listLeases(
    filter: { identityId?: string; gateway?: string; state?: 'active' | 'ended' },
    now: number,
  ): Promise<Lease[]> {
    const conditions: SQL[] = []
    if (filter.identityId !== undefined) {
      if (!isUuid(filter.identityId)) return []
      conditions.push(sql`identity_id = ${filter.identityId}::uuid`)
    }
    if (filter.gateway !== undefined) {
      conditions.push(sql`grants @> ${JSON.stringify([{ gateway: filter.gateway }])}::jsonb`)
    }
    if (filter.state === 'active') {
      conditions.push(sql`revoked_at IS NULL AND expires_at > ${isoTime(now)}::timestamptz`)
    } else if (filter.state === 'ended') {
      conditions.push(sql`(revoked_at IS NOT NULL OR expires_at <= ${isoTime(now)}::timestamptz)`)
    }
    const where = conditions.length === 0 ? sql`` : sql`WHERE ${sql.join(conditions, sql` AND `)}`
    const rows = await runner.rows(sql`SELECT * FROM leases ${where} ORDER BY created_at DESC, id DESC`)
    return rows.map(leaseFromRow)
  }

  async function revokeLease(
    id: string,
    reason: string,
    audit: NewAuditEvent,
    now: number,
    idempotency?: IdempotencyRecord,
  ): Promise<Lease | null> {
    if (!isUuid(id)) return null
    const at = isoTime(now)
    const [row] = await keyedRows(
      sql`WITH
    lease AS (
      UPDATE leases SET revoked_at = ${at}::timestamptz, revoked_reason = ${reason}, ended_at = ${at}::timestamptz
      WHERE id = ${id}::uuid AND revoked_at IS NULL AND ended_at IS NULL AND expires_at > ${at}::timestamptz
      RETURNING *
    ),
    freed AS (
      UPDATE address_allocations a SET held_until = ${at}::timestamptz
      FROM lease WHERE a.lease_id = lease.id AND a.held_until > ${at}::timestamptz
    ),
    audit AS (${auditInsert(audit, 'lease', now, sql`coalesce(${audit.policyHash}::text, lease.policy_hash)`)}),
    ${idempotencyInsert(idempotency, at)}
    changes AS (${perGrantedGateway('lease', 'grants', 'remove')}),
    ${feedAppendCtes(now)}
    SELECT lease.*, ${touchedGateways} FROM lease`,
      idempotency,
      at,
    )
    if (row === undefined) return null
    return leaseFromRow(row)
  }

  async function updateLease(
    id: string,
    change: {
      expiresAt?: number
      grants?: GatewayGrant[]
      matchedGrants?: string[]
      auth?: AuthFacts
      policyHash?: string
    },
    audit: NewAuditEvent,
    now: number,
    idempotency?: IdempotencyRecord,
  ): Promise<Lease | null> {
    if (!isUuid(id)) return null
    const at = isoTime(now)
    const auth = change.auth
    const expiresAt = change.expiresAt === undefined ? null : isoTime(change.expiresAt)
    const grants = change.grants === undefined ? null : JSON.stringify(change.grants)
    const matched = change.matchedGrants === undefined ? null : JSON.stringify(change.matchedGrants)
    const [row] = await keyedRows(
      sql`WITH
    old AS (
      SELECT id, grants FROM leases
      WHERE id = ${id}::uuid AND revoked_at IS NULL AND ended_at IS NULL AND expires_at > ${at}::timestamptz
      FOR UPDATE
    ),
    lease AS (
      UPDATE leases l SET
        expires_at = coalesce(${expiresAt}::timestamptz, l.expires_at),
        grants = coalesce(${grants}::jsonb, l.grants),
        matched_grants = coalesce(${matched}::jsonb, l.matched_grants),
        policy_hash = coalesce(${change.policyHash ?? null}::text, l.policy_hash),
        verdict = CASE WHEN ${auth !== undefined} THEN ${auth?.verdict ?? null}::text ELSE l.verdict END,
        amr = CASE WHEN ${auth !== undefined} THEN ${JSON.stringify(auth?.amr ?? [])}::jsonb ELSE l.amr END,
        acr = CASE WHEN ${auth !== undefined} THEN ${auth?.acr ?? null}::text ELSE l.acr END,
        acrs = CASE WHEN ${auth !== undefined} THEN ${JSON.stringify(auth?.acrs ?? [])}::jsonb ELSE l.acrs END,
        auth_time = CASE WHEN ${auth !== undefined} THEN ${auth?.authTime ?? null}::bigint ELSE l.auth_time END,
        step_up = CASE WHEN ${auth !== undefined} THEN ${auth?.stepUp ?? null}::text ELSE l.step_up END
      FROM old WHERE l.id = old.id
      RETURNING l.*
    ),
    held AS (
      UPDATE address_allocations a SET held_until = lease.expires_at
      FROM lease WHERE a.lease_id = lease.id
    ),
    audit AS (${auditInsert(audit, 'lease', now, sql`lease.policy_hash`)}),
    ${idempotencyInsert(idempotency, at)}
    dropped AS (
      SELECT lease.id, lease.public_key, og AS grant_entry FROM lease
      JOIN old ON old.id = lease.id, jsonb_array_elements(old.grants) og
      WHERE NOT lease.grants @> jsonb_build_array(jsonb_build_object('gateway', og->>'gateway'))
    ),
    changes AS (
      ${perGrantedGateway('lease', 'grants', 'upsert')}
      UNION ALL
      SELECT DISTINCT d.grant_entry->>'gateway', 'remove', d.id, d.public_key, NULL::text, NULL::jsonb,
        NULL::jsonb, NULL::timestamptz
      FROM dropped d
    ),
    ${feedAppendCtes(now)}
    SELECT lease.*, ${touchedGateways} FROM lease`,
      idempotency,
      at,
    )
    if (row === undefined) return null
    return leaseFromRow(row)
  }

  /** Records the end of expired leases in batches; returns how many ended and whose feeds moved. */
  async function endExpired(now: number): Promise<{ ended: number; gateways: string[] }> {
    const at = isoTime(now)
    let total = 0
    const gateways = new Set<string>()
    for (;;) {
      const [row] = await runner.rows(sql`WITH
      due AS (
        SELECT id FROM leases
        WHERE ended_at IS NULL AND expires_at <= ${at}::timestamptz
        ORDER BY expires_at
        LIMIT ${sweepBatch}
        FOR UPDATE SKIP LOCKED
      ),
      lease AS (
        UPDATE leases l SET ended_at = ${at}::timestamptz FROM due WHERE l.id = due.id RETURNING l.*
      ),
      audit AS (
        INSERT INTO audit_events (id, at, type, identity_id, lease_id, gateway_id, actor, policy_hash, data)
        SELECT gen_random_uuid(), ${at}::timestamptz, ${'lease.expired' satisfies AuditEventType}::text, identity_id::text, id::text, NULL,
          'system', policy_hash,
          jsonb_build_object('expiresAt', (extract(epoch FROM expires_at) * 1000)::bigint, 'addressV4', address_v4)
        FROM lease
      ),
      changes AS (${perGrantedGateway('lease', 'grants', 'remove')}),
      ${feedAppendCtes(now)}
      SELECT (SELECT count(*) FROM lease) AS ended, ${touchedGateways}`)
      const ended = row === undefined ? 0 : numberOf(row, 'ended')
      for (const gateway of touchedBy(row)) gateways.add(gateway)
      total += ended
      if (ended < sweepBatch) return { ended: total, gateways: [...gateways] }
    }
  }

  return {
    issueLease,
    getLease,
    findIdempotencyKey,
    presharedKeyOf,
    findLiveLeaseByPublicKey,
    listLeases,
    revokeLease,
    updateLease,
    endExpired,
  }
}
