/**
 * WebAuthn step-up use cases: register a security key or passkey, and use one. Challenges are single-use
 * and bound to the session; an assertion check runs under a reserved attempt; a counter that does not go
 * up is refused (cloned key). What a key proves is decided once, at registration: `hwk` only with a
 * trusted attestation from an allowed authenticator model, otherwise `swk`.
 */
import { KeygateError } from '../errors.ts'
import type { StepUpProof } from '../identity/step-up-proof.ts'
import type { AuthFacts } from '../model.ts'
import { finishEnrolment, requireEnrolmentAllowed } from './enrolment-gate.ts'
import { enrolmentIsAnchored } from './enrolment-rules.ts'
import type { WebAuthnCredentialRecord } from './factor-records.ts'
import {
  auditStepUp,
  base64Url,
  failStepUp,
  reserveAttempt,
  type StepUpDeps,
  type StepUpSession,
  succeedStepUp,
} from './step-up-deps.ts'
import type { ChallengeCheck, VerifiedRegistration } from './verifier-ports.ts'
import { counterLooksCloned } from './webauthn-rules.ts'

const CHALLENGE_TTL_MS = 5 * 60_000

/** What a registered key proves, from its attestation and the configured authenticator models. */
export function webauthnAmrOf(
  registration: Pick<VerifiedRegistration, 'aaguid' | 'attestationTrusted'>,
  hwkAaguids: readonly string[],
): 'hwk' | 'swk' {
  return registration.attestationTrusted && hwkAaguids.includes(registration.aaguid.toLowerCase())
    ? 'hwk'
    : 'swk'
}

function proofOf(credential: Pick<WebAuthnCredentialRecord, 'amr' | 'anchored'>): StepUpProof {
  return { method: 'webauthn', amr: credential.amr, anchored: credential.anchored }
}

export async function webauthnRegistrationOptions(
  deps: StepUpDeps,
  session: StepUpSession,
  enrolmentCode?: unknown,
): Promise<unknown> {
  await requireEnrolmentAllowed(deps, session, 'webauthn', enrolmentCode)
  const existing = await deps.factors.listWebAuthnCredentials(session.identityId)
  const name = session.email ?? session.subject
  return deps.webauthn.registrationOptions(
    { id: new TextEncoder().encode(session.identityId), name, displayName: name },
    existing,
    await newChallenge(deps, session),
  )
}

export async function verifyWebAuthnRegistration(
  deps: StepUpDeps,
  session: StepUpSession,
  response: unknown,
  label: unknown,
  enrolmentCode?: unknown,
): Promise<AuthFacts> {
  const pass = await requireEnrolmentAllowed(deps, session, 'webauthn', enrolmentCode)
  const verified = await deps.webauthn.verifyRegistration(response, consumeChallenge(deps, session))
  if (verified === null) {
    return failStepUp(
      deps,
      session,
      'webauthn',
      'registration_invalid',
      'The security key’s answer did not verify. Try again.',
    )
  }
  if ((await deps.factors.getWebAuthnCredential(verified.id)) !== null) {
    throw new KeygateError('INVALID_REQUEST', 'This security key is registered already.')
  }
  await finishEnrolment(deps, session, 'webauthn', pass)
  const record = {
    id: verified.id,
    identityId: session.identityId,
    label: typeof label === 'string' && label.trim() !== '' ? label.trim().slice(0, 64) : 'Security key',
    publicKey: verified.publicKey,
    counter: verified.counter,
    transports: verified.transports,
    amr: webauthnAmrOf(verified, deps.settings.hwkAaguids),
    anchored: enrolmentIsAnchored(session.auth),
    createdAt: deps.clock.now(),
  }
  await deps.factors.addWebAuthnCredential(record)
  await auditStepUp(deps, session, 'step_up.enrolled', {
    method: 'webauthn',
    factorId: verified.id,
    aaguid: verified.aaguid,
    attestationTrusted: verified.attestationTrusted,
    amr: record.amr,
    anchored: record.anchored,
    authTime: session.auth.authTime,
  })
  // Registration is a proof of possession in itself, made right after a fresh sign-in.
  return succeedStepUp(deps, session, proofOf(record), verified.id, null)
}

export async function webauthnAuthenticationOptions(
  deps: StepUpDeps,
  session: StepUpSession,
): Promise<unknown> {
  const credentials = await deps.factors.listWebAuthnCredentials(session.identityId)
  if (credentials.length === 0)
    throw new KeygateError('NOT_FOUND', 'You have no security key or passkey registered.')
  return deps.webauthn.authenticationOptions(credentials, await newChallenge(deps, session))
}

export async function verifyWebAuthnAuthentication(
  deps: StepUpDeps,
  session: StepUpSession,
  response: unknown,
): Promise<AuthFacts> {
  const attemptId = await reserveAttempt(deps, session, 'webauthn')
  const id =
    typeof (response as { id?: unknown } | null)?.id === 'string' ? (response as { id: string }).id : ''
  const credential = id === '' ? null : await deps.factors.getWebAuthnCredential(id)
  if (credential === null || credential.identityId !== session.identityId) {
    return failStepUp(
      deps,
      session,
      'webauthn',
      'unknown_credential',
      'This security key is not registered to you.',
    )
  }
  const result = await deps.webauthn.verifyAuthentication(
    response,
    credential,
    consumeChallenge(deps, session),
  )
  if (result === null) {
    return failStepUp(
      deps,
      session,
      'webauthn',
      'assertion_invalid',
      'The security key’s answer did not verify. Try again.',
    )
  }
  if (counterLooksCloned(credential.counter, result.newCounter)) {
    await auditStepUp(deps, session, 'step_up.cloned_credential', { factorId: credential.id })
    return failStepUp(
      deps,
      session,
      'webauthn',
      'counter',
      'This security key reported a signature counter that did not increase; it may be cloned.',
    )
  }
  await deps.factors.touchWebAuthnCredential(credential.id, result.newCounter, deps.clock.now())
  return succeedStepUp(deps, session, proofOf(credential), credential.id, attemptId)
}

/** A challenge bound to this session and usable once: kept with the store's single-use login states. */
async function newChallenge(deps: StepUpDeps, session: StepUpSession): Promise<Uint8Array> {
  const challenge = deps.random.bytes(32)
  await deps.store.saveLoginState(
    challengeKey(session, base64Url(challenge)),
    deps.clock.now() + CHALLENGE_TTL_MS,
  )
  return challenge
}

function consumeChallenge(deps: StepUpDeps, session: StepUpSession): ChallengeCheck {
  return (challenge) => deps.store.consumeLoginState(challengeKey(session, challenge), deps.clock.now())
}

function challengeKey(session: StepUpSession, challenge: string): string {
  return `webauthn:${session.sessionId}:${challenge}`
}
