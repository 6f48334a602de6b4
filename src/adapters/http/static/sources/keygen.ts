/**
 * The WireGuard key pair, made in the browser. WebCrypto's X25519 where the browser has it (the private
 * key is then exported once, as a JWK, to write it into the config), @noble/curves otherwise. Either way
 * the private key exists only in this page's memory and in the file the user downloads.
 */
import { x25519 } from '@noble/curves/ed25519.js'

export interface KeyPair {
  privateKey: string
  publicKey: string
  method: 'webcrypto' | 'noble'
}

function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary)
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  return Uint8Array.from(binary, (c) => c.charCodeAt(0))
}

/** WireGuard's own key generation clamps the scalar (RFC 7748); doing the same keeps files identical in form. */
function clamp(key: Uint8Array): Uint8Array {
  key[0] = key[0]! & 248
  key[31] = (key[31]! & 127) | 64
  return key
}

async function withWebCrypto(): Promise<KeyPair> {
  const pair = (await crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits'])) as CryptoKeyPair
  const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))
  const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey)
  if (typeof jwk.d !== 'string') throw new Error('X25519 private key did not export')
  const privateKey = clamp(fromBase64Url(jwk.d))
  return { privateKey: toBase64(privateKey), publicKey: toBase64(publicKey), method: 'webcrypto' }
}

function withNoble(): KeyPair {
  const privateKey = clamp(x25519.utils.randomSecretKey())
  return {
    privateKey: toBase64(privateKey),
    publicKey: toBase64(x25519.getPublicKey(privateKey)),
    method: 'noble',
  }
}

export async function generateKeyPair(preferNoble = false): Promise<KeyPair> {
  if (!preferNoble && globalThis.crypto?.subtle !== undefined) {
    try {
      return await withWebCrypto()
    } catch {
      // Browsers before X25519 in WebCrypto (Chrome < 133, older Safari) throw NotSupportedError here.
    }
  }
  return withNoble()
}
