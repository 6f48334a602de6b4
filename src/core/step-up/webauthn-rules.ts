/**
 * WebAuthn rules that are Keygate's own, beside what @simplewebauthn/server verifies.
 *
 * The signature counter: authenticators that keep one increase it on every use; a counter that does not
 * go up means the credential was cloned (W3C WebAuthn §6.1.1). Passkeys synced between devices report 0
 * always, which is allowed.
 */

export function counterLooksCloned(storedCounter: number, newCounter: number): boolean {
  if (storedCounter === 0 && newCounter === 0) return false
  return newCounter <= storedCounter
}

/** The relying party id WebAuthn binds credentials to: the host of the public URL, without a port. */
export function relyingPartyId(publicUrl: string): string {
  return new URL(publicUrl).hostname
}

/** The origin WebAuthn responses must come from: scheme, host and port of the public URL. */
export function expectedOrigin(publicUrl: string): string {
  return new URL(publicUrl).origin
}
