/**
 * SCIM deactivation (issue 13): the time from an IdP's SCIM request setting a user `active: false` to every
 * gateway having removed that user's peers, for a user holding 5 live leases each granted 10 gateways
 * (50 peers to drop). Median of 20 users.
 *
 * Set-up, as deployed: the Node server (startNodeServer through the test broker) on PostgreSQL (a fresh
 * database; wake-ups through LISTEN/NOTIFY), its IdP a real oidc-provider (each user signs in through the
 * real redirects, so the identity is one SCIM can name), 10 real agents (runGatewayAgent with the HTTP broker
 * client, long-polling over real sockets) in this process, each applying to an in-memory interface whose
 * writes are timed. The SCIM call is an Okta-shaped PATCH (`replace` of `active`); "sent" is just before the
 * request, "dropped" is when the last of the 10 agents' interface writes removing the user's keys resolved.
 *
 * Run alone: `npm run bench -- scimDeactivation` (prints JSON with the rest of the run's record).
 */
import { randomBytes } from 'node:crypto'
import { createMemoryPacketFilter } from '../src/adapters/firewall/memory-packet-filter.ts'
import { type GatewayAgent, runGatewayAgent } from '../src/adapters/gateway/agent.ts'
import { createMemoryAgentState } from '../src/adapters/gateway/agent-state.ts'
import { createBrokerClient } from '../src/adapters/gateway/broker-client.ts'
import { silentLogger } from '../src/adapters/runtime/json-logger.ts'
import { cryptoRandom, systemClock } from '../src/adapters/runtime/web-runtime.ts'
import { createMemoryInterface } from '../src/adapters/wireguard/memory-interface.ts'
import { generateKeyPair } from '../src/core/peers/keys.ts'
import type { WireGuardInterface } from '../src/core/sync/peer-state.ts'
import { mintEnrollmentToken } from '../test/support/gateway-enrollment.ts'
import { createScimToken, PATCH_SCHEMA, scimClient, USER_SCHEMA } from '../test/support/scim-client.ts'
import { startTestBroker } from '../test/support/test-broker.ts'
import { MFA_SCENARIO } from '../test/support/test-idp.ts'

const GATEWAYS = 10
const LEASES_PER_USER = 5
const USERS = Number(process.env.KEYGATE_BENCH_SCIM_USERS ?? 20)
const gatewayName = (i: number) => `gw-${String(i + 1).padStart(2, '0')}`

function policy(): string {
  const gateways = Array.from(
    { length: GATEWAYS },
    (_, i) =>
      `"${gatewayName(i)}": { "endpoint": "198.18.0.${i + 1}:51820", "routes": { "svc": ["198.19.${i}.0/24"] } }`,
  )
  return `{
  "network": { "ipv4": "198.18.128.0/17" },
  "leases": { "maxPerUser": ${LEASES_PER_USER} },
  "gateways": { ${gateways.join(',\n    ')} },
  "groups": { "group:eng": ["idp:*:engineering"] },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "12h" } },
  "grants": [{ "src": ["group:eng"], "dst": [${gateways.map((_, i) => `"${gatewayName(i)}:*"`).join(', ')}], "assurance": "mfa", "ttl": "8h" }],
}
`
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

async function waitFor(what: string, done: () => boolean, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

export async function benchScimDeactivation(): Promise<unknown> {
  const previousDb = process.env.KEYGATE_TEST_DB
  process.env.KEYGATE_TEST_DB = process.env.KEYGATE_BENCH_SCIM_DB ?? 'postgres'
  const broker = await startTestBroker({ policy: policy() })
  const agents: GatewayAgent[] = []
  // Per gateway: the keys it holds now, and when each key's removal was applied.
  const held = Array.from({ length: GATEWAYS }, () => new Set<string>())
  const removedAt = Array.from({ length: GATEWAYS }, () => new Map<string, number>())
  try {
    for (let i = 0; i < GATEWAYS; i++) {
      const inner = createMemoryInterface(gatewayName(i))
      const wg: WireGuardInterface = {
        ...inner,
        name: inner.name,
        async applyPeers(delta) {
          await inner.applyPeers(delta)
          const at = performance.now()
          for (const peer of delta.set) held[i]!.add(peer.publicKey)
          for (const key of delta.remove) {
            held[i]!.delete(key)
            removedAt[i]!.set(key, at)
          }
        },
      }
      const agent = await runGatewayAgent(
        { token: await mintEnrollmentToken(broker, gatewayName(i)) },
        {
          wg,
          filter: createMemoryPacketFilter(),
          brokers: [createBrokerClient(broker.url)],
          state: createMemoryAgentState(),
          clock: systemClock,
          random: cryptoRandom,
          logger: silentLogger,
        },
      )
      agents.push(agent)
    }
    await waitFor(
      'every agent connected',
      () => agents.every((a) => a.snapshot().connected && a.snapshot().version > 0),
      60_000,
    )
    const scim = scimClient(broker.origin, await createScimToken(broker.origin, broker.dataDir, 'test'))

    const samples: Array<{ totalMs: number; responseMs: number }> = []
    for (let user = 0; user < USERS; user++) {
      const email = `scim-bench-${user}@example.com`
      const { jar } = await broker.login({ ...MFA_SCENARIO, sub: `scim-bench-${user}`, email })
      const keys: string[] = []
      for (let n = 0; n < LEASES_PER_USER; n++) {
        const publicKey = generateKeyPair((len) => new Uint8Array(randomBytes(len))).publicKey
        const issued = await broker.api(jar, '/api/v1/peers', { method: 'POST', json: { publicKey } })
        if (issued.status !== 201) throw new Error(`issuance: HTTP ${issued.status} ${await issued.text()}`)
        keys.push(publicKey)
      }
      await waitFor(
        'every lease on every gateway',
        () => held.every((h) => keys.every((k) => h.has(k))),
        30_000,
      )
      const created = await scim('POST', '/Users', {
        schemas: [USER_SCHEMA],
        userName: email,
        emails: [{ primary: true, value: email, type: 'work' }],
        active: true,
      })
      if (created.status !== 201) throw new Error(`SCIM create: HTTP ${created.status}`)

      const sent = performance.now()
      const deactivated = await scim('PATCH', `/Users/${created.body.id}`, {
        schemas: [PATCH_SCHEMA],
        Operations: [{ op: 'replace', value: { active: false } }],
      })
      const answered = performance.now()
      if (deactivated.status !== 200) throw new Error(`SCIM deactivate: HTTP ${deactivated.status}`)
      await waitFor('every peer dropped', () => held.every((h) => keys.every((k) => !h.has(k))), 30_000)
      const last = Math.max(...removedAt.flatMap((m) => keys.map((k) => m.get(k) ?? Number.NaN)))
      samples.push({ totalMs: last - sent, responseMs: answered - sent })
    }
    const totals = samples.map((s) => s.totalMs)
    return {
      database: process.env.KEYGATE_TEST_DB,
      gateways: GATEWAYS,
      leasesPerUser: LEASES_PER_USER,
      users: USERS,
      medianMs: Number(median(totals).toFixed(1)),
      minMs: Number(Math.min(...totals).toFixed(1)),
      maxMs: Number(Math.max(...totals).toFixed(1)),
      medianScimResponseMs: Number(median(samples.map((s) => s.responseMs)).toFixed(1)),
      samplesMs: totals.map((t) => Number(t.toFixed(1))),
    }
  } finally {
    await Promise.all(agents.map((a) => a.stop().catch(() => {})))
    await broker.close()
    if (previousDb === undefined) delete process.env.KEYGATE_TEST_DB
    else process.env.KEYGATE_TEST_DB = previousDb
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchScimDeactivation(), null, 2))
}
