// Every `/step-up` route over HTTP, on its refusals: no session, a cross-site post, bad input, a factor
// that is not there or not yours, a replayed code. Each answer has its status and code, and none changes
// the session.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stepUpPolicy } from '../../fixtures/policies.ts'
import type { CookieJar } from '../../support/login-driver.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { MFA_SCENARIO, PASSWORD_ONLY_SCENARIO } from '../../support/test-idp.ts'
import { currentCode, errorOf, identityIdOf, postForm, seedTotp } from './step-up-fixtures.ts'

const FORM_ROUTES = ['/step-up/totp/enrol', '/step-up/totp/confirm', '/step-up/totp/verify']
const JSON_ROUTES = [
  '/step-up/webauthn/register/options',
  '/step-up/webauthn/register/verify',
  '/step-up/webauthn/authenticate/options',
  '/step-up/webauthn/authenticate/verify',
]

describe('/step-up routes refuse what they must', () => {
  let broker: TestBroker
  let alice: CookieJar
  let bob: CookieJar
  let bobSecret: string

  beforeAll(async () => {
    broker = await startTestBroker({ policy: stepUpPolicy() })
    alice = (await broker.login(MFA_SCENARIO)).jar
    bob = (await broker.login(PASSWORD_ONLY_SCENARIO)).jar
    bobSecret = await seedTotp(broker, await identityIdOf(broker, PASSWORD_ONLY_SCENARIO.email!))
  })
  afterAll(async () => {
    await broker?.close()
  })

  it('without a session: the page and the forms redirect to sign-in, the JSON routes answer 401', async () => {
    const page = await broker.api(null, '/step-up?returnTo=/devices/new')
    expect(page.status).toBe(303)
    expect(page.headers.get('location')).toMatch(/^\/\?returnTo=/)
    for (const path of FORM_ROUTES) {
      const response = await postForm(broker, null, path, { code: '123456', factorId: 'x' })
      expect([path, response.status, response.headers.get('location')]).toEqual([path, 303, '/'])
    }
    for (const path of JSON_ROUTES) {
      const response = await broker.api(null, path, { method: 'POST', json: {} })
      expect([path, await errorOf(response)]).toEqual([path, { status: 401, code: 'UNAUTHENTICATED' }])
    }
  })

  it('a cross-site post to any route is refused before it runs', async () => {
    const failures = () => broker.db.store.listAudit({ type: 'step_up.failed', limit: 100 })
    const before = (await failures()).length
    for (const path of [...FORM_ROUTES, ...JSON_ROUTES]) {
      const response = await broker.api(alice, path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
        body: 'code=123456',
      })
      expect([path, response.status]).toEqual([path, 403])
    }
    expect((await failures()).length).toBe(before)
  })

  it('TOTP: an unknown or foreign enrolment is 404, a malformed or replayed code 401', async () => {
    const started = await postForm(broker, alice, '/step-up/totp/enrol', {})
    expect(started.status).toBe(200)
    const factorId = /name="factorId" value="([^"]+)"/.exec(await started.text())?.[1] ?? ''
    expect(
      (await postForm(broker, alice, '/step-up/totp/confirm', { factorId: 'nope', code: '123456' })).status,
    ).toBe(404)
    // Bob cannot confirm Alice's pending enrolment.
    expect((await postForm(broker, bob, '/step-up/totp/confirm', { factorId, code: '123456' })).status).toBe(
      404,
    )
    // Alice has no confirmed factor to verify against.
    expect((await postForm(broker, alice, '/step-up/totp/verify', { code: '123456' })).status).toBe(404)

    const malformed = await postForm(broker, bob, '/step-up/totp/verify', { code: '12ab56' })
    expect(malformed.status).toBe(401)
    expect(await malformed.text()).toContain('6-digit code')
    const code = currentCode(bobSecret)
    expect((await postForm(broker, bob, '/step-up/totp/verify', { code })).status).toBe(303)
    const replayed = await postForm(broker, bob, '/step-up/totp/verify', { code })
    expect(replayed.status).toBe(401)
    expect(await replayed.text()).toContain('already used')
  })

  it('WebAuthn: no key is 404, garbage is 401 FACTOR_INVALID, broken JSON 400, a foreign credential 401', async () => {
    const options = await broker.api(alice, '/step-up/webauthn/authenticate/options', {
      method: 'POST',
      json: {},
    })
    expect(await errorOf(options)).toEqual({ status: 404, code: 'NOT_FOUND' })
    const registerGarbage = await broker.api(alice, '/step-up/webauthn/register/verify', {
      method: 'POST',
      json: { response: { id: 'x', response: {} } },
    })
    expect(await errorOf(registerGarbage)).toEqual({ status: 401, code: 'FACTOR_INVALID' })
    const broken = await broker.api(alice, '/step-up/webauthn/register/verify', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"response":',
    })
    expect(await errorOf(broken)).toEqual({ status: 400, code: 'INVALID_REQUEST' })
    const unknown = await broker.api(bob, '/step-up/webauthn/authenticate/verify', {
      method: 'POST',
      json: { response: { id: 'not-a-credential', response: {} } },
    })
    expect(await errorOf(unknown)).toEqual({ status: 401, code: 'FACTOR_INVALID' })
  })

  it('a refusal has one status, page or JSON: adding a factor before using the one you have', async () => {
    // A new session of Bob's: his TOTP factor is confirmed, but this session has not used it.
    const fresh = (await broker.login(PASSWORD_ONLY_SCENARIO)).jar
    const page = await postForm(broker, fresh, '/step-up/totp/enrol', { returnTo: '/' })
    expect(await page.text()).toContain('Use it first')
    const json = await broker.api(fresh, '/step-up/webauthn/register/options', { method: 'POST', json: {} })
    expect(await errorOf(json)).toEqual({ status: 401, code: 'STEP_UP_REQUIRED' })
    expect(page.status).toBe(json.status)
  })
})
