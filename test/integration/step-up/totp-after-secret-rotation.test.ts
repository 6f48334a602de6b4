// Issue 10.8: rotating KEYGATE_SECRET used to lock every TOTP user out for good (the factor's secret is
// sealed with KEYGATE_SECRET). With the old secret in KEYGATE_SECRET_PREVIOUS the factor still opens and
// is re-sealed; once that is done the old secret can go and the same factor keeps working.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Logger } from '../../../src/core/ports.ts'
import { stepUpPolicy } from '../../fixtures/policies.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-db.ts'
import { PASSWORD_ONLY_SCENARIO, startTestIdp, type TestIdp } from '../../support/test-idp.ts'
import { waitingLogger } from '../../support/waiting-logger.ts'
import { currentCode, identityIdOf, newPublicKey, postForm, seedTotp } from './step-up-fixtures.ts'

const OLD = randomBytes(32).toString('base64url')
const NEW = randomBytes(32).toString('base64url')

describe('a TOTP factor across a KEYGATE_SECRET rotation', () => {
  let db: TestDatabase
  let idp: TestIdp
  let secret: string
  const brokers: TestBroker[] = []

  async function start(env: Record<string, string>, logger?: Logger) {
    const broker = await startTestBroker({
      policy: stepUpPolicy(),
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
  /** Bob signs in with a password only, passes Keygate's TOTP step-up, and gets the step-up grant. */
  async function stepUpAndIssue(broker: TestBroker, code: string) {
    const bob = (await broker.login(PASSWORD_ONLY_SCENARIO)).jar
    const verified = await postForm(broker, bob, '/step-up/totp/verify', { code })
    const issued = await broker.api(bob, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: newPublicKey(), gateways: ['gw-a'] },
    })
    return { verified: verified.status, issued: issued.status }
  }

  beforeAll(async () => {
    db = await createTestDatabase()
    idp = await startTestIdp()
    const before = await start({ KEYGATE_SECRET: OLD })
    await before.login(PASSWORD_ONLY_SCENARIO)
    secret = await seedTotp(before, await identityIdOf(before, PASSWORD_ONLY_SCENARIO.email!))
    await stop(before)
  })
  afterAll(async () => {
    for (const broker of [...brokers]) await stop(broker)
    await idp?.close()
    await db?.close()
  })

  it('with only the new secret the factor cannot be opened: the operator reads why, the person a generic error', async () => {
    const { logger, seen } = waitingLogger('http.error')
    const broker = await start({ KEYGATE_SECRET: NEW }, logger)
    const bob = (await broker.login(PASSWORD_ONLY_SCENARIO)).jar
    const verified = await postForm(broker, bob, '/step-up/totp/verify', {
      code: currentCode(secret, -30_000),
    })
    expect(verified.status).toBe(500)
    const shown = await verified.text()
    expect(shown).not.toContain('KEYGATE_SECRET')
    expect(JSON.stringify(await seen)).toContain('KEYGATE_SECRET_PREVIOUS')
    await stop(broker)
  })

  it('with the old secret kept as previous, the factor works and is re-sealed; then the old secret can go', async () => {
    const { logger, seen } = waitingLogger('secrets.resealed')
    const during = await start({ KEYGATE_SECRET: NEW, KEYGATE_SECRET_PREVIOUS: OLD }, logger)
    expect((await seen).resealed).toBeGreaterThan(0)
    expect(await stepUpAndIssue(during, currentCode(secret, -30_000))).toEqual({ verified: 303, issued: 201 })
    await stop(during)

    const after = await start({ KEYGATE_SECRET: NEW })
    expect(await stepUpAndIssue(after, currentCode(secret))).toEqual({ verified: 303, issued: 201 })
    await stop(after)
  })
})
