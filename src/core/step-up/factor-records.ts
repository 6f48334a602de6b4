/**
 * The second factors Keygate keeps for an identity, and the store port they live behind.
 *
 * Factors are bound to the identity row, which is keyed on (issuer, subject): a second account with the
 * same email at another IdP never shares them. Secrets are stored only as SecretSealer ciphertext.
 */
import type { StepUpMethod } from './enrolment-rules.ts'

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

/** Persistence of second factors. Each method is one transaction. */
export interface FactorStore {
  createTotpFactor(
    input: { id: string; identityId: string; label: string; secretCiphertext: string },
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

  recordFailedAttempt(identityId: string, now: number): Promise<void>
  /** Failure times since `since`, for the attempt limit; may also drop older ones. */
  failedAttemptsSince(identityId: string, since: number): Promise<number[]>
}
