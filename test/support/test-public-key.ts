// Valid WireGuard public keys for unit tests, one per seed (the same seed gives the same key), so a test can
// name a key without a random source and without keeping key material in the repository.
import { generateKeyPair } from '../../src/core/peers/keys.ts'

export function testPublicKey(seed: number): string {
  return generateKeyPair((n) => new Uint8Array(n).fill(seed)).publicKey
}
