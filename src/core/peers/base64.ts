/**
 * Standard base64 (RFC 4648 section 4, with padding) and hex, without Buffer or atob, so core runs unchanged
 * on Node, Workers and in the browser.
 *
 * Decoding is strict on purpose: WireGuard keys are compared as strings across the broker, the database
 * and `wg show`, so two spellings of the same bytes (missing padding, stray whitespace, non-zero pad bits)
 * must never both be accepted.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const DECODE = new Int16Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i

export function encodeBase64(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out +=
      ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = bytes[i]! << 16
    out += `${ALPHABET[(n >> 18) & 63]!}${ALPHABET[(n >> 12) & 63]!}==`
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8)
    out += `${ALPHABET[(n >> 18) & 63]!}${ALPHABET[(n >> 12) & 63]!}${ALPHABET[(n >> 6) & 63]!}=`
  }
  return out
}

/** Canonical padded base64 to bytes, or null when the text is not exactly that (so re-encoding gives it back). */
export function decodeBase64(text: string): Uint8Array | null {
  if (text.length % 4 !== 0) return null
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  const out = new Uint8Array((text.length / 4) * 3 - padding)
  let o = 0
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length
    let n = 0
    for (let j = 0; j < 4; j++) {
      const code = text.charCodeAt(i + j)
      if (last && j >= 4 - padding) {
        if (code !== 61) return null
        n <<= 6
        continue
      }
      const value = code < 128 ? DECODE[code]! : -1
      if (value < 0) return null
      n = (n << 6) | value
    }
    const b0 = (n >> 16) & 255
    const b1 = (n >> 8) & 255
    const b2 = n & 255
    out[o++] = b0
    if (!last || padding < 2) out[o++] = b1
    else if (b1 !== 0 || b2 !== 0) return null // non-zero pad bits: a second spelling of the same bytes
    if (!last || padding < 1) out[o++] = b2
    else if (b2 !== 0) return null
  }
  return out
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

export function encodeHex(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!]!
  return out
}

/** Lower- or upper-case hex of an even length to bytes, or null. */
export function decodeHex(text: string): Uint8Array | null {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return null
  const out = new Uint8Array(text.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16)
  return out
}
