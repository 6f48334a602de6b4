// Issue 10.2a: Keygate's own step-up counts only for grants that say `onUnmet: "stepUp"`. A password-only
// user who stepped up with a TOTP app got a grant the policy author reserved for the IdP's MFA.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stepUpPolicy } from '../../fixtures/policies.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { PASSWORD_ONLY_SCENARIO } from '../../support/test-idp.ts'
import { currentCode, errorOf, identityIdOf, newPublicKey, postForm, seedTotp } from './step-up-fixtures.ts'

describe('where Keygate’s step-up counts', () => {
  let broker: TestBroker
  beforeAll(async () => {
    broker = await startTestBroker({ policy: stepUpPolicy() })
  })
  afterAll(async () => {
    await broker?.close()
  })

  it('a password-only user with an enrolled TOTP does not get an IdP-MFA-only grant', async () => {
    const { jar } = await broker.login(PASSWORD_ONLY_SCENARIO)
    const identityId = await identityIdOf(broker, PASSWORD_ONLY_SCENARIO.email!)
    const secret = await seedTotp(broker, identityId)
    const verified = await postForm(broker, jar, '/step-up/totp/verify', { code: currentCode(secret) })
    expect(verified.status).toBe(303)

    // gw-b:prod needs the IdP's MFA (no onUnmet "stepUp"): refused, with no step-up demand to follow.
    const idpOnly = await broker.api(jar, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: newPublicKey(), gateways: ['gw-b'] },
    })
    expect(await errorOf(idpOnly)).toEqual({ status: 403, code: 'MFA_REQUIRED' })

    // gw-a:prod says onUnmet "stepUp": the TOTP step-up meets it (and only it: gw-a:office wants hwk).
    const stepUpGrant = await broker.api(jar, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: newPublicKey(), gateways: ['gw-a'] },
    })
    expect(stepUpGrant.status).toBe(201)
    const leases = await broker.db.store.listLeases({ identityId }, Date.now())
    expect(leases.map((l) => [l.grants, l.auth.stepUp])).toEqual([
      [[{ gateway: 'gw-a', routes: ['10.10.0.0/16'] }], 'totp'],
    ])
  })
})
