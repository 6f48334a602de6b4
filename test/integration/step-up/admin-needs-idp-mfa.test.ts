// Issue 10.2c: administration needs the IdP's MFA, or a Keygate factor enrolled during an IdP-MFA session.
// An admin who signed in with a password only enrolled TOTP himself and minted a gateway enrollment token
// (a rogue gateway would receive every peer and preshared key).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stepUpPolicy } from '../../fixtures/policies.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import type { TestIdpScenario } from '../../support/test-idp.ts'
import { currentCode, errorOf, postForm, readEnrolmentPage } from './step-up-fixtures.ts'

const BOB_PASSWORD: TestIdpScenario = { sub: 'bob', email: 'bob@example.com', groups: [], amr: ['pwd'] }
const ROOT_MFA: TestIdpScenario = { sub: 'root', email: 'root@example.com', groups: [], amr: ['pwd', 'hwk'] }
const ROOT_PASSWORD: TestIdpScenario = { ...ROOT_MFA, amr: ['pwd'] }

describe('admin access and self-enrolled factors', () => {
  let broker: TestBroker
  beforeAll(async () => {
    // First factors open to a password alone, so the attack's enrolment step itself succeeds: what is
    // tested here is that such a factor never stands in for the IdP's MFA.
    broker = await startTestBroker({ policy: stepUpPolicy(), env: { KEYGATE_FIRST_FACTOR: 'password' } })
  })
  afterAll(async () => {
    await broker?.close()
  })

  /** Enrols TOTP through the step-up pages; the session's cookie then carries the step-up. */
  async function enrolTotp(jar: Parameters<TestBroker['api']>[0]): Promise<string> {
    const page = await postForm(broker, jar, '/step-up/totp/enrol', { returnTo: '/' })
    expect(page.status).toBe(200)
    const { factorId, secret } = readEnrolmentPage(await page.text())
    const confirmed = await postForm(broker, jar, '/step-up/totp/confirm', {
      factorId,
      code: currentCode(secret),
      returnTo: '/',
    })
    expect(confirmed.status).toBe(303)
    return secret
  }

  const mint = (jar: Parameters<TestBroker['api']>[0]) =>
    broker.api(jar, '/api/v1/admin/gateways/gw-a/enrollment-token', { method: 'POST', json: {} })

  it('a password-only admin who self-enrolled TOTP cannot mint a gateway enrollment token', async () => {
    const { jar } = await broker.login(BOB_PASSWORD)
    await enrolTotp(jar)
    expect(await errorOf(await mint(jar))).toEqual({ status: 403, code: 'MFA_REQUIRED' })
    const admin = await broker.api(jar, '/admin')
    expect(admin.status).toBe(403)
  })

  it('a factor enrolled during an IdP-MFA session stands in for the IdP’s MFA later', async () => {
    const first = await broker.login(ROOT_MFA)
    const secret = await enrolTotp(first.jar)
    const later = await broker.login(ROOT_PASSWORD)
    expect(await errorOf(await mint(later.jar))).toEqual({ status: 403, code: 'MFA_REQUIRED' })
    const stepped = await postForm(broker, later.jar, '/step-up/totp/verify', {
      code: currentCode(secret, 30_000),
    })
    expect(stepped.status).toBe(303)
    expect((await mint(later.jar)).status).toBe(201)
  })
})
