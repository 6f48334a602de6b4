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
import type { AuditEvent } from '../../core/model.ts'
import type { NewAuditEvent } from '../../core/ports.ts'
import type { Db } from './db.ts'
import { isUuid } from './row-values.ts'
import { auditEvents } from './schema.ts'

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

export function createAuditStore(options: { db: Db; newId: () => string }) {
  const { db, newId } = options

  async function appendAudit(event: NewAuditEvent, now: number): Promise<void> {
    await db.insert(auditEvents).values({ id: newId(), at: new Date(now), ...event })
  }

  async function listAudit(filter: {
    identityId?: string
    type?: string
    before?: string
    limit: number
  }): Promise<AuditEvent[]> {
    const conditions: SQL[] = []
    if (filter.identityId !== undefined) conditions.push(eq(auditEvents.identityId, filter.identityId))
    if (filter.type !== undefined) conditions.push(eq(auditEvents.type, filter.type))
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

  return { appendAudit, listAudit }
}
