// Shared inputs for the storage tests: a signed-in identity and lease issuance requests.
import { auditEvent } from '../../../src/core/audit-event.ts'
import type { AuthFacts, GatewayGrant, Identity } from '../../../src/core/model.ts'
import type { AddressPool, IssueLeaseInput, Store } from '../../../src/core/ports.ts'

export const T0 = Date.UTC(2030, 0, 1, 9, 0, 0)
export const HOUR = 60 * 60 * 1000
export const POOL: AddressPool = { ipv4: '100.96.0.0/16', ipv6: 'fd7a:115c:a1e0::/64' }

export const MFA: AuthFacts = {
  verdict: 'mfa',
  amr: ['pwd', 'otp'],
  acr: null,
  acrs: [],
  authTime: Math.floor(T0 / 1000) - 60,
  stepUp: null,
}

let counter = 0

export async function signIn(store: Store, name = `user${++counter}`, now = T0): Promise<Identity> {
  return store.upsertIdentity(
    {
      idpId: 'okta',
      issuer: 'https://idp.example.com',
      subject: `sub-${name}`,
      email: `${name}@example.com`,
      emailVerified: true,
      name,
      groups: ['engineering'],
    },
    now,
  )
}

/** A distinct, well-formed WireGuard public key for each call (the store does not check keys). */
export function publicKey(): string {
  const bytes = new Uint8Array(32)
  new DataView(bytes.buffer).setUint32(0, ++counter)
  bytes[31] = 7
  return Buffer.from(bytes).toString('base64')
}

export function leaseInput(
  identity: Identity,
  overrides: Partial<IssueLeaseInput> & { gateways?: string[] } = {},
): IssueLeaseInput {
  const { gateways = ['eu-1'], ...rest } = overrides
  const grants: GatewayGrant[] = gateways.map((gateway) => ({ gateway, routes: ['10.10.0.0/16'] }))
  return {
    identityId: identity.id,
    publicKey: publicKey(),
    name: 'laptop',
    pool: POOL,
    grants,
    presharedKeyCiphertext: 'sealed-psk',
    expiresAt: T0 + 8 * HOUR,
    auth: MFA,
    policyHash: 'policy-1',
    matchedGrants: ['grant-0'],
    // Storage tests issue hundreds of leases for one identity; the limit has its own tests.
    maxLiveLeases: 1000,
    audit: {
      type: 'lease.issued',
      identityId: identity.id,
      leaseId: null,
      gatewayId: null,
      actor: identity.email,
      policyHash: 'policy-1',
      data: { name: 'laptop' },
    },
    ...rest,
  }
}

export const revokeAudit = (actor: string) => auditEvent('lease.revoked', { actor })
