// The gateway agent against a scripted broker and an in-memory interface: enrollment, start-up reconcile,
// deltas as single writes, local expiry while the broker is down, resume from the cursor, backoff.
import { afterEach, describe, expect, it } from 'vitest'
import { type GatewayAgent, runGatewayAgent } from '../../../src/adapters/gateway/agent.ts'
import { createMemoryAgentState } from '../../../src/adapters/gateway/agent-state.ts'
import { type BrokerClient, BrokerError } from '../../../src/adapters/gateway/broker-client.ts'
import { silentLogger } from '../../../src/adapters/runtime/json-logger.ts'
import { cryptoRandom, systemClock } from '../../../src/adapters/runtime/web-runtime.ts'
import { createMemoryInterface } from '../../../src/adapters/wireguard/memory-interface.ts'
import { isKeygateError } from '../../../src/core/errors.ts'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import type { EnrollRequest, StatusRequest, SyncUpsert } from '../../../src/core/sync/protocol.ts'
import { PROTOCOL_VERSION } from '../../../src/core/sync/protocol.ts'

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n))

function upsert(expiresInMs = 60_000, ip = '100.96.0.2/32'): SyncUpsert {
  return {
    publicKey: generateKeyPair(random).publicKey,
    presharedKey: generateKeyPair(random).privateKey,
    allowedIps: [ip],
    expiresAt: Date.now() + expiresInMs,
  }
}

/** A broker with an in-memory feed: versions 1..n, each a list of changes; long-polls until a change. */
function fakeBroker() {
  const feed: { version: number; upserts: SyncUpsert[]; removals: string[] }[] = []
  const sinceSeen: number[] = []
  const enrolls: EnrollRequest[] = []
  const statuses: StatusRequest[] = []
  let online = true
  let wake: (() => void) | null = null
  const current = () => feed.at(-1)?.version ?? 0

  function answer(since: number) {
    if (since === 0 || since > current()) {
      // Snapshot: the last upsert per key, minus removed keys.
      const live = new Map<string, SyncUpsert>()
      for (const entry of feed) {
        for (const key of entry.removals) live.delete(key)
        for (const u of entry.upserts) live.set(u.publicKey, u)
      }
      return { reset: true, upserts: [...live.values()], removals: [] as string[] }
    }
    const upserts = new Map<string, SyncUpsert>()
    const removals = new Set<string>()
    for (const entry of feed.filter((e) => e.version > since)) {
      for (const key of entry.removals) {
        upserts.delete(key)
        removals.add(key)
      }
      for (const u of entry.upserts) {
        removals.delete(u.publicKey)
        upserts.set(u.publicKey, u)
      }
    }
    return { reset: false, upserts: [...upserts.values()], removals: [...removals] }
  }

  const client: BrokerClient = {
    async enroll(token, request) {
      if (!online) throw new BrokerError('offline', { retryable: true })
      if (token !== 'one-time')
        throw new BrokerError('bad token', {
          retryable: false,
          status: 401,
          code: 'ENROLLMENT_TOKEN_INVALID',
        })
      enrolls.push(request)
      return {
        protocolVersion: PROTOCOL_VERSION,
        gateway: 'eu-1',
        credential: 'cred-1',
        addressV4: '100.96.0.1',
        addressV6: null,
      }
    },
    async sync(credential, since, waitSeconds, signal) {
      sinceSeen.push(since)
      if (!online) throw new BrokerError('offline', { retryable: true })
      if (credential !== 'cred-1') throw new BrokerError('bad credential', { retryable: false, status: 401 })
      if (since === current() && since !== 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(waitSeconds * 1000, 200))
          wake = () => {
            clearTimeout(timer)
            resolve()
          }
          signal?.addEventListener('abort', () => wake?.())
        })
        wake = null
        if (!online) throw new BrokerError('offline', { retryable: true })
      }
      return {
        protocolVersion: PROTOCOL_VERSION,
        version: current(),
        serverTime: Date.now(),
        more: false,
        ...answer(since),
      }
    },
    async status(_credential, request) {
      if (!online) throw new BrokerError('offline', { retryable: true })
      statuses.push(request)
    },
  }
  return {
    client,
    feed,
    sinceSeen,
    enrolls,
    statuses,
    publish(change: { upserts?: SyncUpsert[]; removals?: string[] }) {
      feed.push({ version: current() + 1, upserts: change.upserts ?? [], removals: change.removals ?? [] })
      wake?.()
    },
    setOnline(value: boolean) {
      online = value
      wake?.()
    },
  }
}

async function until(check: () => boolean, withinMs = 3_000): Promise<void> {
  const deadline = Date.now() + withinMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

const agents: GatewayAgent[] = []
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()))
})

function start(
  broker: ReturnType<typeof fakeBroker>,
  wg = createMemoryInterface('wg0'),
  state = createMemoryAgentState(),
  token: string | null = 'one-time',
) {
  return runGatewayAgent(
    {
      token,
      waitSeconds: 1,
      statusIntervalMs: 100_000,
      backoff: { baseMs: 50, maxMs: 400 },
      cursorSaveDelayMs: 10,
    },
    { wg, broker: broker.client, state, clock: systemClock, random: cryptoRandom, logger: silentLogger },
  ).then((agent) => {
    agents.push(agent)
    return { agent, wg, state }
  })
}

describe('gateway agent', () => {
  it('creates a key, enrolls with only the public key, stores the credential, and owns the peer set', async () => {
    const broker = fakeBroker()
    const wanted = upsert()
    broker.publish({ upserts: [wanted] })
    const wg = createMemoryInterface('wg0')
    const stray = generateKeyPair(random).publicKey
    await wg.applyPeers({
      set: [{ publicKey: stray, presharedKey: null, allowedIps: ['10.9.9.9/32'] }],
      remove: [],
    })
    const { state } = await start(broker, wg)

    expect(await wg.getPrivateKey()).not.toBeNull()
    expect(broker.enrolls).toEqual([
      { protocolVersion: PROTOCOL_VERSION, publicKey: await wg.getPublicKey() },
    ])
    expect(JSON.stringify(broker.enrolls)).not.toContain((await wg.getPrivateKey())!)
    expect(state.data.credential).toMatchObject({ credential: 'cred-1', gateway: 'eu-1' })
    expect(wg.peers.has(stray)).toBe(false)
    await until(() => wg.peers.has(wanted.publicKey))
    expect(wg.peers.get(wanted.publicKey)!.presharedKey).toBe(wanted.presharedKey)
  })

  it('refuses a first run without a token, clearly', async () => {
    const error = await start(fakeBroker(), undefined, undefined, null).catch((e: unknown) => e)
    expect(isKeygateError(error, 'ENROLLMENT_TOKEN_INVALID')).toBe(true)
  })

  it('applies each delta as one interface write and never reads the interface to do so', async () => {
    const broker = fakeBroker()
    const { agent, wg } = await start(broker)
    await until(() => agent.snapshot().connected)
    const lists = wg.stats.lists
    const applies = wg.stats.applies
    const batch = Array.from({ length: 500 }, (_, i) => upsert(60_000, `100.96.${i >> 8}.${i & 255}/32`))
    broker.publish({ upserts: batch })
    await until(() => wg.peers.size === 500)
    expect(wg.stats.applies).toBe(applies + 1)
    broker.publish({ removals: batch.slice(0, 100).map((u) => u.publicKey), upserts: [upsert()] })
    await until(() => wg.peers.size === 401)
    expect(wg.stats.applies).toBe(applies + 2)
    expect(wg.stats.lists).toBe(lists)
    await until(() => broker.statuses.some((s) => s.appliedVersion === 2 && s.peerCount === 401))
  })

  it('removes a peer at its expiry on its own timer while the broker is down', async () => {
    const broker = fakeBroker()
    const short = upsert(400)
    const long = upsert(60_000)
    broker.publish({ upserts: [short, long] })
    const { wg } = await start(broker)
    await until(() => wg.peers.has(short.publicKey))
    broker.setOnline(false)
    const expiresAt = short.expiresAt
    await until(() => !wg.peers.has(short.publicKey), 2_000)
    expect(Date.now() - expiresAt).toBeLessThan(300)
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt)
    expect(wg.peers.has(long.publicKey)).toBe(true)
  })

  it('backs off while the broker is down and resumes from its cursor without a reset', async () => {
    const broker = fakeBroker()
    broker.publish({ upserts: [upsert()] })
    const { agent, wg } = await start(broker)
    await until(() => agent.snapshot().version === 1 && agent.snapshot().connected)
    broker.setOnline(false)
    const before = broker.sinceSeen.length
    await new Promise((r) => setTimeout(r, 1_000))
    // base 50 ms doubling to a 400 ms cap (with jitter): a handful of attempts, not a hot loop.
    expect(broker.sinceSeen.length - before).toBeLessThan(12)
    const later = upsert()
    broker.publish({ upserts: [later] })
    broker.setOnline(true)
    await until(() => wg.peers.has(later.publicKey), 3_000)
    expect(broker.sinceSeen.slice(before)).not.toContain(0)
    expect(agent.snapshot().version).toBe(2)
  })

  it('restarts from the state dir: no token, the cursor, and a reconcile of the interface', async () => {
    const broker = fakeBroker()
    const a = upsert()
    broker.publish({ upserts: [a] })
    const first = await start(broker)
    await until(() => first.wg.peers.has(a.publicKey))
    await first.agent.stop()
    agents.splice(agents.indexOf(first.agent), 1)

    // While the agent is down: someone adds a stray by hand; the broker moves on.
    const stray = generateKeyPair(random).publicKey
    await first.wg.applyPeers({
      set: [{ publicKey: stray, presharedKey: null, allowedIps: ['10.1.1.1/32'] }],
      remove: [],
    })
    const b = upsert()
    broker.publish({ upserts: [b] })
    const seen = broker.sinceSeen.length
    const second = await start(broker, first.wg, first.state, null)
    expect(broker.enrolls).toHaveLength(1)
    expect(first.wg.peers.has(stray)).toBe(false)
    await until(() => first.wg.peers.has(b.publicKey))
    expect(broker.sinceSeen[seen]).toBe(1)
    expect(second.agent.snapshot().version).toBe(2)
  })

  it('repairs the interface after a failed write', async () => {
    const broker = fakeBroker()
    const { agent, wg } = await start(broker)
    await until(() => agent.snapshot().connected)
    wg.failNext(1)
    const u = upsert()
    broker.publish({ upserts: [u] })
    await until(() => wg.peers.has(u.publicKey), 3_000)
  })
})
