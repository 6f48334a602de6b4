/**
 * TOTP through `otpauth`: the TotpVerifier port of core/step-up. Making a secret, the otpauth:// URI an
 * authenticator app imports, and matching a code to the time step it belongs to (the replay rule in core
 * needs the step, not just "valid").
 */
import { Secret, TOTP } from 'otpauth'
import type { Random } from '../../core/ports.ts'
import { TOTP_PARAMETERS, type TotpVerifier, totpStepAt } from '../../core/step-up/index.ts'

export function newTotpSecret(randomBytes: (length: number) => Uint8Array): string {
  const bytes = randomBytes(TOTP_PARAMETERS.secretBytes)
  return new Secret({ buffer: bytes.slice().buffer }).base32
}

function totpFor(secretBase32: string, label = 'Keygate', issuer = 'Keygate'): TOTP {
  return new TOTP({
    issuer,
    label,
    secret: Secret.fromBase32(secretBase32),
    algorithm: TOTP_PARAMETERS.algorithm,
    digits: TOTP_PARAMETERS.digits,
    period: TOTP_PARAMETERS.periodSeconds,
  })
}

/** The URI authenticator apps read from the QR code. It holds the secret: it goes only into a page body. */
export function totpUri(secretBase32: string, account: string, issuer: string): string {
  return totpFor(secretBase32, account, issuer).toString()
}

/** The time step the code matches within the window, or null when it matches none. */
export function matchTotpStep(secretBase32: string, code: string, nowMs: number): number | null {
  const delta = totpFor(secretBase32).validate({
    token: code,
    timestamp: nowMs,
    window: TOTP_PARAMETERS.window,
  })
  return delta === null ? null : totpStepAt(nowMs) + delta
}

/** The code for a moment (tests and the development IdP's helpers use it; the broker never needs to). */
export function totpCodeAt(secretBase32: string, nowMs: number): string {
  return totpFor(secretBase32).generate({ timestamp: nowMs })
}

export function createTotpVerifier(random: Random): TotpVerifier {
  return {
    newSecret: () => newTotpSecret((n) => random.bytes(n)),
    uri: totpUri,
    matchStep: matchTotpStep,
  }
}
