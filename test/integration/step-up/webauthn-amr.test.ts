// Issue 10.2b: a WebAuthn key counts for what it proves. A registration made in software with attestation
// `none` counted as amr `hwk` and passed a "phishing-resistant" grant; now it proves `swk`, which a policy
// may accept by naming it, and `hwk` needs a trusted attestation from an allowed authenticator model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stepUpPolicy } from '../../fixtures/policies.ts'
import type { CookieJar } from '../../support/login-driver.ts'
import { SoftAuthenticator } from '../../support/soft-authenticator.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import type { TestIdpScenario } from '../../support/test-idp.ts'
import { identityIdOf, newPublicKey } from './step-up-fixtures.ts'

// IdP MFA (pwd + otp) but no hardware key: the phishing-resistant grant (gw-a:office) is unmet by the IdP.
const CAROL: TestIdpScenario = {
  sub: 'carol',
  email: 'carol@example.com',
  groups: ['engineering'],
  amr: ['pwd', 'otp'],
}

describe('what a WebAuthn step-up proves', () => {
  let broker: TestBroker
  beforeAll(async () => {
    broker = await startTestBroker({ policy: stepUpPolicy() })
  })
  afterAll(async () => {
    await broker?.close()
  })

  async function ceremony(jar: CookieJar, kind: 'register' | 'authenticate', key: SoftAuthenticator) {
    const options = await broker.api(jar, `/step-up/webauthn/${kind}/options`, { method: 'POST', json: {} })
    expect(options.status).toBe(200)
    const { challenge } = (await options.json()) as { challenge: string }
    const response = kind === 'register' ? key.register({ challenge }) : key.authenticate({ challenge })
    return broker.api(jar, `/step-up/webauthn/${kind}/verify`, { method: 'POST', json: { response } })
  }

  const issue = (jar: CookieJar, gateways: string[]) =>
    broker.api(jar, '/api/v1/peers', { method: 'POST', json: { publicKey: newPublicKey(), gateways } })

  it('a software authenticator (attestation none) does not pass a phishing-resistant grant', async () => {
    const key = new SoftAuthenticator(broker.origin, new URL(broker.origin).hostname)
    const { jar } = await broker.login(CAROL)
    expect((await ceremony(jar, 'register', key)).status).toBe(200)

    // gw-a: prod (mfa) is met by the IdP; office wants hwk or phr, which a software key does not prove.
    const issued = await issue(jar, ['gw-a'])
    expect(issued.status).toBe(201)
    const identityId = await identityIdOf(broker, CAROL.email!)
    const [lease] = await broker.db.store.listLeases({ identityId }, Date.now())
    expect(lease!.grants).toEqual([{ gateway: 'gw-a', routes: ['10.10.0.0/16'] }])
    expect(lease!.auth.stepUp).toBe('webauthn@idp-mfa')

    // Using the key later proves the same: still no office route.
    const later = (await broker.login(CAROL)).jar
    expect((await ceremony(later, 'authenticate', key)).status).toBe(200)
    const again = await issue(later, ['gw-a'])
    expect(again.status).toBe(201)
    const leases = await broker.db.store.listLeases({ identityId }, Date.now())
    expect(leases.every((l) => l.grants.every((g) => !g.routes.includes('192.168.10.0/24')))).toBe(true)

    // A policy that names swk accepts it (gw-c's "any-key" level).
    expect((await issue(later, ['gw-c'])).status).toBe(201)
    const enrolled = await broker.db.store.listAudit({ type: 'step_up.enrolled', identityId, limit: 5 })
    expect(enrolled[0]!.data).toMatchObject({ method: 'webauthn', amr: 'swk', attestationTrusted: false })
  })
})
