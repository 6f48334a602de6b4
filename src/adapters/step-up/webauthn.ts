/**
 * WebAuthn through `@simplewebauthn/server`: options for the browser and verification of its answers.
 *
 * Keygate uses WebAuthn as a second factor, not as a passkey login: the user is already known from the
 * IdP session, so credentials are listed explicitly (allowCredentials), no resident key is asked for, and
 * user presence is enough (verification is preferred, not required, so plain security keys work).
 */
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server'
import type { WebAuthnCredentialRecord } from '../../core/step-up/index.ts'

export interface RelyingParty {
  id: string
  name: string
  origin: string
}

export type { AuthenticationResponseJSON, RegistrationResponseJSON }

export async function registrationOptions(
  rp: RelyingParty,
  user: { id: Uint8Array; name: string; displayName: string },
  existing: readonly WebAuthnCredentialRecord[],
  challenge: Uint8Array,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userID: new Uint8Array(user.id),
    userName: user.name,
    userDisplayName: user.displayName,
    challenge: new Uint8Array(challenge),
    attestationType: 'none',
    excludeCredentials: existing.map((c) => ({ id: c.id, transports: c.transports })),
    authenticatorSelection: { residentKey: 'discouraged', userVerification: 'preferred' },
    timeout: 120_000,
  })
}

export interface VerifiedRegistration {
  id: string
  publicKey: Uint8Array
  counter: number
  transports: string[]
}

/** @returns null when the response does not verify (wrong challenge, origin, RP id, or a bad attestation). */
export async function verifyRegistration(
  rp: RelyingParty,
  response: RegistrationResponseJSON,
  expectedChallenge: (challenge: string) => Promise<boolean>,
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
    const { credential } = result.registrationInfo
    return {
      id: credential.id,
      publicKey: new Uint8Array(credential.publicKey),
      counter: credential.counter,
      transports: credential.transports ?? [],
    }
  } catch {
    // The library throws on every malformed or mismatching response; to the user they are all "not valid".
    return null
  }
}

export async function authenticationOptions(
  rp: RelyingParty,
  credentials: readonly WebAuthnCredentialRecord[],
  challenge: Uint8Array,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: rp.id,
    allowCredentials: credentials.map((c) => ({ id: c.id, transports: c.transports })),
    challenge: new Uint8Array(challenge),
    userVerification: 'preferred',
    timeout: 120_000,
  })
}

/** @returns the authenticator's new counter, or null when the assertion does not verify. */
export async function verifyAuthentication(
  rp: RelyingParty,
  response: AuthenticationResponseJSON,
  credential: WebAuthnCredentialRecord,
  expectedChallenge: (challenge: string) => Promise<boolean>,
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
