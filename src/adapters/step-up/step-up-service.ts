/**
 * Keygate's own second factor, end to end: enrolment and use of TOTP and WebAuthn for a signed-in
 * session, with the rules of core/step-up (replay, attempt limit, enrolment freshness), the secrets sealed
 * with KEYGATE_SECRET, and an audit event for every enrolment, success, failure and refusal.
 *
 * Every successful use returns the session's new AuthFacts (stepUp set); the HTTP layer re-issues the
 * session cookie with them, so the policy sees the step-up and the lease records it.
 */
import type { BrokerDeps, SessionContext } from '../../core/broker/broker-deps.ts'
import { randomId } from '../../core/broker/sign-in.ts'
import { KeygateError } from '../../core/errors.ts'
import type { AuthFacts } from '../../core/model.ts'
import {
  type AttemptLimit,
  attemptHorizon,
  counterLooksCloned,
  DEFAULT_ATTEMPT_LIMIT,
  decideAttempt,
  enrolmentRefusal,
  type FactorStore,
  type FactorSummary,
  isTotpReplay,
  normalizeTotpCode,
  type StepUpMethod,
  withStepUp,
} from '../../core/step-up/index.ts'
import { matchTotpStep, newTotpSecret, totpUri } from './totp.ts'
import {
  type AuthenticationResponseJSON,
  authenticationOptions,
  type RegistrationResponseJSON,
  type RelyingParty,
  registrationOptions,
  verifyAuthentication,
  verifyRegistration,
} from './webauthn.ts'

/** An unconfirmed TOTP enrolment must be finished within this time. */
export const TOTP_ENROLMENT_TTL_MS = 10 * 60_000
const CHALLENGE_TTL_MS = 5 * 60_000

export interface StepUpDeps {
  broker: BrokerDeps
  factors: FactorStore
  relyingParty: RelyingParty
  /** The name authenticator apps show next to the code. */
  issuerName?: string
  attemptLimit?: AttemptLimit
}

export interface StepUpStatus {
  factors: FactorSummary[]
  hasTotp: boolean
  hasWebAuthn: boolean
  /** Null when the session may enrol a factor now; otherwise why not. */
  enrolRefusal: ReturnType<typeof enrolmentRefusal>
}

export interface TotpEnrolment {
  factorId: string
  uri: string
  /** The base32 secret, for typing into an app by hand. */
  secret: string
}

export function createStepUpService(deps: StepUpDeps) {
  const { broker, factors, relyingParty } = deps
  const limit = deps.attemptLimit ?? DEFAULT_ATTEMPT_LIMIT

  async function audit(session: SessionContext, type: string, data: Record<string, unknown>) {
    await broker.store.appendAudit(
      {
        type,
        identityId: session.identityId,
        leaseId: null,
        gatewayId: null,
        actor: session.email,
        policyHash: broker.policy().hash,
        data,
      },
      broker.clock.now(),
    )
  }

  async function status(session: SessionContext): Promise<StepUpStatus> {
    const [totps, credentials] = await Promise.all([
      factors.listTotpFactors(session.identityId),
      factors.listWebAuthnCredentials(session.identityId),
    ])
    const confirmedTotps = totps.filter((t) => t.confirmedAt !== null)
    const summaries: FactorSummary[] = [
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
    return {
      factors: summaries,
      hasTotp: confirmedTotps.length > 0,
      hasWebAuthn: credentials.length > 0,
      enrolRefusal: enrolmentRefusal(session.auth, summaries.length > 0, broker.clock.now()),
    }
  }

  async function requireEnrolmentAllowed(session: SessionContext, method: StepUpMethod) {
    const current = await status(session)
    if (current.enrolRefusal !== null) {
      await audit(session, 'step_up.enrol_refused', { method, code: current.enrolRefusal.code })
      throw new KeygateError(
        current.enrolRefusal.code === 'AUTH_TOO_OLD' ? 'AUTH_TOO_OLD' : 'STEP_UP_REQUIRED',
        current.enrolRefusal.message,
        { reasons: [current.enrolRefusal] },
      )
    }
    return current
  }

  /** Refuses the attempt before any check when the identity has used up its failures. */
  async function requireAttemptAllowed(session: SessionContext, method: StepUpMethod) {
    const now = broker.clock.now()
    const failures = await factors.failedAttemptsSince(session.identityId, attemptHorizon(now, limit))
    const decision = decideAttempt(failures, now, limit)
    if (!decision.allowed) {
      await audit(session, 'step_up.rate_limited', { method })
      const minutes = Math.ceil(decision.retryAfterMs / 60_000)
      throw new KeygateError(
        'RATE_LIMITED',
        `Too many wrong codes. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        {
          details: { retryAfterSeconds: Math.ceil(decision.retryAfterMs / 1000) },
        },
      )
    }
  }

  async function fail(
    session: SessionContext,
    method: StepUpMethod,
    why: string,
    message: string,
  ): Promise<never> {
    await factors.recordFailedAttempt(session.identityId, broker.clock.now())
    await audit(session, 'step_up.failed', { method, why })
    broker.logger.warn('step_up.failed', { identityId: session.identityId, method, why })
    throw new KeygateError('FACTOR_INVALID', message)
  }

  async function succeed(
    session: SessionContext,
    method: StepUpMethod,
    factorId: string,
  ): Promise<AuthFacts> {
    await audit(session, 'step_up.succeeded', { method, factorId })
    broker.logger.info('step_up.succeeded', { identityId: session.identityId, method })
    return withStepUp(session.auth, method)
  }

  /** Checks a code against one factor: a wrong code and a replayed one are both failures. */
  async function checkTotp(
    session: SessionContext,
    factorId: string,
    secretCiphertext: string,
    rawCode: unknown,
  ) {
    const code = normalizeTotpCode(rawCode)
    if (code === null)
      return fail(session, 'totp', 'malformed', 'Enter the 6-digit code your authenticator app shows.')
    const secret = new TextDecoder().decode(await broker.sealer.open(secretCiphertext))
    const now = broker.clock.now()
    const step = matchTotpStep(secret, code, now)
    if (step === null)
      return fail(session, 'totp', 'wrong', 'That code is not right. Check the app and try the current code.')
    const factor = await factors.getTotpFactor(factorId)
    if (
      factor === null ||
      isTotpReplay(factor.lastUsedStep, step) ||
      !(await factors.acceptTotpStep(factorId, step, now))
    ) {
      return fail(
        session,
        'totp',
        'replayed',
        'That code was already used. Wait for the next code and enter it.',
      )
    }
  }

  return {
    status,

    async beginTotpEnrolment(session: SessionContext): Promise<TotpEnrolment> {
      await requireEnrolmentAllowed(session, 'totp')
      const now = broker.clock.now()
      await factors.deleteUnconfirmedTotp(session.identityId, now - TOTP_ENROLMENT_TTL_MS)
      const secret = newTotpSecret((n) => broker.random.bytes(n))
      const account = session.email ?? session.subject
      const factor = await factors.createTotpFactor(
        {
          id: randomId(broker),
          identityId: session.identityId,
          label: 'Authenticator app',
          secretCiphertext: await broker.sealer.seal(secret),
        },
        now,
      )
      return { factorId: factor.id, uri: totpUri(secret, account, deps.issuerName ?? 'Keygate'), secret }
    },

    /** An unfinished enrolment of this session's identity, to show its QR code again after a wrong code. */
    async pendingTotpEnrolment(session: SessionContext, factorId: string): Promise<TotpEnrolment | null> {
      const factor = await factors.getTotpFactor(factorId)
      if (
        factor === null ||
        factor.identityId !== session.identityId ||
        factor.confirmedAt !== null ||
        factor.createdAt < broker.clock.now() - TOTP_ENROLMENT_TTL_MS
      ) {
        return null
      }
      const secret = new TextDecoder().decode(await broker.sealer.open(factor.secretCiphertext))
      return {
        factorId,
        uri: totpUri(secret, session.email ?? session.subject, deps.issuerName ?? 'Keygate'),
        secret,
      }
    },

    /** The first code proves the app holds the secret; it also counts as this session's step-up. */
    async confirmTotpEnrolment(session: SessionContext, factorId: string, code: unknown): Promise<AuthFacts> {
      await requireAttemptAllowed(session, 'totp')
      const factor = await factors.getTotpFactor(factorId)
      const now = broker.clock.now()
      if (
        factor === null ||
        factor.identityId !== session.identityId ||
        factor.confirmedAt !== null ||
        factor.createdAt < now - TOTP_ENROLMENT_TTL_MS
      ) {
        throw new KeygateError(
          'NOT_FOUND',
          'This enrolment has expired or was finished already; start again.',
        )
      }
      // Freshness is checked again: the sign-in may have aged while the user fetched their phone.
      await requireEnrolmentAllowed(session, 'totp')
      await checkTotp(session, factor.id, factor.secretCiphertext, code)
      await audit(session, 'step_up.enrolled', {
        method: 'totp',
        factorId: factor.id,
        authTime: session.auth.authTime,
      })
      return succeed(session, 'totp', factor.id)
    },

    async verifyTotp(session: SessionContext, code: unknown): Promise<AuthFacts> {
      await requireAttemptAllowed(session, 'totp')
      const confirmed = (await factors.listTotpFactors(session.identityId)).filter(
        (t) => t.confirmedAt !== null,
      )
      if (confirmed.length === 0)
        throw new KeygateError('NOT_FOUND', 'You have no authenticator app enrolled.')
      // Usually one app; with several, the code is checked against the one whose secret it matches.
      const normalized = normalizeTotpCode(code)
      let factor = confirmed[0]!
      if (normalized !== null && confirmed.length > 1) {
        for (const candidate of confirmed) {
          const secret = new TextDecoder().decode(await broker.sealer.open(candidate.secretCiphertext))
          if (matchTotpStep(secret, normalized, broker.clock.now()) !== null) {
            factor = candidate
            break
          }
        }
      }
      await checkTotp(session, factor.id, factor.secretCiphertext, code)
      return succeed(session, 'totp', factor.id)
    },

    async webauthnRegistrationOptions(session: SessionContext) {
      await requireEnrolmentAllowed(session, 'webauthn')
      const existing = await factors.listWebAuthnCredentials(session.identityId)
      const challenge = await newChallenge(session)
      return registrationOptions(
        relyingParty,
        {
          id: new TextEncoder().encode(session.identityId),
          name: session.email ?? session.subject,
          displayName: session.email ?? session.subject,
        },
        existing,
        challenge,
      )
    },

    async verifyWebAuthnRegistration(
      session: SessionContext,
      response: unknown,
      label: unknown,
    ): Promise<AuthFacts> {
      await requireEnrolmentAllowed(session, 'webauthn')
      const verified = await verifyRegistration(
        relyingParty,
        response as RegistrationResponseJSON,
        consumeChallenge(session),
      )
      if (verified === null)
        return fail(
          session,
          'webauthn',
          'registration_invalid',
          'The security key’s answer did not verify. Try again.',
        )
      if ((await factors.getWebAuthnCredential(verified.id)) !== null) {
        throw new KeygateError('INVALID_REQUEST', 'This security key is registered already.')
      }
      const now = broker.clock.now()
      await factors.addWebAuthnCredential({
        id: verified.id,
        identityId: session.identityId,
        label: typeof label === 'string' && label.trim() !== '' ? label.trim().slice(0, 64) : 'Security key',
        publicKey: verified.publicKey,
        counter: verified.counter,
        transports: verified.transports,
        createdAt: now,
      })
      await audit(session, 'step_up.enrolled', {
        method: 'webauthn',
        factorId: verified.id,
        authTime: session.auth.authTime,
      })
      // Registration is a proof of possession in itself, made right after a fresh sign-in.
      return succeed(session, 'webauthn', verified.id)
    },

    async webauthnAuthenticationOptions(session: SessionContext) {
      await requireAttemptAllowed(session, 'webauthn')
      const credentials = await factors.listWebAuthnCredentials(session.identityId)
      if (credentials.length === 0)
        throw new KeygateError('NOT_FOUND', 'You have no security key or passkey registered.')
      return authenticationOptions(relyingParty, credentials, await newChallenge(session))
    },

    async verifyWebAuthnAuthentication(session: SessionContext, response: unknown): Promise<AuthFacts> {
      await requireAttemptAllowed(session, 'webauthn')
      const id = typeof (response as { id?: unknown })?.id === 'string' ? (response as { id: string }).id : ''
      const credential = await factors.getWebAuthnCredential(id)
      if (credential === null || credential.identityId !== session.identityId) {
        return fail(session, 'webauthn', 'unknown_credential', 'This security key is not registered to you.')
      }
      const result = await verifyAuthentication(
        relyingParty,
        response as AuthenticationResponseJSON,
        credential,
        consumeChallenge(session),
      )
      if (result === null)
        return fail(
          session,
          'webauthn',
          'assertion_invalid',
          'The security key’s answer did not verify. Try again.',
        )
      if (counterLooksCloned(credential.counter, result.newCounter)) {
        await audit(session, 'step_up.cloned_credential', { factorId: credential.id })
        return fail(
          session,
          'webauthn',
          'counter',
          'This security key reported a signature counter that did not increase; it may be cloned.',
        )
      }
      await factors.touchWebAuthnCredential(credential.id, result.newCounter, broker.clock.now())
      return succeed(session, 'webauthn', credential.id)
    },
  }

  /** A challenge bound to this session and usable once: kept with the store's single-use login states. */
  async function newChallenge(session: SessionContext): Promise<Uint8Array> {
    const challenge = broker.random.bytes(32)
    await broker.store.saveLoginState(
      challengeKey(session, base64Url(challenge)),
      broker.clock.now() + CHALLENGE_TTL_MS,
    )
    return challenge
  }

  function consumeChallenge(session: SessionContext) {
    return (challenge: string) =>
      broker.store.consumeLoginState(challengeKey(session, challenge), broker.clock.now())
  }
}

export type StepUpService = ReturnType<typeof createStepUpService>

function challengeKey(session: SessionContext, challenge: string): string {
  return `webauthn:${session.sessionId}:${challenge}`
}

function base64Url(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
