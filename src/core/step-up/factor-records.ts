/**
 * The second factors Keygate keeps for an identity, and the store port they live behind.
 *
 * Factors are bound to the identity row, which is keyed on (issuer, subject): a second account with the
 * same email at another IdP never shares them. Secrets are stored only as SecretSealer ciphertext.
 */
import type { StepUpAmr, StepUpMethod } from '../identity/step-up-proof.ts'

export interface TotpFactor {
  id: string
  identityId: string
  label: string
  /** The base32 secret, sealed with KEYGATE_SECRET. */
  secretCiphertext: string
  /** null until the user proved the app works by typing a first code. */
  confirmedAt: number | null
  /** The highest time step accepted (replay rule), or null. */
  lastUsedStep: number | null
  /** Enrolled during an IdP-MFA session (see enrolmentIsAnchored). */
  anchored: boolean
  createdAt: number
}

export interface WebAuthnCredentialRecord {
  /** The credential id, base64url, as the authenticator made it. */
  id: string
  identityId: string
  label: string
  publicKey: Uint8Array
  counter: number
  transports: string[]
  /** What a use of this credential proves: `hwk` only after a trusted attestation from an allowed AAGUID. */
  amr: Extract<StepUpAmr, 'hwk' | 'swk'>
  /** Enrolled during an IdP-MFA session. */
  anchored: boolean
  createdAt: number
  lastUsedAt: number | null
}

export interface FactorSummary {
  method: StepUpMethod
  id: string
  label: string
  createdAt: number
  lastUsedAt: number | null
}

/** The outcome of reserving a second-factor attempt under the identity's attempt limit. */
export type AttemptReservation =
  | { reserved: true; attemptId: string }
  | { reserved: false; failureTimes: number[] }

/** Persistence of second factors. Each method is one transaction. */
export interface FactorStore {
  createTotpFactor(
    input: { id: string; identityId: string; label: string; secretCiphertext: string; anchored: boolean },
    now: number,
  ): Promise<TotpFactor>
  getTotpFactor(id: string): Promise<TotpFactor | null>
  listTotpFactors(identityId: string): Promise<TotpFactor[]>
  /** Marks the factor confirmed and records the step, only if `step` is later than the last one.
   *  Returns false (and changes nothing) when the step was not later: a replay, even a concurrent one. */
  acceptTotpStep(id: string, step: number, now: number): Promise<boolean>
  /** Removes unconfirmed TOTP factors older than `before` (abandoned enrolments). */
  deleteUnconfirmedTotp(identityId: string, before: number): Promise<void>

  addWebAuthnCredential(record: Omit<WebAuthnCredentialRecord, 'lastUsedAt'>): Promise<void>
  getWebAuthnCredential(id: string): Promise<WebAuthnCredentialRecord | null>
  listWebAuthnCredentials(identityId: string): Promise<WebAuthnCredentialRecord[]>
  /** Stores the authenticator's new signature counter. */
  touchWebAuthnCredential(id: string, counter: number, now: number): Promise<void>

  /**
   * Atomically, per identity: counts the attempts inside (windowStart, now] and, when fewer than
   * `maxAttempts`, records a new one (counted as a failure until released) and returns its id. Concurrent
   * calls for one identity are serialised, so N parallel requests reserve at most `maxAttempts`: the
   * attempt is taken before the code is checked, never written after.
   */
  reserveAttempt(
    identityId: string,
    now: number,
    windowStart: number,
    maxAttempts: number,
  ): Promise<AttemptReservation>
  /** Forgets a reserved attempt that succeeded: only failures count against the limit. */
  releaseAttempt(attemptId: string): Promise<void>

  /** Stores an admin-issued one-time enrolment code, by its hash only. */
  createEnrolmentCode(
    input: { codeHash: string; identityId: string; createdBy: string; expiresAt: number },
    now: number,
  ): Promise<void>
  /** Whether an unused, unexpired code with this hash exists for the identity. */
  hasEnrolmentCode(identityId: string, codeHash: string, now: number): Promise<boolean>
  /** Marks the code used, only if it was still unused and unexpired; false otherwise (single use). */
  consumeEnrolmentCode(identityId: string, codeHash: string, now: number): Promise<boolean>
}
