// The client feed must not miss a change that lands between authenticating the credential and
// subscribing to the lease's gateways (a lost wake-up held `keygate up` for the whole wait on PostgreSQL).
import { describe, expect, it } from 'vitest'
import { createLocalChangeNotifier } from '../../../src/adapters/notify/local-change-notifier.ts'
import { hashSecret } from '../../../src/core/broker/gateway-feed.ts'
import { watchClientLease } from '../../../src/core/device/client-lease.ts'
import type { DeviceDeps } from '../../../src/core/device/device-sign-in.ts'
import type { Lease } from '../../../src/core/model.ts'
import { corePolicy } from '../../fixtures/policies.ts'
import { compile } from '../policy/helpers.ts'

const NOW = 1_800_000_000_000
const CREDENTIAL = 'kgc_test-credential'

function lease(): Lease {
  return {
    id: 'lease-1',
    identityId: 'identity-1',
    publicKey: `${'x'.repeat(43)}=`,
    name: 'laptop',
    addressV4: '100.96.0.2',
    addressV6: null,
    grants: [{ gateway: 'gw-b', routes: ['10.20.0.0/16'] }],
    createdAt: NOW - 60_000,
    expiresAt: NOW + 3_600_000,
    revokedAt: null,
    revokedReason: null,
    auth: {
      verdict: 'mfa',
      amr: ['pwd', 'otp'],
      acr: null,
      acrs: [],
      authTime: NOW / 1000 - 60,
      stepUp: null,
    },
    policyHash: 'hash',
    matchedGrants: ['grants[0]'],
    sessionId: null,
  }
}

/** A store whose feed-version read is the gap: the revocation commits and publishes right then. */
function depsWithRevocationInTheGap() {
  let stored = lease()
  const notifier = createLocalChangeNotifier()
  const policy = compile(corePolicy())
  const deps = {
    clock: { now: () => NOW },
    policy: () => policy,
    notifier,
    gateways: { get: async () => null },
    devices: {
      findClientCredential: async (hash: string) =>
        hash === hashSecret(CREDENTIAL) ? { leaseId: 'lease-1', revokedAt: null } : null,
    },
    store: {
      getLease: async () => structuredClone(stored),
      getIdentity: async () => ({
        id: 'identity-1',
        idpId: 'corp',
        issuer: 'https://idp.example',
        subject: 'alice',
        email: 'alice@example.com',
        emailVerified: true,
        groups: ['engineering'],
      }),
      gatewayFeedVersion: async () => {
        stored = { ...stored, revokedAt: NOW, revokedReason: 'revoked by an administrator' }
        notifier.publish(['gw-b'])
        return 7
      },
    },
  }
  return { deps: deps as unknown as DeviceDeps, notifier }
}

describe('watchClientLease', () => {
  it('answers at once with a revocation that landed between authenticating and subscribing', async () => {
    const { deps, notifier } = depsWithRevocationInTheGap()
    // The state the client holds: the lease as active, before the revocation.
    const before = await watchClientLease(
      { ...deps, store: { ...deps.store, gatewayFeedVersion: async () => 7 } },
      CREDENTIAL,
      'lease-1',
      {},
    )
    expect(before.lease.state).toBe('active')

    const answer = watchClientLease(deps, CREDENTIAL, 'lease-1', { since: before.state, wait: '60' })
    // Settled without any further wake-up: nothing else will ever publish, and the wait is 60 s.
    const outcome = await Promise.race([
      answer.then((view) => view.lease.state),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 1_000)),
    ])
    expect(outcome).toBe('revoked')
    notifier.shutdown()
  })
})
