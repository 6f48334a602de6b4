import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryPacketFilter } from '../../../src/adapters/firewall/memory-packet-filter.ts'
import { type GatewayAgent, runGatewayAgent } from '../../../src/adapters/gateway/agent.ts'
import { createMemoryAgentState } from '../../../src/adapters/gateway/agent-state.ts'
import { createBrokerClients } from '../../../src/adapters/gateway/broker-client.ts'
import { createJsonLogger } from '../../../src/adapters/runtime/json-logger.ts'
import { cryptoRandom, systemClock } from '../../../src/adapters/runtime/web-runtime.ts'
import { createMemoryInterface } from '../../../src/adapters/wireguard/memory-interface.ts'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { corePolicy } from '../../fixtures/policies.ts'
import { mintEnrollmentToken } from '../../support/gateway-enrollment.ts'
import type { CookieJar } from '../../support/login-driver.ts'
import { freeLoopbackPort, startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { MFA_SCENARIO } from '../../support/test-idp.ts'

const OUTAGE_MS = 15_000

async function until<T>(what: string, probe: () => Promise<T | null>, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs
  for (;;) {
    const value = await probe()
    if (value !== null) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('an agent after a broker outage', () => {
  let broker: TestBroker
  let agent: GatewayAgent
  let jar: CookieJar
  const wg = createMemoryInterface('wg0')
  const log: string[] = []

  beforeAll(async () => {
    broker = await startTestBroker({ policy: corePolicy(), enrolGateways: false })
    jar = (await broker.login(MFA_SCENARIO)).jar
    const token = await mintEnrollmentToken(broker, 'gw-a')
    const deadPort = await freeLoopbackPort() // nobody listens there: connection refused
    agent = await runGatewayAgent(
      { token, waitSeconds: 25 },
      {
        wg,
        filter: createMemoryPacketFilter(),
        brokers: createBrokerClients(`http://127.0.0.1:${deadPort},${broker.origin}`),
        state: createMemoryAgentState(),
        clock: systemClock,
        random: cryptoRandom,
        logger: createJsonLogger((line) => log.push(line), 'info'),
      },
    )
    await until('the agent connected', async () => (agent.snapshot().connected ? true : null), 20_000)
  }, 120_000)

  afterAll(async () => {
    await agent?.stop()
    await broker?.close()
  })

  it('a new lease reaches the gateway within 2 s of the restarted broker answering /healthz', async () => {
    const port = Number(new URL(broker.origin).port)
    const { db, idp, secret } = broker
    await broker.close({ keepDatabase: true, keepIdp: true })
    const stoppedAt = Date.now()
    // The outage: longer than the old exponential backoff's first steps added up (0.5+1+2+4+8 s).
    await until('the outage to last', async () => (Date.now() > stoppedAt + OUTAGE_MS ? true : null), 30_000)
    const failures = log.filter((l) => l.includes('gateway.sync_failed')).length
    broker = await startTestBroker({
      policy: corePolicy(),
      port,
      database: db,
      idp,
      env: { KEYGATE_SECRET: secret },
    })
    const healthyAt = await until(
      '/healthz',
      async () => ((await fetch(`${broker.origin}/healthz`).catch(() => null))?.ok ? Date.now() : null),
      10_000,
    )
    const publicKey = generateKeyPair((n) => crypto.getRandomValues(new Uint8Array(n))).publicKey
    const issued = await broker.api(jar, '/api/v1/peers', { method: 'POST', json: { publicKey } })
    expect(issued.status).toBe(201)
    const appliedAt = await until(
      'the peer on the gateway',
      async () => (wg.peers.has(publicKey) ? Date.now() : null),
      10_000,
    )
    console.log(
      `gateway recovery: outage ${healthyAt - stoppedAt} ms, ${failures} failed polls during it, lease applied ${appliedAt - healthyAt} ms after /healthz`,
    )
    expect(appliedAt - healthyAt).toBeLessThan(2_000)
    // It kept trying about once a second throughout (not a backoff grown to tens of seconds).
    expect(failures).toBeGreaterThanOrEqual(OUTAGE_MS / 1_000 / 2)
  })
})
