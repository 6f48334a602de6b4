// Rotating KEYGATE_SECRET (docs/secret-rotation.md): with the old secret in KEYGATE_SECRET_PREVIOUS,
// preshared keys sealed before the rotation still reach gateways, the server re-seals them under the new
// secret in the background, and afterwards the old secret can go. Without it, a gateway gets a bare 500
// that names nothing of the cause.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import type { Logger } from '../../../src/core/ports.ts'
import { PROTOCOL_VERSION, type SyncResponse } from '../../../src/core/sync/protocol.ts'
import { corePolicy } from '../../fixtures/policies.ts'
import { enrollGateway } from '../../support/gateway-enrollment.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-db.ts'
import { MFA_SCENARIO, startTestIdp, type TestIdp } from '../../support/test-idp.ts'
import { waitingLogger } from '../../support/waiting-logger.ts'

const newPublicKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey
const OLD = randomBytes(32).toString('base64url')
const NEW = randomBytes(32).toString('base64url')

describe('KEYGATE_SECRET rotation', () => {
  let db: TestDatabase
  let idp: TestIdp
  let credential: string
  let leasePublicKey: string
  let presharedKey: string
  const brokers: TestBroker[] = []

  async function start(env: Record<string, string>, logger?: Logger) {
    const broker = await startTestBroker({
      policy: corePolicy(),
      database: db,
      idp,
      env,
      ...(logger === undefined ? {} : { logger }),
    })
    brokers.push(broker)
    return broker
  }
  async function stop(broker: TestBroker) {
    await broker.close({ keepDatabase: true, keepIdp: true })
    brokers.splice(brokers.indexOf(broker), 1)
  }
  function sync(broker: TestBroker) {
    return broker.api(null, `/api/v1/gateways/sync?since=0&wait=0&protocol=${PROTOCOL_VERSION}`, {
      headers: { authorization: `Bearer ${credential}` },
    })
  }

  beforeAll(async () => {
    db = await createTestDatabase()
    idp = await startTestIdp()
    const before = await start({ KEYGATE_SECRET: OLD })
    credential = (await enrollGateway(before, 'gw-a')).credential
    const alice = (await before.login(MFA_SCENARIO)).jar
    leasePublicKey = newPublicKey()
    const issued = await before.api(alice, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: leasePublicKey },
    })
    const { config } = (await issued.json()) as { config: string }
    presharedKey = /PresharedKey = (\S+)/.exec(config)![1]!
    await stop(before)
  })
  afterAll(async () => {
    for (const broker of [...brokers]) await stop(broker)
    await idp?.close()
    await db?.close()
  })

  it('a new secret alone cannot open old preshared keys: the gateway gets a bare 500', async () => {
    const broker = await start({ KEYGATE_SECRET: NEW })
    const response = await sync(broker)
    expect(response.status).toBe(500)
    expect(await response.json()).toEqual({ error: { code: 'INTERNAL', message: 'Internal error' } })
    await stop(broker)
  })

  it('with the old secret in KEYGATE_SECRET_PREVIOUS, old keys sync, are re-sealed, and the old secret can go', async () => {
    const { logger, seen } = waitingLogger('secrets.resealed')
    const during = await start({ KEYGATE_SECRET: NEW, KEYGATE_SECRET_PREVIOUS: OLD }, logger)
    const response = await sync(during)
    expect(response.status).toBe(200)
    const body = (await response.json()) as SyncResponse
    expect(body.upserts.find((u) => u.publicKey === leasePublicKey)?.presharedKey).toBe(presharedKey)
    expect((await seen).resealed).toBeGreaterThan(0)
    await stop(during)

    const after = await start({ KEYGATE_SECRET: NEW })
    const synced = await sync(after)
    expect(synced.status).toBe(200)
    const again = (await synced.json()) as SyncResponse
    expect(again.upserts.find((u) => u.publicKey === leasePublicKey)?.presharedKey).toBe(presharedKey)
    await stop(after)
  })
})
