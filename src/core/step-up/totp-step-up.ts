/**
 * TOTP step-up use cases: enrol an authenticator app (begin, show again, confirm with a first code) and
 * verify a code. Every code check runs under a reserved attempt (attempt-limit.ts) and the replay rule
 * (totp-rules.ts); the secret is sealed at rest and opened only to check a code or show the enrolment.
 */
import { KeygateError } from '../errors.ts'
import type { AuthFacts } from '../model.ts'
import { finishEnrolment, requireEnrolmentAllowed } from './enrolment-gate.ts'
import { enrolmentIsAnchored } from './enrolment-rules.ts'
import type { TotpFactor } from './factor-records.ts'
import {
  auditStepUp,
  failStepUp,
  randomStepUpId,
  reserveAttempt,
  type StepUpDeps,
  type StepUpSession,
  succeedStepUp,
} from './step-up-deps.ts'
import { isTotpReplay, normalizeTotpCode } from './totp-rules.ts'

/** An unconfirmed TOTP enrolment must be finished within this time. */
export const TOTP_ENROLMENT_TTL_MS = 10 * 60_000

export interface TotpEnrolment {
  factorId: string
  uri: string
  /** The base32 secret, for typing into an app by hand. */
  secret: string
}

async function openSecret(deps: StepUpDeps, factor: Pick<TotpFactor, 'secretCiphertext'>): Promise<string> {
  return new TextDecoder().decode(await deps.sealer.open(factor.secretCiphertext))
}

function account(session: StepUpSession): string {
  return session.email ?? session.subject
}

function pendingFactor(session: StepUpSession, factor: TotpFactor | null, now: number): factor is TotpFactor {
  return (
    factor !== null &&
    factor.identityId === session.identityId &&
    factor.confirmedAt === null &&
    factor.createdAt >= now - TOTP_ENROLMENT_TTL_MS
  )
}

export async function beginTotpEnrolment(
  deps: StepUpDeps,
  session: StepUpSession,
  enrolmentCode?: unknown,
): Promise<TotpEnrolment> {
  await requireEnrolmentAllowed(deps, session, 'totp', enrolmentCode)
  const now = deps.clock.now()
  // A reload (or a second click) continues the unfinished enrolment: the secret the user may already have
  // scanned stays the one that will be confirmed.
  const unfinished = (await deps.factors.listTotpFactors(session.identityId))
    .filter((f) => pendingFactor(session, f, now))
    .sort((a, b) => b.createdAt - a.createdAt)[0]
  if (unfinished !== undefined) {
    const secret = await openSecret(deps, unfinished)
    return {
      factorId: unfinished.id,
      uri: deps.totp.uri(secret, account(session), deps.settings.issuerName),
      secret,
    }
  }
  await deps.factors.deleteUnconfirmedTotp(session.identityId, now - TOTP_ENROLMENT_TTL_MS)
  const secret = deps.totp.newSecret()
  const factor = await deps.factors.createTotpFactor(
    {
      id: randomStepUpId(deps),
      identityId: session.identityId,
      label: 'Authenticator app',
      secretCiphertext: await deps.sealer.seal(secret),
      anchored: enrolmentIsAnchored(session.auth),
    },
    now,
  )
  return {
    factorId: factor.id,
    uri: deps.totp.uri(secret, account(session), deps.settings.issuerName),
    secret,
  }
}

/** An unfinished enrolment of this session's identity, to show its QR code again after a wrong code. */
export async function pendingTotpEnrolment(
  deps: StepUpDeps,
  session: StepUpSession,
  factorId: string,
): Promise<TotpEnrolment | null> {
  const factor = await deps.factors.getTotpFactor(factorId)
  if (!pendingFactor(session, factor, deps.clock.now())) return null
  const secret = await openSecret(deps, factor)
  return { factorId, uri: deps.totp.uri(secret, account(session), deps.settings.issuerName), secret }
}

/** The first code proves the app holds the secret; it also counts as this session's step-up. */
export async function confirmTotpEnrolment(
  deps: StepUpDeps,
  session: StepUpSession,
  factorId: string,
  code: unknown,
  enrolmentCode?: unknown,
): Promise<AuthFacts> {
  const factor = await deps.factors.getTotpFactor(factorId)
  if (!pendingFactor(session, factor, deps.clock.now())) {
    throw new KeygateError('NOT_FOUND', 'This enrolment has expired or was finished already; start again.')
  }
  // Checked again: the sign-in may have aged (or a factor appeared) while the user fetched their phone.
  const pass = await requireEnrolmentAllowed(deps, session, 'totp', enrolmentCode)
  const attemptId = await reserveAttempt(deps, session, 'totp')
  // The enrolment code is consumed between the match and the confirmation: a wrong code does not burn
  // it, and a code consumed by a concurrent enrolment leaves this factor unconfirmed.
  await checkCode(deps, session, factor, await openSecret(deps, factor), code, () =>
    finishEnrolment(deps, session, 'totp', pass),
  )
  await auditStepUp(deps, session, 'step_up.enrolled', {
    method: 'totp',
    factorId: factor.id,
    anchored: factor.anchored,
    authTime: session.auth.authTime,
  })
  return succeedStepUp(deps, session, totpProof(factor), factor.id, attemptId)
}

export async function verifyTotp(
  deps: StepUpDeps,
  session: StepUpSession,
  code: unknown,
): Promise<AuthFacts> {
  const confirmed = (await deps.factors.listTotpFactors(session.identityId)).filter(
    (t) => t.confirmedAt !== null,
  )
  if (confirmed.length === 0) throw new KeygateError('NOT_FOUND', 'You have no authenticator app enrolled.')
  const attemptId = await reserveAttempt(deps, session, 'totp')
  // Usually one app; with several, the code is checked against the one whose secret it matches.
  const normalized = normalizeTotpCode(code)
  let factor = confirmed[0]!
  let secret = await openSecret(deps, factor)
  if (normalized !== null && confirmed.length > 1) {
    for (const candidate of confirmed) {
      const candidateSecret = await openSecret(deps, candidate)
      if (deps.totp.matchStep(candidateSecret, normalized, deps.clock.now()) !== null) {
        factor = candidate
        secret = candidateSecret
        break
      }
    }
  }
  await checkCode(deps, session, factor, secret, code)
  return succeedStepUp(deps, session, totpProof(factor), factor.id, attemptId)
}

function totpProof(factor: TotpFactor) {
  return { method: 'totp', amr: 'otp', anchored: factor.anchored } as const
}

/** A wrong, malformed or replayed code is a failure (its reserved attempt stays counted). */
async function checkCode(
  deps: StepUpDeps,
  session: StepUpSession,
  factor: TotpFactor,
  secret: string,
  rawCode: unknown,
  beforeAccept?: () => Promise<void>,
): Promise<void> {
  const code = normalizeTotpCode(rawCode)
  if (code === null)
    return failStepUp(
      deps,
      session,
      'totp',
      'malformed',
      'Enter the 6-digit code your authenticator app shows.',
    )
  const now = deps.clock.now()
  const step = deps.totp.matchStep(secret, code, now)
  if (step === null)
    return failStepUp(
      deps,
      session,
      'totp',
      'wrong',
      'That code is not right. Check the app and try the current code.',
    )
  const current = await deps.factors.getTotpFactor(factor.id)
  if (current !== null && !isTotpReplay(current.lastUsedStep, step)) await beforeAccept?.()
  if (
    current === null ||
    isTotpReplay(current.lastUsedStep, step) ||
    !(await deps.factors.acceptTotpStep(factor.id, step, now))
  ) {
    return failStepUp(
      deps,
      session,
      'totp',
      'replayed',
      'That code was already used. Wait for the next code and enter it.',
    )
  }
}
