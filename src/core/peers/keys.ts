/**
 * WireGuard keys: validating the public keys users send, and making key pairs for tests and the gateway agent.
 *
 * A WireGuard key is 32 bytes, written as 44 characters of padded standard base64. A public key is an
 * X25519 u-coordinate. Some u-coordinates are points of small order: a handshake with one of them gives
 * a shared secret that does not depend on anybody's private key, so such a "public key" is never a real
 * device and is refused at the door (INVALID_PUBLIC_KEY), along with anything that is not 32 canonical bytes.
 */
import { x25519 } from '@noble/curves/ed25519.js'
import { KeygateError } from '../errors.ts'
import { decodeBase64, decodeHex, encodeBase64 } from './base64.ts'

export { decodeBase64, decodeHex, encodeBase64, encodeHex } from './base64.ts'

/** A validated public key: 44 characters of canonical base64 of 32 bytes, not a low-order point. */
export type WireGuardPublicKey = string & { readonly __brand: 'WireGuardPublicKey' }

export const WIREGUARD_KEY_LENGTH = 32
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$/

// Curve25519's field prime.
const P = 2n ** 255n - 19n

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!)
  return n
}

function toLittleEndian(n: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 255n)
  return out
}

/**
 * The u-coordinates of Curve25519's points of small order (orders 1, 2, 4 and 8; the cofactor is 8):
 * 0, 1, p - 1 and the two points of order 8 below (given little-endian, as they travel). Multiplying any of
 * them by a clamped X25519 scalar (always a multiple of 8) gives the same result, whatever the scalar.
 * RFC 7748 ignores the top bit and reduces modulo p, so p and p + 1 are second spellings of 0 and 1, and
 * each entry with bit 255 set is one more: all are refused. (Values p + u for the other points do not fit
 * in 255 bits.) The unit tests check every encoding against @noble/curves, which rejects exactly these.
 */
const LOW_ORDER_U: Uint8Array[] = [
  0n,
  1n,
  P - 1n,
  littleEndian(decodeHex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800')!),
  littleEndian(decodeHex('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157')!),
  P,
  P + 1n,
].map(toLittleEndian)

/** True when the 32 bytes are a small-order X25519 point in any of its encodings. Byte compares: no BigInt per key. */
export function isLowOrderPoint(bytes: Uint8Array): boolean {
  if (bytes.length !== WIREGUARD_KEY_LENGTH) return false
  return LOW_ORDER_U.some((u) => {
    for (let i = 0; i < 31; i++) if (bytes[i] !== u[i]) return false
    return (bytes[31]! & 0x7f) === u[31]
  })
}

/** 32 bytes of canonical padded base64, or null. For preshared and private keys, which have no point check. */
export function decodeWireGuardKey(text: unknown): Uint8Array | null {
  if (typeof text !== 'string' || !BASE64_KEY.test(text)) return null
  const bytes = decodeBase64(text)
  return bytes !== null && bytes.length === WIREGUARD_KEY_LENGTH ? bytes : null
}

export function isWireGuardKey(text: unknown): text is string {
  return decodeWireGuardKey(text) !== null
}

/** Validates a public key from outside; throws KeygateError INVALID_PUBLIC_KEY saying what is wrong. */
export function parseWireGuardPublicKey(text: unknown): WireGuardPublicKey {
  if (typeof text !== 'string') {
    throw new KeygateError('INVALID_PUBLIC_KEY', 'The public key must be a string of 44 base64 characters')
  }
  if (text.length !== 44) {
    throw new KeygateError(
      'INVALID_PUBLIC_KEY',
      `The public key must be 44 base64 characters (32 bytes), got ${Math.min(text.length, 10_000)} characters`,
    )
  }
  const bytes = decodeWireGuardKey(text)
  if (bytes === null) {
    throw new KeygateError('INVALID_PUBLIC_KEY', 'The public key is not canonical padded base64 of 32 bytes')
  }
  if (bytes.every((b) => b === 0)) {
    throw new KeygateError('INVALID_PUBLIC_KEY', 'The public key is all zeros, which is not a usable key')
  }
  if (isLowOrderPoint(bytes)) {
    throw new KeygateError(
      'INVALID_PUBLIC_KEY',
      'The public key is a low-order Curve25519 point, which no real WireGuard key pair produces',
    )
  }
  return text as WireGuardPublicKey
}

export interface WireGuardKeyPair {
  privateKey: string
  publicKey: WireGuardPublicKey
}

/**
 * A fresh X25519 key pair from 32 random bytes, clamped as `wg genkey` does so the stored private key is
 * the same one `wg` would print. Randomness is injected: core has no entropy source of its own.
 */
export function generateKeyPair(randomBytes: (length: number) => Uint8Array): WireGuardKeyPair {
  const secret = randomBytes(WIREGUARD_KEY_LENGTH).slice()
  if (secret.length !== WIREGUARD_KEY_LENGTH)
    throw new KeygateError('INTERNAL', 'random source returned the wrong length')
  secret[0] = secret[0]! & 248
  secret[31] = (secret[31]! & 127) | 64
  return {
    privateKey: encodeBase64(secret),
    publicKey: encodeBase64(x25519.getPublicKey(secret)) as WireGuardPublicKey,
  }
}

/** The public key of a base64 private key (what `wg pubkey` prints). */
export function publicKeyOf(privateKey: string): WireGuardPublicKey {
  const secret = decodeWireGuardKey(privateKey)
  if (secret === null) throw new KeygateError('INVALID_REQUEST', 'The private key is not 32 bytes of base64')
  return encodeBase64(x25519.getPublicKey(secret)) as WireGuardPublicKey
}
