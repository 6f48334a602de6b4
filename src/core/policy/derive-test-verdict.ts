/**
 * The assurance verdict of a synthetic sign-in in an in-file test, when the test does not state one.
 *
 * Real verdicts come from IdP profiles; tests name only `amr`, so they use the `generic` profile's rule:
 * `mfa` when amr contains "mfa" or values of two different factor kinds (RFC 8176: something you know,
 * have, are), otherwise `single`. A test can override it with `"verdict"`.
 */
import type { Verdict } from '../model.ts'

const FACTOR_KIND: Record<string, 'know' | 'have' | 'are'> = {
  pwd: 'know',
  pin: 'know',
  kba: 'know',
  otp: 'have',
  hwk: 'have',
  swk: 'have',
  sms: 'have',
  tel: 'have',
  sc: 'have',
  fpt: 'are',
  face: 'are',
  iris: 'are',
  retina: 'are',
  vbm: 'are',
}

export function deriveTestVerdict(amr: readonly string[]): Verdict {
  if (amr.includes('mfa')) return 'mfa'
  const kinds = new Set(amr.flatMap((value) => FACTOR_KIND[value] ?? []))
  return kinds.size >= 2 ? 'mfa' : 'single'
}
