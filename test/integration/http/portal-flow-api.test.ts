// Issue 14's API and page sides over HTTP, on both databases: no lease without an enrolled granted
// gateway (NO_GATEWAY_ENROLLED; pendingGateways once some are up), device names as people type them,
// sign-in errors a browser gets as pages (a replayed callback, with and without a session), and a top bar
// that offers "New device" only where following it does not end in a refusal.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { parseWireGuardConfig } from '../../../src/core/peers/wg-config.ts'
import { corePolicy } from '../../fixtures/policies.ts'
import { enrollGateway } from '../../support/gateway-enrollment.ts'
import { CookieJar, captureCallbackUrl, requestWithJar } from '../../support/login-driver.ts'
import { startTestBroker, TEST_IDP_ID, type TestBroker } from '../../support/test-broker.ts'
import { MFA_SCENARIO, PASSWORD_ONLY_SCENARIO } from '../../support/test-idp.ts'

const newPublicKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'

interface ErrorBody {
  error: { code: string; message: string; gateways?: string[]; character?: string }
}

describe('issuance needs an enrolled granted gateway', () => {
  let broker: TestBroker
  beforeAll(async () => {
    broker = await startTestBroker({ policy: corePolicy(), enrolGateways: false })
  })
  afterAll(async () => {
    await broker?.close()
  })

  it('refuses with 409 NO_GATEWAY_ENROLLED and stores nothing; once one is up, names the missing one', async () => {
    const { jar } = await broker.login(MFA_SCENARIO)
    const refused = await broker.api(jar, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: newPublicKey() },
    })
    expect(refused.status).toBe(409)
    const body = (await refused.json()) as ErrorBody
    expect(body.error.code).toBe('NO_GATEWAY_ENROLLED')
    expect(body.error.gateways).toEqual(['gw-a', 'gw-b'])
    expect(body.error.message).toContain('ask your admin')
    expect(await broker.db.store.listLeases({}, Date.now())).toHaveLength(0)

    // The page says the same before the form, with the same status.
    const page = await broker.api(jar, '/devices/new', { headers: { accept: BROWSER_ACCEPT } })
    expect(page.status).toBe(409)
    const html = await page.text()
    expect(html).toContain('No gateway for your access is online yet')
    expect(html).not.toContain('id="device-form"')

    await enrollGateway(broker, 'gw-a')
    const issued = await broker.api(jar, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: newPublicKey() },
    })
    expect(issued.status).toBe(201)
    const lease = (await issued.json()) as { pendingGateways: string[]; config: string }
    expect(lease.pendingGateways).toEqual(['gw-b'])
    expect(parseWireGuardConfig(lease.config.replace('{{PRIVATE_KEY}}', newPublicKey())).peers).toHaveLength(
      1,
    )
  })
})

describe('device names and sign-in error pages', () => {
  let broker: TestBroker
  beforeAll(async () => {
    broker = await startTestBroker({ policy: corePolicy() })
  })
  afterAll(async () => {
    await broker?.close()
  })

  it('takes names as people type them, and refuses an invisible character by its code point', async () => {
    const { jar } = await broker.login(MFA_SCENARIO)
    for (const name of ['Zoë’s laptop', 'work – phone 📱', 'Ordinateur de Hélène']) {
      const response = await broker.api(jar, '/api/v1/peers', {
        method: 'POST',
        json: { publicKey: newPublicKey(), name },
      })
      expect(response.status).toBe(201)
      expect(((await response.json()) as { name: string }).name).toBe(name)
    }
    const before = (await broker.db.store.listLeases({}, Date.now())).length
    const refused = await broker.api(jar, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: newPublicKey(), name: 'lap\u200btop' },
    })
    expect(refused.status).toBe(400)
    const body = (await refused.json()) as ErrorBody
    expect(body.error).toMatchObject({ code: 'INVALID_REQUEST', character: 'U+200B' })
    expect(body.error.message).toContain('U+200B')
    expect((await broker.db.store.listLeases({}, Date.now())).length).toBe(before)
  })

  it('a replayed callback gives a browser a page: "My access" with a session, a sign-in link without', async () => {
    broker.idp.setScenario(MFA_SCENARIO)
    const jar = new CookieJar()
    const { callbackUrl } = await captureCallbackUrl(`${broker.origin}/auth/${TEST_IDP_ID}/login`, jar)
    const signedIn = jar.clone()
    expect((await requestWithJar(callbackUrl, signedIn)).status).toBe(303)

    // The same callback from a browser holding the session it made: back to "My access".
    const again = await fetch(callbackUrl, {
      redirect: 'manual',
      headers: { accept: BROWSER_ACCEPT, cookie: signedIn.headerFor(callbackUrl) ?? '' },
    })
    expect(again.status).toBe(303)
    expect(again.headers.get('location')).toBe('/')

    // From a browser without one: a styled page with the code and a way to sign in again.
    const stranger = await fetch(callbackUrl, { redirect: 'manual', headers: { accept: BROWSER_ACCEPT } })
    expect(stranger.status).toBe(400)
    expect(stranger.headers.get('content-type')).toContain('text/html')
    const html = await stranger.text()
    expect(html).toContain('Sign-in did not finish')
    expect(html).toContain('LOGIN_STATE_INVALID')
    expect(html).toContain(`href="/auth/${TEST_IDP_ID}/login"`)

    // An API client still gets the error body.
    const api = await fetch(callbackUrl, { redirect: 'manual', headers: { accept: 'application/json' } })
    expect(api.status).toBe(400)
    expect(((await api.json()) as ErrorBody).error.code).toBe('LOGIN_STATE_INVALID')
  })
})

describe('the top bar never offers an action that ends in a refusal', () => {
  const newDeviceLink = 'href="/devices/new"'
  let broker: TestBroker
  let stepUpBroker: TestBroker
  beforeAll(async () => {
    broker = await startTestBroker({ policy: corePolicy() })
    stepUpBroker = await startTestBroker({ policy: corePolicy({ onUnmet: 'stepUp' }) })
  })
  afterAll(async () => {
    await broker?.close()
    await stepUpBroker?.close()
  })

  const page = async (b: TestBroker, jar: CookieJar, path: string) => {
    const response = await b.api(jar, path, { headers: { accept: BROWSER_ACCEPT } })
    return { status: response.status, html: await response.text() }
  }

  it('hides "New device" from a user the policy denies, on every page, and shows it once allowed', async () => {
    const { jar: denied } = await broker.login(PASSWORD_ONLY_SCENARIO)
    // Following the link would be refused: that is why it must not be offered.
    expect((await page(broker, denied, '/devices/new')).status).toBe(403)
    for (const path of ['/', '/step-up', '/denied']) {
      const { html } = await page(broker, denied, path)
      expect(html).toContain('Sign out')
      expect(html).not.toContain(newDeviceLink)
    }

    const { jar: allowed } = await broker.login(MFA_SCENARIO)
    for (const path of ['/', '/step-up', '/devices/new']) {
      expect((await page(broker, allowed, path)).html).toContain(newDeviceLink)
    }
  })

  it('keeps it where a step-up is the way in: the device page leads through the step-up, not to a 403', async () => {
    const { jar } = await stepUpBroker.login(PASSWORD_ONLY_SCENARIO)
    const { html } = await page(stepUpBroker, jar, '/')
    expect(html).toContain(newDeviceLink)
    const followed = await stepUpBroker.api(jar, '/devices/new', { headers: { accept: BROWSER_ACCEPT } })
    expect(followed.status).toBe(303)
    expect(followed.headers.get('location')).toMatch(/^\/step-up\?returnTo=/)
  })
})
