import { x25519 } from '@noble/curves/ed25519.js'
import { describe, expect, it } from 'vitest'
import { isKeygateError } from '../../../src/core/errors.ts'
import {
  decodeBase64,
  decodeHex,
  decodeWireGuardKey,
  encodeBase64,
  encodeHex,
  generateKeyPair,
  isLowOrderPoint,
  isWireGuardKey,
  parseWireGuardPublicKey,
  publicKeyOf,
} from '../../../src/core/peers/keys.ts'
import { thrownBy } from '../../support/refusal.ts'

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

describe('base64, exactly (RFC 4648 section 10)', () => {
  const ascii = (text: string) => new TextEncoder().encode(text)
  it.each([
    ['', ''],
    ['f', 'Zg=='],
    ['fo', 'Zm8='],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg=='],
    ['fooba', 'Zm9vYmE='],
    ['foobar', 'Zm9vYmFy'],
  ])('%j is %j', (text, base64) => {
    expect(encodeBase64(ascii(text))).toBe(base64)
    expect(decodeBase64(base64)).toEqual(ascii(text))
  })

  it('reads A as 0 and / as 63', () => {
    expect(decodeBase64('AAAA')).toEqual(new Uint8Array([0, 0, 0]))
    expect(decodeBase64('AA==')).toEqual(new Uint8Array([0]))
    expect(decodeBase64('////')).toEqual(new Uint8Array([255, 255, 255]))
  })

  it('uses + and / for 62 and 63', () => {
    expect(encodeBase64(new Uint8Array([0xfb, 0xff, 0xbf]))).toBe('+/+/')
    expect(decodeBase64('+/+/')).toEqual(new Uint8Array([0xfb, 0xff, 0xbf]))
  })

  it.each([
    ['a length not a multiple of 4', 'Zm9'],
    ['missing padding', 'Zg'],
    ['three pad characters', 'Z==='],
    ['padding inside', 'Zg==Zm9v'],
    ['a pad character too early in the last group', 'Z=9v'],
    ['non-zero bits under two pad characters', 'Zh=='],
    ['non-zero bits under one pad character', 'Zm9='],
    ['a character outside the alphabet', 'Zm9-'],
    ['URL-safe characters', 'Zm9_'],
    ['DEL', 'Zm9\u007f'],
    ['the first code point past ASCII', 'Zm9\u0080'],
    ['a letter past ASCII', 'Zm9é'],
    ['whitespace', 'Zm9v\n'],
  ])('refuses %s', (_name, text) => {
    expect(decodeBase64(text)).toBeNull()
  })

  it('writes and reads hex', () => {
    expect(encodeHex(new Uint8Array([0, 15, 16, 171, 255]))).toBe('000f10abff')
    expect(decodeHex('000F10abFF')).toEqual(new Uint8Array([0, 15, 16, 171, 255]))
    expect(decodeHex('')).toEqual(new Uint8Array(0))
    // Long enough that reading the wrong digits would show (a key's 64 hex digits).
    expect(decodeHex(encodeHex(new Uint8Array(32).map((_, i) => 255 - i * 7)))).toEqual(
      new Uint8Array(32).map((_, i) => 255 - i * 7),
    )
    expect(decodeHex('abc')).toBeNull()
    expect(decodeHex('zz')).toBeNull()
    expect(decodeHex('0x10')).toBeNull()
  })
})

describe('WireGuard keys, exactly', () => {
  // RFC 7748 section 6.1: Alice's key pair.
  const ALICE_PRIVATE = encodeBase64(
    decodeHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')!,
  )
  const ALICE_PUBLIC = encodeBase64(
    decodeHex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a')!,
  )

  it('derives the RFC 7748 public key', () => {
    expect(publicKeyOf(ALICE_PRIVATE)).toBe(ALICE_PUBLIC)
    expect(thrownBy(() => publicKeyOf('AAAA'))).toEqual({
      code: 'INVALID_REQUEST',
      message: 'The private key is not 32 bytes of base64',
    })
  })

  it('clamps exactly the three low and the top bit, and sets bit 254, without touching the source', () => {
    const seed = new Uint8Array(32).fill(0xff)
    const pair = generateKeyPair(() => seed)
    const secret = decodeBase64(pair.privateKey)!
    expect(secret).toEqual(new Uint8Array([0xf8, ...new Array(30).fill(0xff), 0x7f]))
    expect(seed).toEqual(new Uint8Array(32).fill(0xff))
    expect(decodeBase64(generateKeyPair(() => new Uint8Array(32)).privateKey)).toEqual(
      new Uint8Array([...new Array(31).fill(0), 0x40]),
    )
    expect(thrownBy(() => generateKeyPair(() => new Uint8Array(31)))).toEqual({
      code: 'INTERNAL',
      message: 'random source returned the wrong length',
    })
  })

  it('reads a key as 32 bytes of canonical base64, or null', () => {
    const bytes = new Uint8Array(32).map((_, i) => i * 7)
    expect(decodeWireGuardKey(encodeBase64(bytes))).toEqual(bytes)
    expect(isWireGuardKey(encodeBase64(bytes))).toBe(true)
    expect(decodeWireGuardKey(42)).toBeNull()
    // Only a primitive string is a key: a String object spelling one is not.
    expect(decodeWireGuardKey(new String(encodeBase64(bytes)))).toBeNull()
    expect(decodeWireGuardKey(`${encodeBase64(bytes)}\n`)).toBeNull()
    expect(decodeWireGuardKey(`x${encodeBase64(bytes)}`)).toBeNull()
    expect(decodeWireGuardKey(encodeBase64(bytes).replace(/.=$/, 'B='))).toBeNull()
    expect(isWireGuardKey(null)).toBe(false)
  })

  it.each([
    [42, 'The public key must be a string of 44 base64 characters'],
    ['AAAA', 'The public key must be 44 base64 characters (32 bytes), got 4 characters'],
    ['A'.repeat(20_000), 'The public key must be 44 base64 characters (32 bytes), got 10000 characters'],
    [`${'A'.repeat(42)}==`, 'The public key is not canonical padded base64 of 32 bytes'],
    [encodeBase64(new Uint8Array(32)), 'The public key is all zeros, which is not a usable key'],
    [
      encodeBase64(le(1n)),
      'The public key is a low-order Curve25519 point, which no real WireGuard key pair produces',
    ],
  ])('refuses %j: %s', (input, message) => {
    expect(thrownBy(() => parseWireGuardPublicKey(input))).toEqual({ code: 'INVALID_PUBLIC_KEY', message })
  })

  it('sees no low-order point in a near miss or a wrong length', () => {
    const nearFirst = ORDER8_A.slice()
    nearFirst[0] = nearFirst[0]! ^ 1
    const nearLast = ORDER8_A.slice()
    nearLast[31] = nearLast[31]! ^ 1
    const nearMiddle = ORDER8_B.slice()
    nearMiddle[30] = nearMiddle[30]! ^ 0x80
    expect(isLowOrderPoint(nearFirst)).toBe(false)
    expect(isLowOrderPoint(nearLast)).toBe(false)
    expect(isLowOrderPoint(nearMiddle)).toBe(false)
    expect(isLowOrderPoint(new Uint8Array(31))).toBe(false)
    expect(isLowOrderPoint(new Uint8Array(33))).toBe(false)
    expect(parseWireGuardPublicKey(ALICE_PUBLIC)).toBe(ALICE_PUBLIC)
  })
})
