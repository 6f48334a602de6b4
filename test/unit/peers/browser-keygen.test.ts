// The portal's key generation (src/adapters/http/static/sources/keygen.ts), both paths: WebCrypto where the
// browser has X25519, and the @noble/curves fallback for browsers that do not. Node has both, so each path
// is checked here against core's own X25519 (publicKeyOf) and WireGuard's clamping.
import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../../src/adapters/http/static/sources/keygen.ts'
import { decodeWireGuardKey, isWireGuardKey, publicKeyOf } from '../../../src/core/peers/keys.ts'

function expectWireGuardPair(pair: { privateKey: string; publicKey: string }) {
  expect(isWireGuardKey(pair.privateKey)).toBe(true)
  expect(isWireGuardKey(pair.publicKey)).toBe(true)
  expect(publicKeyOf(pair.privateKey)).toBe(pair.publicKey)
  const scalar = decodeWireGuardKey(pair.privateKey)!
  // Clamped as `wg genkey` does (RFC 7748): low three bits clear, top bit clear, second-highest set.
  expect(scalar[0]! & 7).toBe(0)
  expect(scalar[31]! & 128).toBe(0)
  expect(scalar[31]! & 64).toBe(64)
}

describe('the portal key generation', () => {
  it('falls back to @noble/curves and makes a valid, clamped WireGuard pair', async () => {
    const pair = await generateKeyPair(true)
    expect(pair.method).toBe('noble')
    expectWireGuardPair(pair)
  })

  it('uses WebCrypto where it has X25519, with the same guarantees', async () => {
    const pair = await generateKeyPair()
    expect(pair.method).toBe('webcrypto')
    expectWireGuardPair(pair)
  })

  it('never makes the same private key twice', async () => {
    const keys = new Set<string>()
    for (let i = 0; i < 20; i++) keys.add((await generateKeyPair(i % 2 === 0)).privateKey)
    expect(keys.size).toBe(20)
  })
})
