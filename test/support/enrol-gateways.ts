/**
 * Enrols gateways straight in a store, as an agent's first start would, with keys nobody holds: for
 * harnesses whose broker runs elsewhere (a child process, the Worker). Issuance refuses a lease no granted
 * gateway has enrolled for (NO_GATEWAY_ENROLLED), so tests that only need leases enrol them first.
 */
import { randomBytes } from 'node:crypto'
import { x25519 } from '@noble/curves/ed25519.js'
import { hashSecret } from '../../src/core/broker/gateway-feed.ts'
import { encodeBase64 } from '../../src/core/peers/keys.ts'
import type { AddressPool, Store } from '../../src/core/ports.ts'

export async function enrolGatewaysInStore(store: Store, names: string[], pool: AddressPool): Promise<void> {
  const now = Date.now()
  for (const gatewayName of names) {
    const tokenHash = hashSecret(randomBytes(32).toString('base64url'))
    await store.createEnrollment({ gatewayName, tokenHash, expiresAt: now + 60_000 }, now)
    await store.enrollGateway(
      {
        tokenHash,
        publicKey: encodeBase64(x25519.getPublicKey(x25519.utils.randomSecretKey())),
        credentialHash: hashSecret(randomBytes(32).toString('base64url')),
        pool,
      },
      now,
    )
  }
}
