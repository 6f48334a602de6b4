// Coalesced feed reads (core/broker/gateway-feed-reads.ts): the polls one wake-up settles read their
// feeds in a few statements instead of one each, every poll still gets its own page, a preshared key is
// opened once, failures stay with the reads they concern, and a commit landing while a read waits for
// its batch still wakes the poll (it subscribed first).
import { describe, expect, it } from 'vitest'
import { createLocalChangeNotifier } from '../../../src/adapters/notify/local-change-notifier.ts'
import type { BrokerDeps } from '../../../src/core/broker/broker-deps.ts'
import { syncGateway } from '../../../src/core/broker/gateway-feed.ts'
import { createGatewayFeedReader } from '../../../src/core/broker/gateway-feed-reads.ts'
import { type CoalesceOptions, DEFAULT_MAX_BATCH } from '../../../src/core/broker/read-coalescer.ts'
import { isKeygateError, KeygateError } from '../../../src/core/errors.ts'
import type { Gateway } from '../../../src/core/model.ts'
import type { GatewayFeedPage, GatewayFeedRequest, SecretSealer, Store } from '../../../src/core/ports.ts'
import { PROTOCOL_VERSION } from '../../../src/core/sync/protocol.ts'

const gateway = (i: number): Gateway => ({ id: `id-${i}`, name: `gw-${i}` }) as Gateway

/** One upsert per page, naming the gateway and cursor it was read for; every lease sealed alike. */
function pageFor({ gateway: name, since }: GatewayFeedRequest, ciphertext = 'sealed-1'): GatewayFeedPage {
  return {
    version: since + 1,
    reset: false,
    changes: [
      {
        kind: 'upsert',
        leaseId: `lease-of-${name}`,
        publicKey: `key-of-${name}-after-${since}`,
        presharedKeyCiphertext: ciphertext,
        allowedIps: [],
        routes: [],
        expiresAt: 0,
      },
    ],
  }
}

interface Call {
  requests: readonly GatewayFeedRequest[]
  release(): void
}

function fakes(options: { hold?: boolean; answer?: (r: GatewayFeedRequest) => GatewayFeedPage | null } = {}) {
  const calls: Call[] = []
  const opened: string[] = []
  let onCall: () => void = () => {}
  const store = {
    async readGatewayFeeds(requests: readonly GatewayFeedRequest[]) {
      let release!: () => void
      const released = new Promise<void>((r) => {
        release = r
      })
      calls.push({ requests, release })
      onCall()
      if (options.hold === true) await released
      return requests.map((r) => (options.answer ?? pageFor)(r))
    },
  } as unknown as Store
  const sealer: SecretSealer = {
    seal: () => Promise.reject(new Error('unused')),
    reseal: () => Promise.reject(new Error('unused')),
    async open(ciphertext) {
      opened.push(ciphertext)
      if (ciphertext === 'corrupt') throw new KeygateError('INTERNAL', 'a secret at rest failed to decrypt')
      return new TextEncoder().encode(ciphertext.padEnd(32, '.'))
    },
  }
  const nextCall = () =>
    new Promise<Call>((resolve) => {
      onCall = () => resolve(calls.at(-1)!)
    })
  const reader = (o: Partial<CoalesceOptions> = {}) =>
    createGatewayFeedReader({ store, sealer, clock: { now: () => 0 } }, { coalesce: true, ...o })
  return { calls, opened, store, sealer, reader, nextCall }
}

describe('coalesced gateway feed reads', () => {
  it("reads asked in one turn go to the store together, and each gets its own gateway's page", async () => {
    const { calls, opened, reader } = fakes()
    const feeds = reader()
    const n = 2 * DEFAULT_MAX_BATCH + 100
    const reads = await Promise.all(Array.from({ length: n }, (_, i) => feeds.read(gateway(i), i)))
    expect(calls.map((c) => c.requests.length)).toEqual([DEFAULT_MAX_BATCH, DEFAULT_MAX_BATCH, 100])
    expect(calls.flatMap((c) => c.requests)).toEqual(
      Array.from({ length: n }, (_, i) => ({ gateway: `gw-${i}`, since: i, gatewayId: `id-${i}` })),
    )
    reads.forEach((read, i) => {
      expect(read!.page.changes[0]!.publicKey).toBe(`key-of-gw-${i}-after-${i}`)
      expect(read!.page.version).toBe(i + 1)
      expect([...read!.presharedKeys.keys()]).toEqual([`lease-of-gw-${i}`])
    })
    // The same sealed key: opened once per batch (three, side by side), then remembered.
    expect(opened).toEqual(['sealed-1', 'sealed-1', 'sealed-1'])
    await feeds.read(gateway(0), 7)
    expect(opened).toHaveLength(3)
  })

  it('reads asked while the batches in flight are at the limit wait, then go in one batch', async () => {
    const { calls, reader, nextCall } = fakes({ hold: true })
    const feeds = reader({ maxInFlight: 1 })
    const first = nextCall()
    const a = feeds.read(gateway(0), 1)
    const held = await first
    // Asked in three later turns while the only slot is taken.
    const later: Array<Promise<unknown>> = []
    for (let turn = 1; turn <= 3; turn++) {
      await new Promise((r) => setImmediate(r))
      later.push(feeds.read(gateway(turn), 1), feeds.read(gateway(turn + 10), 1))
    }
    expect(calls).toHaveLength(1)
    const second = nextCall()
    held.release()
    await a
    const together = await second
    expect(together.requests.map((r) => r.gateway)).toEqual([
      'gw-1',
      'gw-11',
      'gw-2',
      'gw-12',
      'gw-3',
      'gw-13',
    ])
    together.release()
    await Promise.all(later)
    expect(calls).toHaveLength(2)
  })

  it('without coalescing (Workers) every read is a statement of its own', async () => {
    const { calls, reader } = fakes()
    const feeds = reader({ coalesce: false })
    await Promise.all([feeds.read(gateway(1), 1), feeds.read(gateway(2), 1)])
    expect(calls.map((c) => c.requests.map((r) => r.gateway))).toEqual([['gw-1'], ['gw-2']])
  })

  it('a removed gateway reads null; a key that does not open fails only the reads that need it', async () => {
    const { reader } = fakes({
      answer: (r) =>
        r.gateway === 'gw-1' ? null : pageFor(r, r.gateway === 'gw-2' ? 'corrupt' : 'sealed-1'),
    })
    const feeds = reader()
    const [ok, removed, corrupt] = await Promise.allSettled([
      feeds.read(gateway(0), 1),
      feeds.read(gateway(1), 1),
      feeds.read(gateway(2), 1),
    ])
    expect(ok.status === 'fulfilled' && ok.value?.page.version).toBe(2)
    expect(removed).toEqual({ status: 'fulfilled', value: null })
    expect(corrupt.status === 'rejected' && isKeygateError(corrupt.reason, 'INTERNAL')).toBe(true)
  })

  it("a failed statement fails that batch's reads, and the next batch reads again", async () => {
    let fail = true
    const { store, sealer } = fakes()
    const failing = {
      readGatewayFeeds: (requests: readonly GatewayFeedRequest[], limit: number, now: number) => {
        if (fail) return Promise.reject(new KeygateError('DATABASE_UNAVAILABLE', 'away'))
        return store.readGatewayFeeds(requests, limit, now)
      },
    } as unknown as Store
    const feeds = createGatewayFeedReader(
      { store: failing, sealer, clock: { now: () => 0 } },
      { coalesce: true },
    )
    const failed = await Promise.allSettled([feeds.read(gateway(0), 1), feeds.read(gateway(1), 1)])
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    fail = false
    expect((await feeds.read(gateway(0), 1))?.page.version).toBe(2)
  })
})

describe('a sync whose read waits for its batch', () => {
  it('still wakes on a commit that lands between its subscription and the read', async () => {
    const notifier = createLocalChangeNotifier()
    let head = 1
    let reads = 0
    const store = {
      async readGatewayFeeds(requests: readonly GatewayFeedRequest[]) {
        reads++
        // What the statement saw, then a commit (and its wake-up) before the answer comes back.
        const seen = head
        if (reads === 1) {
          head = 2
          notifier.publish(['gw-0'])
        }
        return requests.map(
          ({ since }): GatewayFeedPage =>
            seen === since
              ? { version: since, reset: false, changes: [] }
              : {
                  version: seen,
                  reset: false,
                  changes: [{ kind: 'remove', leaseId: 'l', publicKey: 'gone-key' }],
                },
        )
      },
    } as unknown as Store
    const { sealer } = fakes()
    const clock = { now: () => Date.now() }
    const deps = {
      clock,
      notifier,
      feeds: createGatewayFeedReader({ store, sealer, clock }, { coalesce: true }),
      policy: () => ({ network: { ipv4: '100.96.0.0/16', ipv6: null } }),
    } as unknown as BrokerDeps
    const started = Date.now()
    // Held up to 60 s if the wake-up were lost; the test's own timeout (5 s) fails it first.
    const response = await syncGateway(deps, gateway(0), {
      since: '1',
      wait: '60',
      protocol: String(PROTOCOL_VERSION),
    })
    expect(response.version).toBe(2)
    expect(response.removals).toEqual(['gone-key'])
    expect(reads).toBe(2)
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(notifier.waiting()).toBe(0)
  })

  it('refuses a gateway removed while its poll waited (the read answers null)', async () => {
    const notifier = createLocalChangeNotifier()
    let removed = false
    const store = {
      async readGatewayFeeds(requests: readonly GatewayFeedRequest[]) {
        return requests.map(({ since }) => (removed ? null : { version: since, reset: false, changes: [] }))
      },
    } as unknown as Store
    const { sealer } = fakes()
    const clock = { now: () => Date.now() }
    const deps = {
      clock,
      notifier,
      feeds: createGatewayFeedReader({ store, sealer, clock }, { coalesce: true }),
      policy: () => ({ network: { ipv4: '100.96.0.0/16', ipv6: null } }),
    } as unknown as BrokerDeps
    const poll = syncGateway(deps, gateway(0), { since: '1', wait: '60', protocol: String(PROTOCOL_VERSION) })
    while (notifier.waiting() === 0) await new Promise((r) => setImmediate(r))
    removed = true
    notifier.publish(['gw-0'])
    await expect(poll).rejects.toSatisfy((e: unknown) => isKeygateError(e, 'GATEWAY_CREDENTIAL_INVALID'))
    expect(notifier.waiting()).toBe(0)
  })
})
