/**
 * WebAuthn through `@simplewebauthn/server`: the WebAuthnVerifier port of core/step-up. Options for the
 * browser and verification of its answers; whether a registration's attestation is trusted (a `packed`
 * full attestation whose certificate chain ends at one of the configured roots), which core needs to
 * decide `hwk` against `swk`.
 *
 * Keygate uses WebAuthn as a second factor, not as a passkey login: the user is already known from the
 * IdP session, so credentials are listed explicitly (allowCredentials), no resident key is asked for, and
 * user presence is enough (verification is preferred, not required, so plain security keys work).
 */
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server'
import {
  convertCertBufferToPEM,
  decodeAttestationObject,
  validateCertificatePath,
} from '@simplewebauthn/server/helpers'
import type {
  ChallengeCheck,
  VerifiedRegistration,
  WebAuthnCredentialRecord,
  WebAuthnVerifier,
} from '../../core/step-up/index.ts'

export interface RelyingParty {
  id: string
  name: string
  origin: string
}

export interface AttestationSettings {
  /** Ask browsers for the authenticator's attestation (only useful with roots and allowed AAGUIDs). */
  request: boolean
  /** PEM root certificates an attestation chain must end at to be trusted. */
  roots: readonly string[]
}

export function createWebAuthnVerifier(
  rp: RelyingParty,
  attestation: AttestationSettings = { request: false, roots: [] },
): WebAuthnVerifier {
  return {
    registrationOptions: (user, existing, challenge) =>
      generateRegistrationOptions({
        rpName: rp.name,
        rpID: rp.id,
        userID: new Uint8Array(user.id),
        userName: user.name,
        userDisplayName: user.displayName,
        challenge: new Uint8Array(challenge),
        attestationType: attestation.request ? 'direct' : 'none',
        excludeCredentials: existing.map((c) => ({ id: c.id, transports: c.transports })),
        authenticatorSelection: { residentKey: 'discouraged', userVerification: 'preferred' },
        timeout: 120_000,
      }),
    verifyRegistration: (response, expectedChallenge) =>
      verifyRegistration(rp, attestation, response as RegistrationResponseJSON, expectedChallenge),
    authenticationOptions: (credentials, challenge) =>
      generateAuthenticationOptions({
        rpID: rp.id,
        allowCredentials: credentials.map((c) => ({ id: c.id, transports: c.transports })),
        challenge: new Uint8Array(challenge),
        userVerification: 'preferred',
        timeout: 120_000,
      }),
    verifyAuthentication: (response, credential, expectedChallenge) =>
      verifyAuthentication(rp, response as AuthenticationResponseJSON, credential, expectedChallenge),
  }
}

/** @returns null when the response does not verify (wrong challenge, origin, RP id, or a bad attestation). */
async function verifyRegistration(
  rp: RelyingParty,
  attestation: AttestationSettings,
  response: RegistrationResponseJSON,
  expectedChallenge: ChallengeCheck,
): Promise<VerifiedRegistration | null> {
  try {
    const result = await verifyRegistrationResponse({
      response,
      expectedChallenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: false,
    })
    if (!result.verified) return null
    const info = result.registrationInfo
    return {
      id: info.credential.id,
      publicKey: new Uint8Array(info.credential.publicKey),
      counter: info.credential.counter,
      transports: info.credential.transports ?? [],
      aaguid: info.aaguid.toLowerCase(),
      attestationTrusted: await attestationTrusted(info.fmt, info.attestationObject, attestation.roots),
    }
  } catch {
    // The library throws on every malformed or mismatching response; to the user they are all "not valid".
    return null
  }
}

/**
 * The library has verified the statement's signature with its leaf certificate (and, for `packed`, that
 * the leaf names the same AAGUID); without trust anchors it skips the chain, so a software authenticator
 * could sign with a certificate it made itself. Trust therefore needs configured roots and a chain to one.
 */
async function attestationTrusted(
  fmt: string,
  attestationObject: Uint8Array,
  roots: readonly string[],
): Promise<boolean> {
  if (fmt !== 'packed' || roots.length === 0) return false
  const x5c = decodeAttestationObject(new Uint8Array(attestationObject)).get('attStmt').get('x5c')
  if (x5c === undefined || x5c.length === 0) return false
  try {
    return await validateCertificatePath(x5c.map(convertCertBufferToPEM), [...roots])
  } catch {
    return false
  }
}

/** @returns the authenticator's new counter, or null when the assertion does not verify. */
async function verifyAuthentication(
  rp: RelyingParty,
  response: AuthenticationResponseJSON,
  credential: WebAuthnCredentialRecord,
  expectedChallenge: ChallengeCheck,
): Promise<{ newCounter: number } | null> {
  try {
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      credential: {
        id: credential.id,
        publicKey: new Uint8Array(credential.publicKey),
        counter: credential.counter,
        transports: credential.transports,
      },
      requireUserVerification: false,
    })
    return result.verified ? { newCounter: result.authenticationInfo.newCounter } : null
  } catch {
    return null
  }
}
