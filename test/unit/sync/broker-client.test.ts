import { describe, expect, it } from 'vitest'
import { BrokerError, createBrokerClient } from '../../../src/adapters/gateway/broker-client.ts'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
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
    }
    const client = createBrokerClient('https://broker.example/keygate/', {
      fetch: fakeFetch(200, body, seen),
    })
    expect((await client.sync('cred', 2, 25)).version).toBe(3)
    expect(seen[0]!.url).toBe('https://broker.example/keygate/api/v1/gateways/sync?since=2&wait=25')
    expect((seen[0]!.init.headers as Record<string, string>).authorization).toBe('Bearer cred')
  })

  it('enrolls with the public key in the body and the token as bearer', async () => {
    const seen: { url: string; init: RequestInit }[] = []
    const answer = {
      protocolVersion: PROTOCOL_VERSION,
      gateway: 'eu-1',
      credential: 'c',
      addressV4: '100.96.0.1',
      addressV6: null,
    }
    const client = createBrokerClient('http://127.0.0.1:8080', { fetch: fakeFetch(200, answer, seen) })
    const publicKey = generateKeyPair(random).publicKey
    expect(await client.enroll('tok', { protocolVersion: PROTOCOL_VERSION, publicKey })).toEqual(answer)
    expect(JSON.parse(seen[0]!.init.body as string)).toEqual({ protocolVersion: PROTOCOL_VERSION, publicKey })
  })

  it('says which failures are worth retrying', async () => {
    const refused = createBrokerClient('http://b', {
      fetch: fakeFetch(401, { error: { code: 'GATEWAY_CREDENTIAL_INVALID', message: 'no' } }),
    })
    const error = await refused.sync('c', 0, 0).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BrokerError)
    expect((error as BrokerError).retryable).toBe(false)
    expect((error as BrokerError).code).toBe('GATEWAY_CREDENTIAL_INVALID')
    for (const status of [500, 503, 429]) {
      const e = await createBrokerClient('http://b', { fetch: fakeFetch(status, {}) })
        .sync('c', 0, 0)
        .catch((x: unknown) => x)
      expect((e as BrokerError).retryable).toBe(true)
    }
    const down = createBrokerClient('http://b', {
      fetch: (async () => {
        throw new TypeError('fetch failed')
      }) as unknown as typeof fetch,
    })
    expect(((await down.sync('c', 0, 0).catch((e: unknown) => e)) as BrokerError).retryable).toBe(true)
    const junk = createBrokerClient('http://b', {
      fetch: fakeFetch(200, { protocolVersion: 1, version: 'x' }),
    })
    expect(((await junk.sync('c', 0, 0).catch((e: unknown) => e)) as BrokerError).retryable).toBe(true)
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
    } finally {
      process.stderr.write = write
    }
  })
})
