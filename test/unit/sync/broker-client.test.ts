import { describe, expect, it } from 'vitest'
import {
  BrokerError,
  createBrokerClient,
  createBrokerClients,
  parseRetryAfter,
} from '../../../src/adapters/gateway/broker-client.ts'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { retryDelay, UNREACHABLE_RETRY } from '../../../src/core/sync/backoff.ts'
import { PROTOCOL_VERSION } from '../../../src/core/sync/protocol.ts'
import { runGatewayCommand } from '../../../src/entrypoints/gateway-agent.ts'

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n))

function fakeFetch(
  status: number,
  body: unknown,
  seen: { url: string; init: RequestInit }[] = [],
): typeof fetch {
  return (async (url: string, init: RequestInit) => {
    seen.push({ url, init })
    return new Response(body === null ? null : JSON.stringify(body), { status })
  }) as unknown as typeof fetch
}

describe('broker client', () => {
  it('sends the credential as a bearer token and validates the answer', async () => {
    const seen: { url: string; init: RequestInit }[] = []
    const body = {
      protocolVersion: PROTOCOL_VERSION,
      version: 3,
      reset: false,
      upserts: [],
      removals: [],
      serverTime: 1,
      more: false,
      network: { ipv4: '100.96.0.0/16', ipv6: null },
    }
    const client = createBrokerClient('https://broker.example/keygate/', {
      fetch: fakeFetch(200, body, seen),
    })
    expect((await client.sync('cred', 2, 25)).version).toBe(3)
    expect(seen[0]!.url).toBe(
      `https://broker.example/keygate/api/v1/gateways/sync?since=2&wait=25&protocol=${PROTOCOL_VERSION}`,
    )
    expect((seen[0]!.init.headers as Record<string, string>).authorization).toBe('Bearer cred')
  })

  it('enrolls with the public key in the body and the token as bearer', async () => {
    const seen: { url: string; init: RequestInit }[] = []
    const answer = {
      protocolVersion: PROTOCOL_VERSION,
      gateway: 'eu-1',
      credential: 'kgc_0123456789abcdef-_',
      addressV4: '100.96.0.1',
      addressV6: null,
    }
    const client = createBrokerClient('http://127.0.0.1:8080', { fetch: fakeFetch(200, answer, seen) })
    const publicKey = generateKeyPair(random).publicKey
    expect(await client.enroll('tok', { protocolVersion: PROTOCOL_VERSION, publicKey })).toEqual(answer)
    expect(JSON.parse(seen[0]!.init.body as string)).toEqual({ protocolVersion: PROTOCOL_VERSION, publicKey })
  })

  it('says which failures are worth retrying', async () => {
    const refused = createBrokerClient('http://127.0.0.1:9', {
      fetch: fakeFetch(401, { error: { code: 'GATEWAY_CREDENTIAL_INVALID', message: 'no' } }),
    })
    const error = await refused.sync('c', 0, 0).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BrokerError)
    expect((error as BrokerError).retryable).toBe(false)
    expect((error as BrokerError).code).toBe('GATEWAY_CREDENTIAL_INVALID')
    for (const status of [500, 503, 429]) {
      const e = await createBrokerClient('http://127.0.0.1:9', { fetch: fakeFetch(status, {}) })
        .sync('c', 0, 0)
        .catch((x: unknown) => x)
      expect((e as BrokerError).retryable).toBe(true)
    }
    const down = createBrokerClient('http://127.0.0.1:9', {
      fetch: (async () => {
        throw new TypeError('fetch failed')
      }) as unknown as typeof fetch,
    })
    expect(((await down.sync('c', 0, 0).catch((e: unknown) => e)) as BrokerError).retryable).toBe(true)
    const junk = createBrokerClient('http://127.0.0.1:9', {
      fetch: fakeFetch(200, { protocolVersion: PROTOCOL_VERSION, version: 'x' }),
    })
    expect(((await junk.sync('c', 0, 0).catch((e: unknown) => e)) as BrokerError).retryable).toBe(true)
    // A broker of another protocol version is not retried at the fast pace: upgrade one side.
    const old = createBrokerClient('http://127.0.0.1:9', {
      fetch: fakeFetch(200, { protocolVersion: 1, version: 3, reset: false, upserts: [], removals: [] }),
    })
    const mismatch = (await old.sync('c', 0, 0).catch((e: unknown) => e)) as BrokerError
    expect(mismatch.retryable).toBe(false)
    expect(mismatch.code).toBe('GATEWAY_PROTOCOL_UNSUPPORTED')
  })

  it('refuses a plain-http broker off loopback unless allowed, and a credential outside its alphabet', async () => {
    expect(() => createBrokerClient('http://broker.example')).toThrow(/plain http/)
    expect(() => createBrokerClient('http://broker.example', { allowPlainHttp: true })).not.toThrow()
    expect(() => createBrokerClient('http://[::1]:8080')).not.toThrow()
    const answer = {
      protocolVersion: PROTOCOL_VERSION,
      gateway: 'eu-1',
      credential: 'kgc_abc\r\nX-Evil: 1 0123456789',
      addressV4: '100.96.0.1',
      addressV6: null,
    }
    const client = createBrokerClient('https://b.example', { fetch: fakeFetch(200, answer) })
    const publicKey = generateKeyPair(random).publicKey
    const error = (await client
      .enroll('kge_0123456789abcdef', { protocolVersion: PROTOCOL_VERSION, publicKey })
      .catch((e: unknown) => e)) as BrokerError
    expect(error.message).toMatch(/credential must be/)
  })
})

describe('retrying a broker that went away (issue 11 item 5)', () => {
  function fetchAnswering(status: number, headers: Record<string, string> = {}): typeof fetch {
    return (async () => new Response('{}', { status, headers })) as unknown as typeof fetch
  }
  const refusedFetch = (async () => {
    throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })
  }) as unknown as typeof fetch

  it('tells "nobody listening" from "overloaded", with the broker\'s Retry-After', async () => {
    const down = (await createBrokerClient('http://127.0.0.1:9', { fetch: refusedFetch })
      .sync('c', 1, 0)
      .catch((e: unknown) => e)) as BrokerError
    expect(down.kind).toBe('unreachable')
    expect(down.message).toContain('ECONNREFUSED')
    const busy = (await createBrokerClient('http://127.0.0.1:9', {
      fetch: fetchAnswering(503, { 'retry-after': '7' }),
    })
      .sync('c', 1, 0)
      .catch((e: unknown) => e)) as BrokerError
    expect(busy).toMatchObject({ kind: 'overloaded', retryAfterMs: 7_000, retryable: true })
    const limited = (await createBrokerClient('http://127.0.0.1:9', { fetch: fetchAnswering(429) })
      .sync('c', 1, 0)
      .catch((e: unknown) => e)) as BrokerError
    expect(limited.kind).toBe('overloaded')
    const broken = (await createBrokerClient('http://127.0.0.1:9', { fetch: fetchAnswering(500) })
      .sync('c', 1, 0)
      .catch((e: unknown) => e)) as BrokerError
    expect(broken.kind).toBe('failed')
    expect(
      parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')),
    ).toBe(10_000)
    expect(parseRetryAfter(null, 0)).toBeNull()
  })

  it('retries "nobody listening" within a second however long the outage, and honours Retry-After', () => {
    for (const attempt of [0, 5, 50]) {
      for (const r of [0, 0.5, 0.999]) {
        const delay = retryDelay('unreachable', attempt, r)
        expect(delay).toBeGreaterThanOrEqual(UNREACHABLE_RETRY.minMs)
        expect(delay).toBeLessThanOrEqual(UNREACHABLE_RETRY.maxMs)
      }
    }
    // Jitter spreads gateways: different draws, different delays.
    expect(retryDelay('unreachable', 9, 0)).not.toBe(retryDelay('unreachable', 9, 0.9))
    expect(retryDelay('overloaded', 0, 0, { retryAfterMs: 7_000 })).toBe(7_000)
    expect(retryDelay('overloaded', 10, 0.5)).toBeGreaterThanOrEqual(15_000)
    expect(retryDelay('refused', 0, 0)).toBeGreaterThanOrEqual(15_000)
  })

  it('makes one checked client per --broker URL, in order (the agent state picks which is asked)', async () => {
    const clients = createBrokerClients(' http://127.0.0.1:1 , https://b.example,', {
      fetch: fakeFetch(200, {}, []),
    })
    expect(clients).toHaveLength(2)
    expect(() => createBrokerClients('http://127.0.0.1:1,http://broker.example')).toThrow(/plain http/)
  })
})

describe('keygate gateway run', () => {
  it('is a usage error without --broker and --interface', async () => {
    const write = process.stderr.write
    process.stderr.write = (() => true) as typeof process.stderr.write
    try {
      expect(await runGatewayCommand([])).toBe(2)
      expect(await runGatewayCommand(['--broker', 'http://b', '--interface', 'wg0', '--bogus'])).toBe(2)
      expect(await runGatewayCommand(['--broker', 'http://b', '--interface', 'wg0', '--backend', 'x'])).toBe(
        2,
      )
      // The token never goes on a command line; a plain-http broker off loopback needs the explicit flag.
      expect(
        await runGatewayCommand(['--broker', 'http://127.0.0.1:1', '--interface', 'wg0', '--token', 'kge_x']),
      ).toBe(2)
      expect(await runGatewayCommand(['--broker', 'http://broker.example', '--interface', 'wg0'])).toBe(2)
    } finally {
      process.stderr.write = write
    }
  })
})
