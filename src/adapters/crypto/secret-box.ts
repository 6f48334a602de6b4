/**
 * Encryption of secrets at rest (preshared keys, TOTP secrets) with KEYGATE_SECRET.
 *
 * Each value is a compact JWE (`alg: dir`, `enc: A256GCM`) from jose, so it opens on Node and on Workers
 * alike. The key is not the secret itself but HKDF-SHA256 of it (WebCrypto), with a purpose-specific
 * `info`: the session cookies derive their own key from the same secret, and the two never coincide. The
 * protected header carries a short key id (a second HKDF output, not the key), so a value sealed under a
 * different KEYGATE_SECRET is reported as exactly that rather than as corruption.
 */
import { base64url, CompactEncrypt, compactDecrypt, decodeProtectedHeader } from 'jose'
import { KeygateError } from '../../core/errors.ts'
import { deriveSubkey } from './derive-subkey.ts'

export interface SecretBox {
  /** Encrypts; the result is ASCII (a compact JWE), safe to store in a text column. */
  seal(plaintext: Uint8Array | string): Promise<string>
  /** Decrypts what `seal` produced. Throws KeygateError when the key differs or the value was altered. */
  open(ciphertext: string): Promise<Uint8Array>
}

const encoder = new TextEncoder()
const SALT = 'keygate/secret-box'

function derive(secret: string, info: string, bits: number): Promise<Uint8Array> {
  return deriveSubkey(secret, SALT, info, bits)
}

export function createSecretBox(secret: string): SecretBox {
  if (secret.length === 0) throw new KeygateError('CONFIG_INVALID', 'KEYGATE_SECRET must not be empty')
  // Derived once, on first use, so construction stays synchronous.
  let keys: Promise<{ key: Uint8Array; kid: string }> | undefined
  const getKeys = () => {
    keys ??= Promise.all([
      derive(secret, 'keygate secret-box v1 A256GCM key', 256),
      derive(secret, 'keygate secret-box v1 key id', 64),
    ]).then(([key, id]) => ({ key, kid: base64url.encode(id) }))
    return keys
  }

  return {
    async seal(plaintext) {
      const { key, kid } = await getKeys()
      const bytes = typeof plaintext === 'string' ? encoder.encode(plaintext) : plaintext
      return new CompactEncrypt(bytes).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid }).encrypt(key)
    },

    async open(ciphertext) {
      const { key, kid } = await getKeys()
      let header: { kid?: unknown }
      try {
        header = decodeProtectedHeader(ciphertext)
      } catch (cause) {
        throw new KeygateError('INTERNAL', 'a secret at rest is not a sealed value', { cause })
      }
      if (header.kid !== kid) {
        throw new KeygateError(
          'INTERNAL',
          'a secret at rest was sealed with a different KEYGATE_SECRET; restore the secret it was sealed with',
        )
      }
      try {
        const { plaintext } = await compactDecrypt(ciphertext, key, {
          keyManagementAlgorithms: ['dir'],
          contentEncryptionAlgorithms: ['A256GCM'],
        })
        return plaintext
      } catch (cause) {
        throw new KeygateError(
          'INTERNAL',
          'a secret at rest failed to decrypt: it was altered or is corrupt',
          {
            cause,
          },
        )
      }
    },
  }
}
