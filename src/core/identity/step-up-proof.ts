/**
 * What a session's step-up with Keygate's own factor proved, written into `AuthFacts.stepUp`.
 *
 * The value is a short token so the session cookie, the lease row and policy tests keep one string:
 * `METHOD[:AMR][@idp-mfa]`. The method is `totp` or `webauthn`; the amr is the RFC 8176 value the
 * factor proves (TOTP: `otp`; WebAuthn: `hwk` only when its registration carried a trusted attestation
 * from an allowed authenticator, otherwise `swk`, a software or platform key); `@idp-mfa` marks a factor
 * enrolled during a session whose IdP verdict was MFA, the only kind that may stand in for the IdP's MFA
 * where the policy does not opt in (administration). The bare `totp` and `webauthn` of older sessions
 * and leases read as the weakest proof of their method.
 */

export type StepUpMethod = 'totp' | 'webauthn'

export const STEP_UP_METHODS: readonly StepUpMethod[] = ['totp', 'webauthn']

/** RFC 8176 amr values Keygate's own factors can prove. */
export type StepUpAmr = 'otp' | 'hwk' | 'swk'

export interface StepUpProof {
  method: StepUpMethod
  amr: StepUpAmr
  /** The factor was enrolled during an IdP-MFA session. */
  anchored: boolean
}

const ANCHOR = '@idp-mfa'

const DEFAULT_AMR: Record<StepUpMethod, StepUpAmr> = { totp: 'otp', webauthn: 'swk' }
const ALLOWED_AMR: Record<StepUpMethod, readonly StepUpAmr[]> = { totp: ['otp'], webauthn: ['swk', 'hwk'] }

export function formatStepUp(proof: StepUpProof): string {
  const amr = proof.amr === DEFAULT_AMR[proof.method] ? '' : `:${proof.amr}`
  return `${proof.method}${amr}${proof.anchored ? ANCHOR : ''}`
}

/** Null for null and for anything not in the vocabulary: an unknown token proves nothing. */
export function parseStepUp(value: string | null | undefined): StepUpProof | null {
  if (typeof value !== 'string') return null
  const anchored = value.endsWith(ANCHOR)
  const body = anchored ? value.slice(0, -ANCHOR.length) : value
  const [method, amr, ...rest] = body.split(':')
  if (rest.length > 0 || (method !== 'totp' && method !== 'webauthn')) return null
  const proved = (amr ?? DEFAULT_AMR[method]) as StepUpAmr
  if (!ALLOWED_AMR[method].includes(proved)) return null
  return { method, amr: proved, anchored }
}

/** Every token parseStepUp accepts, for error messages and the CLI's help. */
export const STEP_UP_TOKENS: readonly string[] = STEP_UP_METHODS.flatMap((method) =>
  ALLOWED_AMR[method].flatMap((amr) => {
    const token = formatStepUp({ method, amr, anchored: false })
    return [token, `${token}${ANCHOR}`]
  }),
)
