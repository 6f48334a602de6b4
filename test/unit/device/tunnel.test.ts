// What a client is told to bring its tunnel up (tunnel.ts): its addresses, the policy's DNS, one peer per
// granted gateway that is declared and enrolled (routes, then the gateway's overlay addresses), and the
// granted gateways still waiting to enrol.
import { describe, expect, it } from 'vitest'
import { describeTunnel } from '../../../src/core/device/tunnel.ts'
import type { Gateway, Lease } from '../../../src/core/model.ts'
import { BROKER_TEST_POLICY, compileTestPolicy } from '../../support/fake-broker-deps.ts'
import { testPublicKey } from '../../support/test-public-key.ts'

const policy = compileTestPolicy(BROKER_TEST_POLICY)

function directory(gateways: Partial<Gateway>[]) {
  return { get: async (name: string) => (gateways.find((g) => g.name === name) ?? null) as Gateway | null }
}

const lease = (extra: Partial<Lease>) =>
  ({ addressV4: '100.96.0.7', addressV6: null, grants: [], ...extra }) as unknown as Lease

describe('describeTunnel', () => {
  it('lists a peer per enrolled gateway with its overlay addresses, and the others as pending', async () => {
    const tunnel = await describeTunnel(
      directory([
        { name: 'eu-1', publicKey: testPublicKey(101), addressV4: null, addressV6: 'fd7a:115c:a1e0::ff01' },
        { name: 'us-1', publicKey: null },
        { name: 'gone', publicKey: testPublicKey(103), addressV4: '100.96.255.3', addressV6: null },
      ]),
      policy,
      lease({
        addressV6: 'fd7a:115c:a1e0::7',
        grants: [
          { gateway: 'eu-1', routes: ['10.10.0.0/16', '192.168.10.0/24'] },
          { gateway: 'us-1', routes: ['10.20.0.0/16'] },
          { gateway: 'gone', routes: ['10.30.0.0/16'] },
          { gateway: 'ap-1', routes: ['10.40.0.0/16'] },
        ],
      }),
    )
    expect(tunnel).toEqual({
      addresses: ['100.96.0.7/32', 'fd7a:115c:a1e0::7/128'],
      dns: ['10.10.0.53'],
      peers: [
        {
          gateway: 'eu-1',
          publicKey: testPublicKey(101),
          endpoint: 'eu-1.vpn.example:51820',
          allowedIps: ['10.10.0.0/16', '192.168.10.0/24', 'fd7a:115c:a1e0::ff01/128'],
        },
      ],
      // us-1 has not enrolled; "gone" is no longer declared in the policy; ap-1 was never known.
      pending: ['us-1', 'gone', 'ap-1'],
    })
  })

  it('a lease without IPv6 has one address; a gateway without IPv6 adds its IPv4 only', async () => {
    const tunnel = await describeTunnel(
      directory([
        { name: 'eu-1', publicKey: testPublicKey(101), addressV4: '100.96.255.1', addressV6: null },
      ]),
      policy,
      lease({ grants: [{ gateway: 'eu-1', routes: ['10.10.0.0/16'] }] }),
    )
    expect([tunnel.addresses, tunnel.peers[0]?.allowedIps, tunnel.pending]).toEqual([
      ['100.96.0.7/32'],
      ['10.10.0.0/16', '100.96.255.1/32'],
      [],
    ])
  })
})
