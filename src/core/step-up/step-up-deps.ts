/**
 * What the step-up use cases need (ports and settings), and the small steps they share: auditing, the
 * attempt reservation, failing and succeeding. Every effect goes through a port, as in issueLease.
 */
import { auditEvent } from '../audit-event.ts'
import { KeygateError } from '../errors.ts'
import type { StepUpMethod, StepUpProof } from '../identity/step-up-proof.ts'
import type { AuditEventType, AuthFacts } from '../model.ts'
import { encodeBase64 } from '../peers/base64.ts'
import type { Clock, Logger, Random, SecretSealer, Store } from '../ports.ts'
import { type AttemptLimit, attemptHorizon, DEFAULT_ATTEMPT_LIMIT, decideAttempt } from './attempt-limit.ts'
import { DEFAULT_FIRST_FACTOR_RULE, type FirstFactorRule, withStepUp } from './enrolment-rules.ts'
import type { FactorStore } from './factor-records.ts'
import type { TotpVerifier, WebAuthnVerifier } from './verifier-ports.ts'

export interface StepUpSettings {
  /** The name authenticator apps show next to the code. */
  issuerName: string
  attemptLimit: AttemptLimit
  firstFactor: FirstFactorRule
  /** Authenticator models (AAGUIDs, lower case) whose trusted attestation makes a WebAuthn key `hwk`. */
  hwkAaguids: readonly string[]
}

export const DEFAULT_STEP_UP_SETTINGS: StepUpSettings = {
  issuerName: 'Keygate',
  attemptLimit: DEFAULT_ATTEMPT_LIMIT,
  firstFactor: DEFAULT_FIRST_FACTOR_RULE,
  hwkAaguids: [],
}

/** The session a step-up acts for: what the broker's SessionContext carries, as far as step-up needs it. */
export interface StepUpSession {
  sessionId: string
  identityId: string
  subject: string
  email: string | null
  auth: AuthFacts
}

/** Broker's deps fit this shape; step-up names only what it uses, so it never imports the broker. */
export interface StepUpDeps {
  clock: Clock
  random: Random
  logger: Logger
  sealer: SecretSealer
  /** The live policy, for the hash every audit event records. */
  policy(): { hash: string }
  /** Audit, and the single-use WebAuthn challenges (kept with the store's single-use login states). */
  store: Pick<Store, 'appendAudit' | 'saveLoginState' | 'consumeLoginState'>
  factors: FactorStore
  totp: TotpVerifier
  webauthn: WebAuthnVerifier
  settings: StepUpSettings
}

export async function auditStepUp(
  deps: StepUpDeps,
  session: StepUpSession,
  type: Extract<AuditEventType, `step_up.${string}`>,
  data: Record<string, unknown>,
): Promise<void> {
  await deps.store.appendAudit(
    auditEvent(type, {
      identityId: session.identityId,
      actor: session.email,
      policyHash: deps.policy().hash,
      data,
    }),
    deps.clock.now(),
  )
}

/**
 * Takes one attempt of the identity's allowance before any code or signature is checked, or refuses with
 * RATE_LIMITED. The reservation counts as a failure unless the caller releases it after a success.
 */
export async function reserveAttempt(
  deps: StepUpDeps,
  session: StepUpSession,
  method: StepUpMethod,
): Promise<string> {
  const limit = deps.settings.attemptLimit
  const now = deps.clock.now()
  const reservation = await deps.factors.reserveAttempt(
    session.identityId,
    now,
    attemptHorizon(now, limit),
    limit.maxFailures,
  )
  if (reservation.reserved) return reservation.attemptId
  await auditStepUp(deps, session, 'step_up.rate_limited', { method })
  const decision = decideAttempt(reservation.failureTimes, now, limit)
  const retryAfterMs = decision.allowed ? 1000 : decision.retryAfterMs
  const minutes = Math.ceil(retryAfterMs / 60_000)
  throw new KeygateError(
    'RATE_LIMITED',
    `Too many wrong codes. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
    { details: { retryAfterSeconds: Math.ceil(retryAfterMs / 1000) } },
  )
}

/** A failed check: audited and refused. A reserved attempt stays counted. */
export async function failStepUp(
  deps: StepUpDeps,
  session: StepUpSession,
  method: StepUpMethod,
  why: string,
  message: string,
): Promise<never> {
  await auditStepUp(deps, session, 'step_up.failed', { method, why })
  deps.logger.warn('step_up.failed', { identityId: session.identityId, method, why })
  throw new KeygateError('FACTOR_INVALID', message)
}

/** A passed check: the reservation is released and the session's facts carry what the factor proves. */
export async function succeedStepUp(
  deps: StepUpDeps,
  session: StepUpSession,
  proof: StepUpProof,
  factorId: string,
  attemptId: string | null,
): Promise<AuthFacts> {
  if (attemptId !== null) await deps.factors.releaseAttempt(attemptId)
  await auditStepUp(deps, session, 'step_up.succeeded', {
    method: proof.method,
    amr: proof.amr,
    anchored: proof.anchored,
    factorId,
  })
  deps.logger.info('step_up.succeeded', { identityId: session.identityId, method: proof.method })
  return withStepUp(session.auth, proof)
}

/** A random id, base64url, for factors and enrolment codes. */
export function randomStepUpId(deps: Pick<StepUpDeps, 'random'>, bytes = 16): string {
  return base64Url(deps.random.bytes(bytes))
}

export function base64Url(bytes: Uint8Array): string {
  return encodeBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
