/**
 * The audit log: appending events and listing them newest first, filtered, with a cursor.
 *
 * Events are ordered by (at, id). `before` is either the id of an event, and the page holds the events
 * that come strictly after it in that order (pass the last id of a page to get the next one; an unknown id
 * gives an empty page), or a decimal number of milliseconds since the epoch, and the page holds the events
 * strictly older than that instant.
 */
import { and, desc, eq, lt, type SQL, sql } from 'drizzle-orm'
import { KeygateError } from '../../core/errors.ts'
import type { AuditEvent, AuditEventType } from '../../core/model.ts'
import type { NewAuditEvent } from '../../core/ports.ts'
import type { Db } from './db.ts'
import { isUuid, numberOf } from './row-values.ts'
import { auditEvents } from './schema.ts'
import { auditHolds } from './schema-lifecycle.ts'
import type { SqlRunner } from './sql-runner.ts'

/** The most events one page may hold, whatever the caller asks for. */
export const AUDIT_PAGE_MAX = 1000

function auditFromRow(row: typeof auditEvents.$inferSelect): AuditEvent {
  return {
    id: row.id,
    at: row.at.getTime(),
    type: row.type,
    identityId: row.identityId,
    leaseId: row.leaseId,
    gatewayId: row.gatewayId,
    actor: row.actor,
    policyHash: row.policyHash,
    data: row.data,
  }
}

export function createAuditStore(options: { db: Db; runner: SqlRunner; newId: () => string }) {
  const { db, runner, newId } = options

  async function appendAudit(event: NewAuditEvent, now: number): Promise<void> {
    await db.insert(auditEvents).values({ id: newId(), at: new Date(now), ...event })
  }

  async function listAudit(filter: {
    identityId?: string
    type?: string
    typePrefix?: string
    email?: string
    before?: string
    limit: number
  }): Promise<AuditEvent[]> {
    const conditions: SQL[] = []
    if (filter.identityId !== undefined) conditions.push(eq(auditEvents.identityId, filter.identityId))
    // The filter comes from a query string: a type outside the registry matches nothing, as it should.
    if (filter.type !== undefined) conditions.push(eq(auditEvents.type, filter.type as AuditEventType))
    if (filter.typePrefix !== undefined) {
      // A prefix, never a pattern: LIKE's own wildcards in what an admin typed match only themselves.
      const escaped = filter.typePrefix.replace(/[\\%_]/g, (c) => `\\${c}`)
      conditions.push(sql`${auditEvents.type} LIKE ${`${escaped}%`}`)
    }
    if (filter.email !== undefined) {
      const email = filter.email.toLowerCase()
      conditions.push(
        sql`(${auditEvents.identityId} IN (SELECT id::text FROM identities WHERE lower(email) = ${email}) OR lower(${auditEvents.actor}) = ${email})`,
      )
    }
    if (filter.before !== undefined) {
      if (/^\d{1,16}$/.test(filter.before)) {
        conditions.push(lt(auditEvents.at, new Date(Number(filter.before))))
      } else if (isUuid(filter.before)) {
        conditions.push(
          sql`(${auditEvents.at}, ${auditEvents.id}) < (SELECT at, id FROM audit_events WHERE id = ${filter.before}::uuid)`,
        )
      } else {
        throw new KeygateError(
          'INVALID_REQUEST',
          'before must be an audit event id or a time in milliseconds',
        )
      }
    }
    const limit = Math.min(AUDIT_PAGE_MAX, Math.max(1, Math.floor(filter.limit)))
    const rows = await db
      .select()
      .from(auditEvents)
      .where(and(...conditions))
      .orderBy(desc(auditEvents.at), desc(auditEvents.id))
      .limit(limit)
    return rows.map(auditFromRow)
  }

  /**
   * Retention: events older than `before` go, in one statement that first checks for a live export
   * hold (an export reads from the newest event back to the oldest, so any deletion could cut it short).
   */
  async function pruneAudit(before: number, now: number): Promise<{ deleted: number; held: boolean }> {
    const at = new Date(now)
    await db.delete(auditHolds).where(lt(auditHolds.expiresAt, at))
    const [row] = await runner.rows(sql`WITH
      hold AS (SELECT count(*) > 0 AS held FROM audit_holds WHERE expires_at > ${at.toISOString()}::timestamptz),
      gone AS (
        DELETE FROM audit_events WHERE at < ${new Date(before).toISOString()}::timestamptz
          AND NOT (SELECT held FROM hold)
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM gone) AS deleted, (SELECT held FROM hold) AS held`)
    return { deleted: row === undefined ? 0 : numberOf(row, 'deleted'), held: row?.held === true }
  }

  async function holdAudit(id: string, until: number): Promise<void> {
    await db
      .insert(auditHolds)
      .values({ id, expiresAt: new Date(until) })
      .onConflictDoUpdate({ target: auditHolds.id, set: { expiresAt: new Date(until) } })
  }

  return { appendAudit, listAudit, pruneAudit, holdAudit }
}
