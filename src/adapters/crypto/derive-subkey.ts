/**
 * Purpose-bound keys from KEYGATE_SECRET: HKDF-SHA256 through WebCrypto, so it runs on Node and Workers.
 * Each user (secrets at rest, cookies) names its own salt and `info`, so no two purposes share a key.
 */
const encoder = new TextEncoder()

export async function deriveSubkey(
  secret: string,
  salt: string,
  info: string,
  bits: number,
): Promise<Uint8Array> {
  const material = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, ['deriveBits'])
  const derived = await crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: encoder.encode(salt), info: encoder.encode(info) },
    material,
    bits,
  )
  return new Uint8Array(derived)
}
