/**
 * User codes of the device sign-in (RFC 8628 section 6.1): eight characters from twenty consonants
 * (no vowels, so no words; no 0/O, 1/I/L look-alikes), about 34.5 bits, shown as XXXX-XXXX. A person
 * types them, so input is forgiving: case, dashes and spaces do not matter. Guessing is bounded by the
 * code's short life and by the rate limit on lookups, not by the code alone.
 */
import type { Random } from '../ports.ts'

export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ'
export const USER_CODE_LENGTH = 8

/** A fresh code, uniform over the alphabet (bytes at or above 240 are redrawn: 240 = 12 x 20). */
export function generateUserCode(random: Random): string {
  let code = ''
  while (code.length < USER_CODE_LENGTH) {
    for (const byte of random.bytes(USER_CODE_LENGTH * 2)) {
      if (byte >= 240) continue
      code += USER_CODE_ALPHABET[byte % USER_CODE_ALPHABET.length]
      if (code.length === USER_CODE_LENGTH) break
    }
  }
  return code
}

/** The stored form of what a person typed, or null when it cannot be a user code. */
export function normalizeUserCode(input: unknown): string | null {
  if (typeof input !== 'string' || input.length > 32) return null
  const code = input.toUpperCase().replace(/[\s-]/g, '')
  if (code.length !== USER_CODE_LENGTH) return null
  for (const ch of code) if (!USER_CODE_ALPHABET.includes(ch)) return null
  return code
}

export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`
}
