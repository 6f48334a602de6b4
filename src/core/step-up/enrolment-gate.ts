/**
 * The use cases around enrolment: a session's step-up status (its factors, and whether and how it may
 * enrol one), the check every enrolment step runs, and the admin-issued one-time enrolment codes that
 * let a user without IdP MFA enrol a first factor (KEYGATE_FIRST_FACTOR).
 */

import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { auditEvent } from '../audit-event.ts'
import { KeygateError, type Reason } from '../errors.ts'
import type { StepUpMethod } from '../identity/step-up-proof.ts'
import type { Store } from '../ports.ts'
import { enrolmentRefusal } from './enrolment-rules.ts'
import type { FactorStore, FactorSummary } from './factor-records.ts'
import { auditStepUp, randomStepUpId, type StepUpDeps, type StepUpSession } from './step-up-deps.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** How long an admin-issued enrolment code stays usable. */
export const ENROLMENT_CODE_TTL_MS = 24 * 60 * 60_000

export interface StepUpStatus {
  factors: FactorSummary[]
  hasTotp: boolean
  hasWebAuthn: boolean
  /** Null when the session may enrol a factor now; otherwise why not. */
  enrolRefusal: Reason | null
  /** Whether an admin-issued enrolment code would lift the refusal (the page then asks for one). */
  codeWouldAllow: boolean
}

/** What an allowed enrolment step needs to finish: the enrolment code to consume, when one was needed. */
export interface EnrolmentPass {
  codeHash: string | null
}

export async function stepUpStatus(deps: StepUpDeps, session: StepUpSession): Promise<StepUpStatus> {
  const [totps, credentials] = await Promise.all([
    deps.factors.listTotpFactors(session.identityId),
    deps.factors.listWebAuthnCredentials(session.identityId),
  ])
  const confirmedTotps = totps.filter((t) => t.confirmedAt !== null)
  const factors: FactorSummary[] = [
    ...confirmedTotps.map((t) => ({
      method: 'totp' as const,
      id: t.id,
      label: t.label,
      createdAt: t.createdAt,
      lastUsedAt: null,
    })),
    ...credentials.map((c) => ({
      method: 'webauthn' as const,
      id: c.id,
      label: c.label,
      createdAt: c.createdAt,
      lastUsedAt: c.lastUsedAt,
    })),
  ]
  const now = deps.clock.now()
  const context = {
    auth: session.auth,
    hasConfirmedFactor: factors.length > 0,
    rule: deps.settings.firstFactor,
  }
  const enrolRefusal = enrolmentRefusal({ ...context, hasValidCode: false }, now)
  return {
    factors,
    hasTotp: confirmedTotps.length > 0,
    hasWebAuthn: credentials.length > 0,
    enrolRefusal,
    codeWouldAllow:
      enrolRefusal !== null && enrolmentRefusal({ ...context, hasValidCode: true }, now) === null,
  }
}

/** A code as people copy it: surrounding spaces dropped. Null when absent or implausible. */
export function normalizeEnrolmentCode(input: unknown): string | null {
  if (typeof input !== 'string') return null
  const code = input.trim()
  return /^[A-Za-z0-9_-]{8,64}$/.test(code) ? code : null
}

/**
 * Refuses (audited) unless the session may enrol a factor now; `rawCode` is the enrolment code the user
 * typed, if any. It is checked here and consumed only when the factor is stored (finishEnrolment).
 */
export async function requireEnrolmentAllowed(
  deps: StepUpDeps,
  session: StepUpSession,
  method: StepUpMethod,
  rawCode: unknown,
): Promise<EnrolmentPass> {
  const status = await stepUpStatus(deps, session)
  if (status.enrolRefusal === null) return { codeHash: null }
  const code = normalizeEnrolmentCode(rawCode)
  const codeHash = code === null ? null : hashCode(code)
  if (
    status.codeWouldAllow &&
    codeHash !== null &&
    (await deps.factors.hasEnrolmentCode(session.identityId, codeHash, deps.clock.now()))
  ) {
    return { codeHash }
  }
  const refusal: Reason =
    status.codeWouldAllow && code !== null
      ? {
          code: 'ENROLMENT_CODE_REQUIRED',
          message:
            'That enrolment code is not valid: it may be used or expired. Ask your administrator for a new one.',
        }
      : status.enrolRefusal
  await auditStepUp(deps, session, 'step_up.enrol_refused', { method, code: refusal.code })
  throw new KeygateError(errorCodeOf(refusal.code), refusal.message, { reasons: [refusal] })
}

/** Consumes the enrolment code the pass relied on (single use, even against a concurrent enrolment). */
export async function finishEnrolment(
  deps: StepUpDeps,
  session: StepUpSession,
  method: StepUpMethod,
  pass: EnrolmentPass,
): Promise<void> {
  if (pass.codeHash === null) return
  if (!(await deps.factors.consumeEnrolmentCode(session.identityId, pass.codeHash, deps.clock.now()))) {
    await auditStepUp(deps, session, 'step_up.enrol_refused', { method, code: 'ENROLMENT_CODE_REQUIRED' })
    throw new KeygateError(
      'ENROLMENT_CODE_REQUIRED',
      'That enrolment code was used already. Ask your administrator for a new one.',
    )
  }
  await auditStepUp(deps, session, 'step_up.enrolment_code_used', { method })
}

function errorCodeOf(reason: string): 'AUTH_TOO_OLD' | 'STEP_UP_REQUIRED' | 'ENROLMENT_CODE_REQUIRED' {
  return reason === 'AUTH_TOO_OLD' || reason === 'STEP_UP_REQUIRED' ? reason : 'ENROLMENT_CODE_REQUIRED'
}

/**
 * An admin issues a one-time code that lets one identity enrol its first factor without IdP MFA; the
 * admin hands it over out of band. Only its hash is stored; the code is returned once.
 */
export async function issueEnrolmentCode(
  deps: Pick<StepUpDeps, 'clock' | 'random' | 'policy'> & {
    factors: FactorStore
    store: Pick<Store, 'appendAudit' | 'getIdentity'>
  },
  admin: string,
  identityId: string,
): Promise<{ code: string; expiresAt: number }> {
  // Identity ids are uuids; anything else cannot name one (and would be a driver error, not a 404).
  const identity = UUID.test(identityId) ? await deps.store.getIdentity(identityId) : null
  if (identity === null) throw new KeygateError('NOT_FOUND', `No identity ${identityId}`)
  const now = deps.clock.now()
  const code = randomStepUpId(deps, 15)
  const expiresAt = now + ENROLMENT_CODE_TTL_MS
  await deps.factors.createEnrolmentCode(
    { codeHash: hashCode(code), identityId, createdBy: admin, expiresAt },
    now,
  )
  await deps.store.appendAudit(
    auditEvent('step_up.enrolment_code_issued', {
      identityId,
      actor: admin,
      policyHash: deps.policy().hash,
      data: { expiresAt: new Date(expiresAt).toISOString() },
    }),
    now,
  )
  return { code, expiresAt }
}

/** Enrolment codes are stored as SHA-256 hex, as gateway tokens are: a leaked table holds no usable code. */
export function hashCode(code: string): string {
  return bytesToHex(sha256(new TextEncoder().encode(code)))
}
