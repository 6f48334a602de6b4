// The gateway agent against a scripted broker and an in-memory interface: enrollment, start-up reconcile,
// deltas as single writes, resume from the cursor, write order, repair. The timing rules (backoff, expiry,
// failover, debounce) are the state machine's and are tested on its own in gateway-agent-state.test.ts.
import { afterEach, describe, expect, it } from 'vitest'
import {
  createMemoryPacketFilter,
  type MemoryPacketFilter,
} from '../../../src/adapters/firewall/memory-packet-filter.ts'
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
const CREDENTIAL = 'kgc_test-credential-0123456789'
const NETWORK = { ipv4: '100.96.0.0/16', ipv6: null }

function upsert(expiresInMs = 60_000, ip = '100.96.0.2/32', routes = ['10.61.0.0/24']): SyncUpsert {
  return {
    publicKey: generateKeyPair(random).publicKey,
    presharedKey: generateKeyPair(random).privateKey,
    allowedIps: [ip],
    routes,
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
        credential: CREDENTIAL,
        addressV4: '100.96.0.1',
        addressV6: null,
      }
    },
    async sync(credential, since, waitSeconds, signal) {
      sinceSeen.push(since)
      if (!online) throw new BrokerError('offline', { retryable: true })
      if (credential !== CREDENTIAL)
        throw new BrokerError('bad credential', { retryable: false, status: 401 })
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
        network: NETWORK,
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
  filter: MemoryPacketFilter = createMemoryPacketFilter(),
) {
  return runGatewayAgent(
    {
      token,
      waitSeconds: 1,
      statusIntervalMs: 100_000,
      backoff: { baseMs: 50, maxMs: 400 },
      cursorSaveDelayMs: 10,
    },
    {
      wg,
      filter,
      brokers: [broker.client],
      state,
      clock: systemClock,
      random: cryptoRandom,
      logger: silentLogger,
    },
  ).then((agent) => {
    agents.push(agent)
    return { agent, wg, state, filter }
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
    expect(state.data.credential).toMatchObject({ credential: CREDENTIAL, gateway: 'eu-1' })
    expect(wg.peers.has(stray)).toBe(false)
    await until(() => wg.peers.has(wanted.publicKey))
    expect(wg.peers.get(wanted.publicKey)!.presharedKey).toBe(wanted.presharedKey)
  })

  it('refuses a first run without a token, clearly', async () => {
    const error = await start(fakeBroker(), undefined, undefined, null).catch((e: unknown) => e)
    expect(isKeygateError(error, 'ENROLLMENT_TOKEN_INVALID')).toBe(true)
  })

  it('applies a delta in one write per direction (removals, then additions) and never reads the interface', async () => {
    const broker = fakeBroker()
    const { agent, wg } = await start(broker)
    await until(() => agent.snapshot().connected)
    const lists = wg.stats.lists
    const applies = wg.stats.applies
    const batch = Array.from({ length: 500 }, (_, i) => upsert(60_000, `100.96.${i >> 8}.${i & 255}/32`))
    broker.publish({ upserts: batch })
    await until(() => wg.peers.size === 500, 10_000)
    expect(wg.stats.applies).toBe(applies + 1)
    broker.publish({ removals: batch.slice(0, 100).map((u) => u.publicKey), upserts: [upsert()] })
    await until(() => wg.peers.size === 401, 10_000)
    // Removed peers leave first, then the filter change, then the new peer: two interface writes.
    expect(wg.stats.applies).toBe(applies + 3)
    expect(wg.stats.lists).toBe(lists)
    await until(() => broker.statuses.some((s) => s.appliedVersion === 2 && s.peerCount === 401), 10_000)
  }, 30_000)

  it('restarts from the state dir: no token, the cursor, and a reconcile of the interface', async () => {
    const broker = fakeBroker()
    const a = upsert()
    broker.publish({ upserts: [a] })
    const first = await start(broker)
    await until(() => first.wg.peers.has(a.publicKey))
    expect(first.filter.closed).toBe(false)
    await first.agent.stop()
    agents.splice(agents.indexOf(first.agent), 1)
    // A stopped agent leaves no nft process behind (the table itself stays in force).
    expect(first.filter.closed).toBe(true)

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
    const lists = wg.stats.lists
    wg.failNext(1)
    const u = upsert()
    broker.publish({ upserts: [u] })
    await until(() => wg.peers.has(u.publicKey), 3_000)
    // The repair is a reconcile: one full read of the interface, then the missing peer written.
    expect(wg.stats.lists).toBe(lists + 1)
  })

  it("puts a peer's pairs in the filter before the peer, and takes them out after it leaves", async () => {
    const broker = fakeBroker()
    const filter = createMemoryPacketFilter()
    const wg = createMemoryInterface('wg0')
    const seen: string[] = []
    const inner = wg.applyPeers.bind(wg)
    wg.applyPeers = async (delta) => {
      for (const p of delta.set)
        seen.push(`set ${p.publicKey} pairs=${filter.has(p.allowedIps[0]!.split('/')[0]!, '10.61.0.0/24')}`)
      for (const k of delta.remove) seen.push(`remove ${k} pairs=${[...filter.elements.values()].length}`)
      await inner(delta)
    }
    const { agent } = await start(broker, wg, undefined, undefined, filter)
    await until(() => agent.snapshot().connected)
    const u = upsert(60_000, '100.96.0.9/32')
    broker.publish({ upserts: [u] })
    await until(() => wg.peers.has(u.publicKey))
    expect(seen).toEqual([`set ${u.publicKey} pairs=true`])
    broker.publish({ removals: [u.publicKey] })
    await until(() => !wg.peers.has(u.publicKey))
    await until(() => filter.elements.size === 0)
    expect(seen[1]).toBe(`remove ${u.publicKey} pairs=1`)
  })

  it("shrinks a re-routed peer's pairs in one filter change without touching the interface", async () => {
    const broker = fakeBroker()
    const u = upsert(60_000, '100.96.0.9/32', ['10.61.0.0/24', '10.62.0.0/24'])
    broker.publish({ upserts: [u] })
    const { wg, filter } = await start(broker)
    await until(() => filter.has('100.96.0.9', '10.62.0.0/24'))
    const applies = wg.stats.applies
    const writes = filter.writes.length
    broker.publish({ upserts: [{ ...u, routes: ['10.61.0.0/24'] }] })
    await until(() => !filter.has('100.96.0.9', '10.62.0.0/24'))
    expect(filter.has('100.96.0.9', '10.61.0.0/24')).toBe(true)
    expect(filter.writes.slice(writes)).toEqual([
      {
        kind: 'apply',
        change: { remove: [{ family: 4, source: '100.96.0.9', destination: '10.62.0.0/24' }], add: [] },
      },
    ])
    expect(wg.stats.applies).toBe(applies)
  })

  it('fails closed: no filter at start refuses to run; a failed filter write adds no peer until repaired', async () => {
    const broken = createMemoryPacketFilter()
    broken.failWith = 'nft: not found'
    const error = await start(fakeBroker(), undefined, undefined, undefined, broken).catch((e: unknown) => e)
    expect(isKeygateError(error, 'PACKET_FILTER_UNAVAILABLE')).toBe(true)
    expect((error as Error).message).toContain('nft: not found')
    expect((error as Error).message).not.toContain('\n')

    // A filter write that fails adds no peer: the interface never holds a peer whose pair is not in the
    // table (checked on every interface write), and the repair adds it once the filter works again.
    const broker = fakeBroker()
    const wg = createMemoryInterface('wg0')
    const filter = createMemoryPacketFilter()
    const unguarded: string[] = []
    const inner = wg.applyPeers.bind(wg)
    wg.applyPeers = async (delta) => {
      for (const p of delta.set)
        if (!filter.has(p.allowedIps[0]!.split('/')[0]!, '10.61.0.0/24')) unguarded.push(p.publicKey)
      await inner(delta)
    }
    const { agent } = await start(broker, wg, undefined, undefined, filter)
    await until(() => agent.snapshot().connected)
    filter.failWith = 'Operation not permitted'
    const failedWrites = filter.failures
    const u = upsert()
    broker.publish({ upserts: [u] })
    await until(() => filter.failures > failedWrites)
    expect(wg.peers.has(u.publicKey)).toBe(false)
    filter.failWith = null
    await until(() => wg.peers.has(u.publicKey), 3_000)
    expect(filter.has('100.96.0.2', '10.61.0.0/24')).toBe(true)
    expect(unguarded).toEqual([])
  })

  it('refuses upserts that would widen what a peer may send or reach, and installs the rest', async () => {
    const broker = fakeBroker()
    const good = upsert(60_000, '100.96.0.5/32')
    const wide = upsert(60_000, '100.96.0.0/24')
    const outside = upsert(60_000, '10.61.0.9/32')
    const intoOverlay = upsert(60_000, '100.96.0.6/32', ['100.96.0.7/32'])
    const wholeOverlay = upsert(60_000, '100.96.0.8/32', ['100.96.0.0/16'])
    broker.publish({ upserts: [good, wide, outside, intoOverlay, wholeOverlay] })
    const { wg, filter } = await start(broker)
    await until(() => wg.peers.has(good.publicKey) && wg.peers.has(wholeOverlay.publicKey))
    for (const refused of [wide, outside, intoOverlay]) expect(wg.peers.has(refused.publicKey)).toBe(false)
    expect(filter.has('100.96.0.8', '100.96.0.0/16')).toBe(true)
    expect([...filter.elements.keys()].sort()).toEqual([
      '100.96.0.5 . 10.61.0.0/24',
      '100.96.0.8 . 100.96.0.0/16',
    ])
  })

  it('reports its enforcement in every status', async () => {
    const broker = fakeBroker()
    broker.publish({ upserts: [upsert()] })
    await start(broker)
    await until(() => broker.statuses.length > 0)
    expect(broker.statuses.every((s) => s.enforcement === 'nftables')).toBe(true)
  })
})
