// A running terminal client learns of a new gateway or route on its lease at once (issue 12): its lease
// watch (`GET /api/v1/peers/:id/watch`) waits on the lease's gateways, and must be woken both when one
// of them enrolls (it was granted, but had no peer until then) and when a policy reload re-routes the
// lease. (A reload re-judges a live lease over the gateways it holds; a gateway the policy newly grants
// joins at the next issuance, so "adds a gateway" reaches a live lease through enrollment, as below.) Each watch asks for the longest wait (60 s); one that only answered at its timeout would
// fail the 30 s bound below, which is there to tell a wake-up from a timeout, not to measure latency.
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDeviceStore } from '../../../src/adapters/storage/device-store.ts'
import { createPollingNotifier } from '../../../src/adapters/workers/polling-notifier.ts'
import { MAX_WATCH_SECONDS, watchClientLease } from '../../../src/core/device/client-lease.ts'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { decideDevice } from '../../support/device-approval.ts'
import { enrollGateway } from '../../support/gateway-enrollment.ts'
import type { CookieJar } from '../../support/login-driver.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { MFA_SCENARIO } from '../../support/test-idp.ts'

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely; each test asserts its fields
type Json = Record<string, any>

const GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
const WOKEN_WITHIN_MS = 30_000
const newKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n)))

function policy(engineering: string[], gwARoutes: string[] = ['10.10.0.0/16']): string {
  return `{
  "network": { "ipv4": "100.96.0.0/20" },
  "gateways": {
    "gw-a": { "endpoint": "198.18.0.1:51820", "routes": { "prod": ${JSON.stringify(gwARoutes)} } },
    "gw-b": { "endpoint": "198.18.0.2:51820", "routes": { "prod": ["10.20.0.0/16"] } },
  },
  "groups": { "group:eng": ["idp:*:engineering"] },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "1h" } },
  "grants": [{ "src": ["group:eng"], "dst": ${JSON.stringify(engineering)}, "assurance": "mfa", "ttl": "8h" }],
}
`
}

/** `keygate up`'s sign-in: authorize, approve as alice, collect the lease and its credential. */
async function signInDeviceAs(
  broker: TestBroker,
  alice: CookieJar,
  name: string,
): Promise<{ leaseId: string; credential: string }> {
  const started = await fetch(`${broker.origin}/api/v1/device/authorize`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ public_key: newKey().publicKey, name }),
  })
  const { device_code, user_code } = (await started.json()) as Json
  expect((await decideDevice(broker.origin, alice, user_code, 'approve')).status).toBe(200)
  for (let i = 0; i < 20; i++) {
    const answer = await fetch(`${broker.origin}/api/v1/device/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: GRANT, device_code, client_id: 'keygate' }),
    })
    const body = (await answer.json()) as Json
    if (answer.status === 200) return { leaseId: body.lease.id, credential: body.access_token }
    expect(body.error).toBe('authorization_pending')
    await new Promise((r) => setTimeout(r, 1_100))
  }
  throw new Error('never approved')
}

describe('the client lease watch wakes when its lease gains a gateway', () => {
  let broker: TestBroker
  let alice: CookieJar

  beforeAll(async () => {
    broker = await startTestBroker({ policy: policy(['gw-a:*', 'gw-b:*']), enrolGateways: false })
    alice = (await broker.login(MFA_SCENARIO)).jar
    await enroll('gw-a')
  }, 180_000)
  afterAll(async () => {
    await broker?.close()
  })

  async function enroll(gateway: string): Promise<void> {
    await enrollGateway(broker, gateway)
  }

  const signInDevice = (name: string) => signInDeviceAs(broker, alice, name)

  const watch = (leaseId: string, credential: string, since: string, wait: number) =>
    fetch(`${broker.origin}/api/v1/peers/${leaseId}/watch?since=${since}&wait=${wait}`, {
      headers: { authorization: `Bearer ${credential}` },
    }).then(async (response) => {
      expect(response.status).toBe(200)
      return (await response.json()) as Json
    })

  /** The watch's answer, or a failure naming the cause when it was not woken within the bound. */
  async function woken(pending: Promise<Json>): Promise<Json> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the watch was not woken within ${WOKEN_WITHIN_MS} ms`)),
        WOKEN_WITHIN_MS,
      )
    })
    try {
      return await Promise.race([pending, late])
    } finally {
      clearTimeout(timer)
    }
  }

  const peerNames = (view: Json) => view.tunnel.peers.map((p: Json) => p.gateway).sort()

  it(
    'enrolling a gateway the lease was granted wakes the watch with its new peer',
    async () => {
      const { leaseId, credential } = await signInDevice('enrol laptop')
      const before = await watch(leaseId, credential, 'none', 0)
      expect(peerNames(before)).toEqual(['gw-a'])
      expect(before.tunnel.pending).toEqual(['gw-b'])

      const waiting = watch(leaseId, credential, before.state, MAX_WATCH_SECONDS)
      await new Promise((r) => setTimeout(r, 300))
      await enroll('gw-b')
      const after = await woken(waiting)
      expect(after.state).not.toBe(before.state)
      expect(peerNames(after)).toEqual(['gw-a', 'gw-b'])
      expect(after.tunnel.pending).toEqual([])
    },
    WOKEN_WITHIN_MS + 60_000,
  )

  it(
    'a policy reload that re-routes the lease wakes the watch with the new routes',
    async () => {
      const { leaseId, credential } = await signInDevice('reroute laptop')
      const before = await watch(leaseId, credential, 'none', 0)
      expect(before.tunnel.peers.find((p: Json) => p.gateway === 'gw-a').allowedIps).toContain('10.10.0.0/16')

      const waiting = watch(leaseId, credential, before.state, MAX_WATCH_SECONDS)
      await new Promise((r) => setTimeout(r, 300))
      await writeFile(broker.policyPath, policy(['gw-a:*', 'gw-b:*'], ['10.10.0.0/16', '10.11.0.0/16']))
      const reloaded = await broker.server.policySource.reload()
      expect(reloaded.result).toBe('swapped')
      const after = await woken(waiting)
      expect(after.state).not.toBe(before.state)
      expect(after.tunnel.peers.find((p: Json) => p.gateway === 'gw-a').allowedIps).toEqual(
        expect.arrayContaining(['10.10.0.0/16', '10.11.0.0/16']),
      )
      expect(peerNames(after)).toEqual(['gw-a', 'gw-b'])
    },
    WOKEN_WITHIN_MS + 60_000,
  )
})

// On Workers nothing carries a wake-up between requests: the watch re-reads its gateways' feed versions
// (polling-notifier.ts). Enrolling a gateway whose feed already held the lease (written at issuance, before
// the gateway existed) must move that version, or the client hears of its new peer only at its next
// poll. Here the watch runs with that notifier; the broker's own in-process wake-up never reaches it.
describe('a watch that polls feed versions, as on Workers, learns of a newly enrolled gateway promptly', () => {
  const POLL_MS = 100
  const BOUND_MS = 10_000
  let broker: TestBroker
  let alice: CookieJar

  beforeAll(async () => {
    broker = await startTestBroker({ policy: policy(['gw-a:*', 'gw-b:*']), enrolGateways: false })
    alice = (await broker.login(MFA_SCENARIO)).jar
    await enrollGateway(broker, 'gw-a')
  }, 180_000)
  afterAll(async () => {
    await broker?.close()
  })

  it(
    'answers well before its wait runs out',
    async () => {
      const { leaseId, credential } = await signInDeviceAs(broker, alice, 'polling laptop')
      let polling: () => void = () => {}
      const firstPoll = new Promise<void>((resolve) => {
        polling = resolve
      })
      const store = broker.server.broker.store
      const deps = {
        ...broker.server.broker,
        devices: createDeviceStore(broker.db.database.db),
        notifier: createPollingNotifier({
          version: (gateway) => {
            polling()
            return store.gatewayFeedVersion(gateway)
          },
          intervalMs: POLL_MS,
        }),
      }
      const before = await watchClientLease(deps, credential, leaseId, {})
      expect(before.tunnel.pending).toEqual(['gw-b'])

      const started = Date.now()
      const waiting = watchClientLease(deps, credential, leaseId, {
        since: before.state,
        wait: String(MAX_WATCH_SECONDS),
      })
      // The watch re-reads versions only once it is waiting: from then on, the enrollment is news to it.
      await firstPoll
      await enrollGateway(broker, 'gw-b')
      const after = await waiting
      expect(Date.now() - started).toBeLessThan(BOUND_MS)
      expect(after.state).not.toBe(before.state)
      expect(after.tunnel.peers.map((p) => p.gateway).sort()).toEqual(['gw-a', 'gw-b'])
      expect(after.tunnel.pending).toEqual([])
    },
    MAX_WATCH_SECONDS * 1000 + 60_000,
  )
})
