// Issue 10.1: the TOTP attempt limit held against parallel guesses. The failure count used to be read,
// the code checked and the failure written afterwards, so hundreds of concurrent wrong codes were all
// checked. Now each attempt is reserved under a lock on the identity before its code is checked.
// Runs on PostgreSQL (real concurrency across connections) and PGlite, per KEYGATE_TEST_DB.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stepUpPolicy } from '../../fixtures/policies.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { PASSWORD_ONLY_SCENARIO } from '../../support/test-idp.ts'
import { currentCode, identityIdOf, postForm, seedTotp, wrongCode } from './step-up-fixtures.ts'

describe('TOTP attempt limit under parallel guesses', () => {
  let broker: TestBroker
  beforeAll(async () => {
    broker = await startTestBroker({ policy: stepUpPolicy() })
  })
  afterAll(async () => {
    await broker?.close()
  })

  it('parallel wrong TOTP codes: at most the limit (5) are checked', async () => {
    const { jar } = await broker.login(PASSWORD_ONLY_SCENARIO)
    const identityId = await identityIdOf(broker, PASSWORD_ONLY_SCENARIO.email!)
    const secret = await seedTotp(broker, identityId)
    const wrong = wrongCode(secret)

    const responses = await Promise.all(
      Array.from({ length: 200 }, () => postForm(broker, jar, '/step-up/totp/verify', { code: wrong })),
    )
    const statuses = responses.map((r) => r.status)
    await Promise.all(responses.map((r) => r.body?.cancel()))

    // Every checked code is audited as step_up.failed; every refused one as step_up.rate_limited.
    const failed = await broker.db.store.listAudit({ type: 'step_up.failed', identityId, limit: 1000 })
    const limited = await broker.db.store.listAudit({ type: 'step_up.rate_limited', identityId, limit: 1000 })
    expect(failed.length).toBeLessThanOrEqual(5)
    expect(failed.length + limited.length).toBe(200)
    expect(statuses.filter((s) => s === 401).length).toBe(failed.length)
    expect(statuses.filter((s) => s === 429).length).toBe(200 - failed.length)

    // The limit now holds for the right code too: no guess gets through the window.
    const right = await postForm(broker, jar, '/step-up/totp/verify', { code: currentCode(secret) })
    expect(right.status).toBe(429)
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0)
  })
})
