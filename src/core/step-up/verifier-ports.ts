/**
 * The ports behind which the step-up use cases reach the TOTP and WebAuthn libraries (otpauth and
 * @simplewebauthn/server in adapters/step-up). Core decides replay, attempt limits, counters, enrolment
 * and what a factor proves; a verifier only answers "does this code or signature verify, and with what".
 */
import type { WebAuthnCredentialRecord } from './factor-records.ts'

export interface TotpVerifier {
  /** A new base32 secret (Keygate's TOTP_PARAMETERS). */
  newSecret(): string
  /** The otpauth:// URI an authenticator app imports. */
  uri(secretBase32: string, account: string, issuer: string): string
  /** The time step the code matches within the accepted window, or null when it matches none. */
  matchStep(secretBase32: string, code: string, nowMs: number): number | null
}

/** A single-use, session-bound challenge check, as the WebAuthn library calls it. */
export type ChallengeCheck = (challenge: string) => Promise<boolean>

export interface VerifiedRegistration {
  id: string
  publicKey: Uint8Array
  counter: number
  transports: string[]
  /** The authenticator model (AAGUID, lower-case UUID), as the attested authenticator data says. */
  aaguid: string
  /**
   * Whether the attestation statement verified up to a configured root certificate. Self attestation,
   * `none`, and chains to no configured root are all false: they prove nothing about the authenticator.
   */
  attestationTrusted: boolean
}

export interface WebAuthnVerifier {
  /** Options for navigator.credentials.create (JSON, as the browser script reads them). */
  registrationOptions(
    user: { id: Uint8Array; name: string; displayName: string },
    existing: readonly WebAuthnCredentialRecord[],
    challenge: Uint8Array,
  ): Promise<unknown>
  /** Null when the response does not verify (wrong challenge, origin, RP id, a bad attestation). */
  verifyRegistration(
    response: unknown,
    expectedChallenge: ChallengeCheck,
  ): Promise<VerifiedRegistration | null>
  authenticationOptions(
    credentials: readonly WebAuthnCredentialRecord[],
    challenge: Uint8Array,
  ): Promise<unknown>
  /** Null when the assertion does not verify; else the authenticator's new signature counter. */
  verifyAuthentication(
    response: unknown,
    credential: WebAuthnCredentialRecord,
    expectedChallenge: ChallengeCheck,
  ): Promise<{ newCounter: number } | null>
}
