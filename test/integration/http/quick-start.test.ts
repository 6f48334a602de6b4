// What README.md's quick start promises a newcomer: the broker with the built-in development IdP and the
// example policy; the MFA demo user gets a working config once a gateway is up (none before: 409
// NO_GATEWAY_ENROLLED), the password-only one 403 MFA_REQUIRED.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../../src/adapters/runtime/json-logger.ts'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { PRIVATE_KEY_PLACEHOLDER, parseWireGuardConfig } from '../../../src/core/peers/wg-config.ts'
import { type NodeServer, startNodeServer } from '../../../src/entrypoints/node-server.ts'
import { enrollGateway } from '../../support/gateway-enrollment.ts'
import { loginThroughRedirects, requestWithJar } from '../../support/login-driver.ts'
import { freeLoopbackPort } from '../../support/test-broker.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-db.ts'

describe('quick start: the development IdP and the example policy', () => {
  let server: NodeServer
  let db: TestDatabase
  let dataDir: string
  let origin: string

  beforeAll(async () => {
    db = await createTestDatabase()
    dataDir = await mkdtemp(join(tmpdir(), 'keygate-quick-'))
    const port = await freeLoopbackPort()
    origin = `http://127.0.0.1:${port}`
    server = await startNodeServer({
      env: {
        KEYGATE_URL: origin,
        KEYGATE_DATA_DIR: dataDir,
        KEYGATE_SECRET: randomBytes(32).toString('hex'),
      },
      database: db.database,
      logger: silentLogger,
    })
  })
  afterAll(async () => {
    await server?.close()
    await db?.close()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('mounts the development IdP because no IdP is configured and the URL is loopback', () => {
    expect(server.devIdp?.mountPath).toBe('/dev-idp')
    expect([...server.broker.idps.keys()]).toEqual(['dev'])
  })

  it('alice (MFA) signs in; with no gateway up she gets no lease, with eu-1 up a config naming us-1 as missing', async () => {
    const login = await loginThroughRedirects(`${origin}/auth/dev/login`, { user: 'alice@example.com' })
    expect(login.finalResponse.status).toBe(303)
    const keys = generateKeyPair((n) => new Uint8Array(randomBytes(n)))
    const issue = () =>
      requestWithJar(`${origin}/api/v1/peers`, login.jar, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ publicKey: keys.publicKey, name: 'alice laptop' }),
      })
    // README: a lease needs a gateway. None has enrolled yet: a config would have no [Peer].
    const early = await issue()
    expect(early.status).toBe(409)
    expect(await early.json()).toMatchObject({
      error: { code: 'NO_GATEWAY_ENROLLED', gateways: ['eu-1', 'us-1'] },
    })

    await enrollGateway({ origin, dataDir }, 'eu-1')
    const response = await issue()
    expect(response.status).toBe(201)
    const lease = (await response.json()) as {
      config: string
      address: string
      gateways: Array<{ name: string }>
      pendingGateways: string[]
    }
    expect(lease.gateways.map((g) => g.name).sort()).toEqual(['eu-1', 'us-1'])
    expect(lease.pendingGateways).toEqual(['us-1'])
    expect(lease.config).toContain(`PrivateKey = ${PRIVATE_KEY_PLACEHOLDER}`)
    const parsed = parseWireGuardConfig(lease.config.replace(PRIVATE_KEY_PLACEHOLDER, keys.privateKey))
    expect(parsed.interface.addresses[0]).toBe(`${lease.address}/32`)
    expect(parsed.peers).toHaveLength(1)
  })

  it('bob (password only) gets 403 MFA_REQUIRED with reasons', async () => {
    const login = await loginThroughRedirects(`${origin}/auth/dev/login`, { user: 'bob@example.com' })
    expect(login.finalResponse.status).toBe(303)
    const response = await requestWithJar(`${origin}/api/v1/peers`, login.jar, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ publicKey: generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey }),
    })
    expect(response.status).toBe(403)
    const body = (await response.json()) as { error: { code: string; reasons: unknown[] } }
    expect(body.error.code).toBe('MFA_REQUIRED')
    expect(body.error.reasons.length).toBeGreaterThan(0)
  })
})
