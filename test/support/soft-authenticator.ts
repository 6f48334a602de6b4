// A WebAuthn authenticator made in software, for tests that must show what such a key can and cannot
// prove: ES256 keys from node:crypto, CBOR from @simplewebauthn's helpers, attestation `none` by default
// or `packed` with a certificate chain the test supplies. It answers the broker's options exactly as a
// browser would forward an authenticator's answer (RegistrationResponseJSON / AuthenticationResponseJSON).
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto'
import { isoBase64URL, isoCBOR } from '@simplewebauthn/server/helpers'

const UP = 0x01
const UV = 0x04
const AT = 0x40

export interface PackedAttestation {
  /** DER certificates, leaf first; the leaf's key signs the statement. */
  x5c: Uint8Array[]
  /** The leaf certificate's private key. */
  key: KeyObject
  /** The AAGUID the authenticator data carries (16 bytes). */
  aaguid: Uint8Array
}

export class SoftAuthenticator {
  readonly #key = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  readonly credentialId = new Uint8Array(randomBytes(32))
  #counter = 0

  readonly origin: string
  readonly rpId: string

  constructor(origin: string, rpId: string) {
    this.origin = origin
    this.rpId = rpId
  }

  register(options: { challenge: string }, attestation?: PackedAttestation) {
    const jwk = this.#key.publicKey.export({ format: 'jwk' })
    const cose = new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, isoBase64URL.toBuffer(jwk.x!)],
      [-3, isoBase64URL.toBuffer(jwk.y!)],
    ])
    const aaguid = attestation?.aaguid ?? new Uint8Array(16)
    const authData = concat(
      sha256(this.rpId),
      [UP | UV | AT],
      u32(this.#counter),
      aaguid,
      [this.credentialId.length >> 8, this.credentialId.length & 0xff],
      this.credentialId,
      isoCBOR.encode(cose),
    )
    const clientDataJSON = this.#clientData('webauthn.create', options.challenge)
    const attStmt =
      attestation === undefined
        ? new Map()
        : new Map<string, unknown>([
            ['alg', -7],
            ['sig', sign('sha256', concat(authData, sha256(clientDataJSON)), attestation.key)],
            ['x5c', attestation.x5c],
          ])
    const attestationObject = isoCBOR.encode(
      new Map<string, unknown>([
        ['fmt', attestation === undefined ? 'none' : 'packed'],
        ['attStmt', attStmt],
        ['authData', authData],
      ]) as never,
    )
    const id = isoBase64URL.fromBuffer(this.credentialId)
    return {
      id,
      rawId: id,
      type: 'public-key' as const,
      clientExtensionResults: {},
      response: {
        clientDataJSON: isoBase64URL.fromBuffer(clientDataJSON),
        attestationObject: isoBase64URL.fromBuffer(new Uint8Array(attestationObject)),
        transports: ['usb'],
      },
    }
  }

  authenticate(options: { challenge: string }) {
    this.#counter += 1
    const authData = concat(sha256(this.rpId), [UP | UV], u32(this.#counter))
    const clientDataJSON = this.#clientData('webauthn.get', options.challenge)
    const signature = sign('sha256', concat(authData, sha256(clientDataJSON)), this.#key.privateKey)
    const id = isoBase64URL.fromBuffer(this.credentialId)
    return {
      id,
      rawId: id,
      type: 'public-key' as const,
      clientExtensionResults: {},
      response: {
        clientDataJSON: isoBase64URL.fromBuffer(clientDataJSON),
        authenticatorData: isoBase64URL.fromBuffer(authData),
        signature: isoBase64URL.fromBuffer(new Uint8Array(signature)),
      },
    }
  }

  #clientData(type: string, challenge: string): Uint8Array<ArrayBuffer> {
    return new TextEncoder().encode(
      JSON.stringify({ type, challenge, origin: this.origin, crossOrigin: false }),
    )
  }
}

function sha256(data: string | Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash('sha256').update(data).digest())
}

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
}

function concat(...parts: Array<Uint8Array | number[]>): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
