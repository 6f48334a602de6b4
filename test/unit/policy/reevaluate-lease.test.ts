// After a swap, a live lease is kept, shortened, re-routed or revoked; never lengthened, never widened.
import { describe, expect, it } from 'vitest'
import type { Lease } from '../../../src/core/model.ts'
import { reevaluateLease } from '../../../src/core/policy/index.ts'
import { compile, NOW, subject } from './helpers.ts'

const H = 3_600_000

function policyWith(
  grants: string,
  assurance = '"mfa": { "mfa": true, "maxAuthAge": "12h" }',
): ReturnType<typeof compile> {
  return compile(`{
  "gateways": {
    "eu-1": { "endpoint": "eu-1.example:51820", "routes": { "prod": ["10.10.0.0/16"], "office": ["192.168.10.0/24"] } },
    "us-1": { "endpoint": "us-1.example:51820", "routes": { "prod": ["10.20.0.0/16"] } },
  },
  "assurance": { ${assurance} },
  "grants": [ ${grants} ],
}`)
}

const alice = subject('alice@example.com', { authTime: Math.floor((NOW - 3 * H) / 1000) })

function lease(overrides: Partial<Lease> = {}): Lease {
  return {
    id: 'l1',
    identityId: 'i1',
    publicKey: 'k',
    name: null,
    addressV4: '100.96.0.2',
    addressV6: null,
    grants: [{ gateway: 'eu-1', routes: ['10.10.0.0/16', '192.168.10.0/24'] }],
    createdAt: NOW - 2 * H,
    expiresAt: NOW + 6 * H,
    revokedAt: null,
    revokedReason: null,
    auth: alice.auth,
    policyHash: 'old',
    matchedGrants: ['grants[0]'],
    sessionId: null,
    ...overrides,
  }
}

describe('reevaluateLease', () => {
  it('keeps a lease the new policy allows as it is', () => {
    const policy = policyWith(
      '{ "src": ["user:alice@example.com"], "dst": ["eu-1:*"], "assurance": "mfa", "ttl": "8h" }',
    )
    expect(reevaluateLease(policy, lease(), alice, NOW)).toEqual({ action: 'keep' })
  })

  it('revokes a lease the new policy no longer allows, with the denial reasons', () => {
    const policy = policyWith('{ "src": ["user:bob@example.com"], "dst": ["eu-1:*"] }')
    const result = reevaluateLease(policy, lease(), alice, NOW)
    expect(result).toMatchObject({ action: 'revoke', reasons: [{ code: 'NO_MATCHING_GRANT' }] })
  })

  it('shortens to the new ttl counted from issuance, never from now', () => {
    const policy = policyWith(
      '{ "src": ["user:alice@example.com"], "dst": ["eu-1:*"], "assurance": "mfa", "ttl": "3h" }',
    )
    const result = reevaluateLease(policy, lease(), alice, NOW)
    expect(result).toMatchObject({ action: 'update', expiresAt: NOW + H, grants: lease().grants })
    if (result.action === 'update') expect(result.reasons.map((r) => r.code)).toEqual(['LEASE_SHORTENED'])
  })

  it('shortens to what a new maxAuthAge leaves since auth_time', () => {
    const policy = policyWith(
      '{ "src": ["user:alice@example.com"], "dst": ["eu-1:*"], "assurance": "mfa", "ttl": "8h" }',
      '"mfa": { "mfa": true, "maxAuthAge": "4h" }',
    )
    expect(reevaluateLease(policy, lease(), alice, NOW)).toMatchObject({
      action: 'update',
      expiresAt: NOW + H,
    })
  })

  it('revokes when the new limits have already passed', () => {
    const policy = policyWith(
      '{ "src": ["user:alice@example.com"], "dst": ["eu-1:*"], "assurance": "mfa", "ttl": "1h" }',
    )
    expect(reevaluateLease(policy, lease(), alice, NOW)).toMatchObject({
      action: 'revoke',
      reasons: [{ code: 'LEASE_TTL_EXCEEDED' }],
    })
  })

  it('never lengthens a lease', () => {
    const policy = policyWith('{ "src": ["user:alice@example.com"], "dst": ["eu-1:*"], "ttl": "30d" }')
    expect(reevaluateLease(policy, lease({ expiresAt: NOW + H }), alice, NOW)).toEqual({ action: 'keep' })
  })

  it('updates routes on the lease gateways, and never adds a gateway', () => {
    const policy = policyWith(
      '{ "src": ["user:alice@example.com"], "dst": ["eu-1:prod", "us-1:prod"], "ttl": "8h" }',
    )
    const result = reevaluateLease(policy, lease(), alice, NOW)
    expect(result).toMatchObject({
      action: 'update',
      expiresAt: NOW + 6 * H,
      grants: [{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }],
      reasons: [{ code: 'LEASE_ROUTES_CHANGED' }],
    })
  })

  it('revokes when the new policy denies the user by rule or for assurance', () => {
    const denied = compile(`{
  "gateways": { "eu-1": { "endpoint": "eu-1.example:51820", "routes": { "prod": ["10.10.0.0/16"] } } },
  "grants": [ { "src": ["user:alice@example.com"], "dst": ["eu-1:*"] } ],
  "deny": [ { "src": ["user:alice@example.com"] } ],
}`)
    expect(reevaluateLease(denied, lease(), alice, NOW)).toMatchObject({
      action: 'revoke',
      reasons: [{ code: 'DENIED_BY_RULE' }],
    })
    const stronger = policyWith(
      '{ "src": ["user:alice@example.com"], "dst": ["eu-1:*"], "assurance": "hw" }',
      '"hw": { "amrAny": ["hwk"] }',
    )
    expect(reevaluateLease(stronger, lease(), alice, NOW)).toMatchObject({
      action: 'revoke',
      reasons: [{ code: 'AMR_NOT_MET' }],
    })
  })

  it('leaves ended leases alone', () => {
    const policy = policyWith('{ "src": ["user:bob@example.com"], "dst": ["eu-1:*"] }')
    expect(reevaluateLease(policy, lease({ revokedAt: NOW - 1 }), alice, NOW)).toEqual({ action: 'keep' })
    expect(reevaluateLease(policy, lease({ expiresAt: NOW }), alice, NOW)).toEqual({ action: 'keep' })
  })

  it('keeps a lease whose routes and gateways were stored in another order', () => {
    const policy = policyWith(
      '{ "src": ["user:alice@example.com"], "dst": ["eu-1:*", "us-1:prod"], "assurance": "mfa", "ttl": "8h" }',
    )
    const reordered = lease({
      grants: [
        { gateway: 'us-1', routes: ['10.20.0.0/16'] },
        { gateway: 'eu-1', routes: ['192.168.10.0/24', '10.10.0.0/16'] },
      ],
    })
    expect(reevaluateLease(policy, reordered, alice, NOW)).toEqual({ action: 'keep' })
  })

  it('revokes at the very instant the new limit is reached', () => {
    const policy = policyWith(
      '{ "src": ["user:alice@example.com"], "dst": ["eu-1:*"], "assurance": "mfa", "ttl": "2h" }',
    )
    // Issued 2h ago with a 2h ttl: allowed until exactly now, which is already too late.
    expect(reevaluateLease(policy, lease(), alice, NOW)).toMatchObject({
      action: 'revoke',
      reasons: [{ code: 'LEASE_TTL_EXCEEDED' }],
    })
  })

  it('leaves a lease with no gateways alone', () => {
    const policy = policyWith('{ "src": ["user:bob@example.com"], "dst": ["eu-1:*"] }')
    expect(reevaluateLease(policy, lease({ grants: [] }), alice, NOW)).toEqual({ action: 'keep' })
  })

  it('says in its reasons what changed, from what to what, and under which grant', () => {
    const policy = policyWith(
      '{ "src": ["user:alice@example.com"], "dst": ["eu-1:prod"], "assurance": "mfa", "ttl": "3h" }',
    )
    const result = reevaluateLease(policy, lease(), alice, NOW)
    const hash = policy.hash.slice(0, 12)
    expect(result).toMatchObject({
      action: 'update',
      reasons: [
        {
          code: 'LEASE_SHORTENED',
          message: `policy ${hash} moves the expiry from ${new Date(NOW + 6 * H).toISOString()} to ${new Date(NOW + H).toISOString()}`,
          source: 'grants[0]',
        },
        {
          code: 'LEASE_ROUTES_CHANGED',
          message: `policy ${hash} changes the routes from eu-1 [10.10.0.0/16, 192.168.10.0/24] to eu-1 [10.10.0.0/16]`,
          source: 'grants[0]',
        },
      ],
    })
    const gone = reevaluateLease(
      policyWith('{ "src": ["user:alice@example.com"], "dst": ["eu-1:*"], "assurance": "mfa", "ttl": "1h" }'),
      lease(),
      alice,
      NOW,
    )
    expect(gone).toMatchObject({
      action: 'revoke',
      reasons: [
        {
          message: expect.stringContaining(`only until ${new Date(NOW - H).toISOString()}, which has passed`),
        },
      ],
    })
  })
})
