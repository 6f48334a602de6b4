/**
 * Encryption of secrets at rest (preshared keys, TOTP secrets) with KEYGATE_SECRET.
 *
 * Each value is a compact JWE (`alg: dir`, `enc: A256GCM`) from jose, so it opens on Node and on Workers
 * alike. The key is not the secret itself but HKDF-SHA256 of it (WebCrypto), with a purpose-specific
 * `info`: the session cookies derive their own key from the same secret, and the two never coincide. The
 * protected header carries a short key id (a second HKDF output, not the key): it picks the secret of
 * the keyring that opens the value (KEYGATE_SECRET, or one of KEYGATE_SECRET_PREVIOUS during a rotation),
 * and a value sealed under an unknown secret is reported as exactly that rather than as corruption.
 */
import { base64url, CompactEncrypt, compactDecrypt, decodeProtectedHeader } from 'jose'
import { KeygateError } from '../../core/errors.ts'
import { deriveSubkey } from './derive-subkey.ts'

export interface SecretBox {
  /** Encrypts with the current secret; the result is ASCII (a compact JWE), safe to store in a text column. */
  seal(plaintext: Uint8Array | string): Promise<string>
  /** Decrypts what `seal` produced under the current or a previous secret, chosen by the key id in the
   *  value. Throws KeygateError INTERNAL when no secret of the keyring sealed it or the value was altered. */
  open(ciphertext: string): Promise<Uint8Array>
  /** The value sealed again under the current secret when a previous one sealed it; null when it is current. */
  reseal(ciphertext: string): Promise<string | null>
}

const encoder = new TextEncoder()
const SALT = 'keygate/secret-box'

function derive(secret: string, info: string, bits: number): Promise<Uint8Array> {
  return deriveSubkey(secret, SALT, info, bits)
}

interface RingKey {
  key: Uint8Array
  kid: string
}

async function ringKey(secret: string): Promise<RingKey> {
  const [key, id] = await Promise.all([
    derive(secret, 'keygate secret-box v1 A256GCM key', 256),
    derive(secret, 'keygate secret-box v1 key id', 64),
  ])
  return { key, kid: base64url.encode(id) }
}

/**
 * A keyring: `secret` seals, and it or any of `previous` (KEYGATE_SECRET_PREVIOUS, during a rotation)
 * opens. The key id in each value's header names the secret that sealed it, so opening never tries keys.
 */
export function createSecretBox(secret: string, previous: readonly string[] = []): SecretBox {
  if (secret.length === 0) throw new KeygateError('CONFIG_INVALID', 'KEYGATE_SECRET must not be empty')
  // Derived once, on first use, so construction stays synchronous.
  let ring: Promise<{ current: RingKey; byKid: Map<string, RingKey> }> | undefined
  const getRing = () => {
    ring ??= Promise.all([secret, ...previous.filter((p) => p.length > 0)].map(ringKey)).then((keys) => ({
      current: keys[0]!,
      byKid: new Map(keys.map((k) => [k.kid, k])),
    }))
    return ring
  }

  async function keyOf(ciphertext: string): Promise<{ key: RingKey; current: boolean }> {
    const { current, byKid } = await getRing()
    let header: { kid?: unknown }
    try {
      header = decodeProtectedHeader(ciphertext)
    } catch (cause) {
      throw new KeygateError('INTERNAL', 'a secret at rest is not a sealed value', { cause })
    }
    const key = typeof header.kid === 'string' ? byKid.get(header.kid) : undefined
    if (key === undefined) {
      throw new KeygateError(
        'INTERNAL',
        'a secret at rest was sealed with a KEYGATE_SECRET that is neither the current one nor in KEYGATE_SECRET_PREVIOUS; add the old secret to KEYGATE_SECRET_PREVIOUS (see docs/secret-rotation.md)',
      )
    }
    return { key, current: key === current }
  }

  async function decrypt(ciphertext: string, key: RingKey): Promise<Uint8Array> {
    try {
      const { plaintext } = await compactDecrypt(ciphertext, key.key, {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
      })
      return plaintext
    } catch (cause) {
      throw new KeygateError('INTERNAL', 'a secret at rest failed to decrypt: it was altered or is corrupt', {
        cause,
      })
    }
  }

  async function seal(plaintext: Uint8Array | string): Promise<string> {
    const { current } = await getRing()
    const bytes = typeof plaintext === 'string' ? encoder.encode(plaintext) : plaintext
    return new CompactEncrypt(bytes)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: current.kid })
      .encrypt(current.key)
  }

  return {
    seal,
    async open(ciphertext) {
      const { key } = await keyOf(ciphertext)
      return decrypt(ciphertext, key)
    },
    async reseal(ciphertext) {
      const { key, current } = await keyOf(ciphertext)
      if (current) return null
      return seal(await decrypt(ciphertext, key))
    },
  }
}
