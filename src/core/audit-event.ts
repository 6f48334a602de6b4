/**
 * The one builder of audit events. Every event core writes is made here from a type in the registry
 * (model.ts's AUDIT_EVENT_TYPES) and the fields it has; the rest are null, so no caller spells out the
 * record's shape, and a misspelt type does not compile.
 */
import type { AuditEventType } from './model.ts'
import type { NewAuditEvent } from './ports.ts'

export interface AuditEventFields {
  identityId?: string | null
  leaseId?: string | null
  gatewayId?: string | null
  /** Who acted: an admin's email, a person, 'system', 'gateway', 'local-cli'. */
  actor?: string | null
  policyHash?: string | null
  data?: Record<string, unknown>
}

export function auditEvent(type: AuditEventType, fields: AuditEventFields = {}): NewAuditEvent {
  return {
    type,
    identityId: fields.identityId ?? null,
    leaseId: fields.leaseId ?? null,
    gatewayId: fields.gatewayId ?? null,
    actor: fields.actor ?? null,
    policyHash: fields.policyHash ?? null,
    data: fields.data ?? {},
  }
}
