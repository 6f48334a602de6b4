import { x25519 } from '@noble/curves/ed25519.js'
import { describe, expect, it } from 'vitest'
import { isKeygateError } from '../../../src/core/errors.ts'
import {
  decodeBase64,
  decodeHex,
  encodeBase64,
  generateKeyPair,
  isLowOrderPoint,
  parseWireGuardPublicKey,
  publicKeyOf,
} from '../../../src/core/peers/keys.ts'

const P = 2n ** 255n - 19n
function le(n: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 255n)
  return out
}
const withTopBit = (bytes: Uint8Array) => {
  const copy = bytes.slice()
  copy[31] = copy[31]! | 0x80
  return copy
}

const ORDER8_A = decodeHex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800')!
const ORDER8_B = decodeHex('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157')!
const CANONICAL_LOW_ORDER: [string, Uint8Array][] = [
  ['0', le(0n)],
  ['1', le(1n)],
  ['order-8 point A', ORDER8_A],
  ['order-8 point B', ORDER8_B],
  ['p - 1', le(P - 1n)],
  ['p (non-canonical 0)', le(P)],
  ['p + 1 (non-canonical 1)', le(P + 1n)],
]
const ALL_LOW_ORDER: [string, Uint8Array][] = [
  ...CANONICAL_LOW_ORDER,
  ...CANONICAL_LOW_ORDER.map(([name, b]): [string, Uint8Array] => [
    `${name} with bit 255 set`,
    withTopBit(b),
  ]),
]

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (error) {
    return isKeygateError(error) ? error.code : 'not a KeygateError'
  }
}

describe('parseWireGuardPublicKey', () => {
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n))

  it('accepts a real public key', () => {
    const { publicKey } = generateKeyPair(random)
    expect(parseWireGuardPublicKey(publicKey)).toBe(publicKey)
  })

  it.each([
    ['not a string', 42],
    ['empty', ''],
    ['too short', 'AAAA'],
    ['43 chars, no padding', `${'B'.repeat(43)}`],
    ['45 chars', `${'B'.repeat(43)}==`],
    ['31 bytes', encodeBase64(new Uint8Array(31).fill(7))],
    ['33 bytes', encodeBase64(new Uint8Array(33).fill(7))],
    ['url-safe alphabet', `${'-_'.repeat(21)}B=`],
    ['whitespace', ` ${encodeBase64(new Uint8Array(32).fill(9)).slice(1)}`],
    [
      'newline',
      `${encodeBase64(new Uint8Array(32).fill(9)).slice(0, 20)}\n${encodeBase64(new Uint8Array(32).fill(9)).slice(21)}`,
    ],
    ['non-zero pad bits', `${encodeBase64(new Uint8Array(32).fill(9)).slice(0, 42)}B=`],
    ['unicode', `${'é'.repeat(43)}=`],
  ])('rejects malformed input: %s', (_name, input) => {
    expect(codeOf(() => parseWireGuardPublicKey(input))).toBe('INVALID_PUBLIC_KEY')
  })

  it('rejects the all-zero key with a message saying so', () => {
    expect(() => parseWireGuardPublicKey(encodeBase64(new Uint8Array(32)))).toThrow(/all zeros/)
  })

  it.each(ALL_LOW_ORDER)('rejects the low-order point %s', (_name, bytes) => {
    const text = encodeBase64(bytes)
    expect(codeOf(() => parseWireGuardPublicKey(text))).toBe('INVALID_PUBLIC_KEY')
  })

  it.each(ALL_LOW_ORDER)('agrees with @noble/curves that %s is low order', (_name, bytes) => {
    // noble refuses a shared secret with a low-order point (the result would be all zero).
    expect(() => x25519.getSharedSecret(x25519.utils.randomSecretKey(), bytes)).toThrow()
    expect(isLowOrderPoint(bytes)).toBe(true)
  })

  it('flags no random real key as low order (cross-checked with noble)', () => {
    for (let i = 0; i < 50; i++) {
      const pub = x25519.getPublicKey(random(32))
      expect(isLowOrderPoint(pub)).toBe(false)
      expect(() => x25519.getSharedSecret(random(32), pub)).not.toThrow()
    }
  })
})

describe('base64 and key pairs', () => {
  it('round-trips every length and matches the platform encoder', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = crypto.getRandomValues(new Uint8Array(n))
      const text = encodeBase64(bytes)
      expect(text).toBe(btoa(String.fromCharCode(...bytes)))
      expect(decodeBase64(text)).toEqual(bytes)
    }
  })

  it('derives the same public key as noble and clamps like wg genkey', () => {
    const seed = new Uint8Array(32).fill(0xff)
    const pair = generateKeyPair(() => seed)
    const secret = decodeBase64(pair.privateKey)!
    expect(secret[0]! & 7).toBe(0)
    expect(secret[31]! & 0xc0).toBe(0x40)
    expect(pair.publicKey).toBe(encodeBase64(x25519.getPublicKey(seed)))
    expect(publicKeyOf(pair.privateKey)).toBe(pair.publicKey)
  })
})
