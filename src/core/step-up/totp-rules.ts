/**
 * Keygate's TOTP parameters and its replay rule.
 *
 * RFC 6238 §5.2 says a verifier must not accept an OTP a second time once it accepted it. Keygate keeps,
 * per factor, the highest time step it has accepted and accepts only a strictly later one. That refuses
 * the same code again within its validity window and also an *older* code still inside the window
 * (captured earlier, played after a newer one), which a list of "codes used" alone would let through.
 */

/** What every enrolled authenticator app is told (the otpauth:// URI carries these). */
export const TOTP_PARAMETERS = {
  algorithm: 'SHA1',
  digits: 6,
  periodSeconds: 30,
  /** Steps either side of now that still count: one covers a phone clock a little off and a slow typist. */
  window: 1,
  /** 160-bit secrets, RFC 4226's recommendation. */
  secretBytes: 20,
} as const

/** The time step a code belongs to: floor(unix seconds / period). */
export function totpStepAt(nowMs: number, periodSeconds: number = TOTP_PARAMETERS.periodSeconds): number {
  return Math.floor(nowMs / 1000 / periodSeconds)
}

/**
 * @param lastAcceptedStep the factor's highest accepted step, or null when it never accepted a code.
 * @param matchedStep the step the submitted code matched.
 * @returns true when the code must be refused as a replay.
 */
export function isTotpReplay(lastAcceptedStep: number | null, matchedStep: number): boolean {
  return lastAcceptedStep !== null && matchedStep <= lastAcceptedStep
}

/** A code as users type it: six digits, maybe with a space or dash in the middle. Null when malformed. */
export function normalizeTotpCode(input: unknown, digits: number = TOTP_PARAMETERS.digits): string | null {
  if (typeof input !== 'string') return null
  const code = input.replace(/[\s-]/g, '')
  return new RegExp(`^\\d{${digits}}$`).test(code) ? code : null
}
