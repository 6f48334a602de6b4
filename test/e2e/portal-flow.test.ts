// The portal's flows as a person meets them (issue 14), in Chromium against the whole broker: no config
// without a gateway to carry it, denials that lead somewhere (a password-only user with TOTP gets access
// through the step-up button in one pass), sign-in errors as pages, and nothing lost by accident (a
// reload during TOTP enrolment, an unsaved private key, a revoke repeated from an old tab).
import { readFileSync } from 'node:fs'
import jsQR from 'jsqr'
import { type TOTP, URI } from 'otpauth'
import type { Page } from 'playwright-core'
// pngjs ships no types; qrcode depends on it, so it is always installed.
// @ts-expect-error untyped module
import { PNG } from 'pngjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseWireGuardConfig } from '../../src/core/peers/wg-config.ts'
import { TEST_IDP_ID } from '../support/test-broker.ts'
import type { TestIdpScenario } from '../support/test-idp.ts'
import { enrolTestGateway, type PortalRig, startPortalRig } from './portal-harness.ts'

const POLICY = `{
  "network": { "ipv4": "100.96.0.0/16", "ipv6": "fd7a:115c:a1e0::/64", "dns": ["10.10.0.53"] },
  "gateways": {
    "eu-1": { "endpoint": "eu-1.vpn.example.com:51820", "routes": { "prod": ["10.10.0.0/16"], "office": ["192.168.10.0/24"] } },
    "us-1": { "endpoint": "us-1.vpn.example.com:51820", "routes": { "prod": ["10.20.0.0/16"] } },
  },
  "groups": {
    "group:eng": ["idp:*:engineering"],
    "group:sales": ["idp:*:sales"],
    "group:admins": ["user:root@example.com"],
  },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "1h" } },
  "grants": [
    { "src": ["group:eng"], "dst": ["eu-1:*", "us-1:prod"], "assurance": "mfa", "ttl": "8h", "onUnmet": "stepUp" },
    { "src": ["group:sales"], "dst": ["eu-1:office"], "assurance": "mfa", "ttl": "8h" },
    { "src": ["group:admins"], "dst": ["eu-1:*"], "assurance": "mfa", "ttl": "1h" },
  ],
  "admins": ["group:admins"],
}
`

const ALICE: TestIdpScenario = {
  sub: 'alice',
  email: 'alice@example.com',
  groups: ['engineering'],
  amr: ['pwd', 'otp'],
}
const BOB: TestIdpScenario = { sub: 'bob', email: 'bob@example.com', groups: ['engineering'], amr: ['pwd'] }
const SAM: TestIdpScenario = { sub: 'sam', email: 'sam@example.com', groups: ['sales'], amr: ['pwd'] }
const ROOT: TestIdpScenario = { sub: 'root', email: 'root@example.com', groups: [], amr: ['pwd', 'hwk'] }

let rig: PortalRig

beforeAll(async () => {
  rig = await startPortalRig(POLICY)
})

afterAll(async () => {
  await rig?.close()
})

async function decodeQr(page: Page, selector: string): Promise<string | null> {
  const png = PNG.sync.read(await page.locator(selector).screenshot())
  return jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data ?? null
}

/** A one-time enrolment code an admin issues for the latest sign-in of `email`. */
async function enrolmentCodeFor(email: string): Promise<string> {
  const events = await rig.server.broker.store.listAudit({ type: 'login.succeeded', limit: 100 })
  const identityId = events.find((e) => e.actor === email)?.identityId
  expect(identityId).toBeTruthy()
  const { page, context } = await rig.newPage()
  await rig.signIn(page, ROOT)
  const response = await page.request.post(`/api/v1/admin/identities/${identityId}/enrolment-codes`)
  expect(response.status()).toBe(201)
  const { code } = (await response.json()) as { code: string }
  await context.close()
  return code
}

async function createConfig(page: Page, name: string): Promise<void> {
  await page.goto('/devices/new')
  await page.getByLabel('Device name').fill(name)
  await page.getByRole('button', { name: 'Create configuration' }).click()
  await page.locator('#device-result').waitFor({ state: 'visible' })
}

describe('no lease a granted gateway cannot carry (item 1)', () => {
  it('refuses on the page and in the API while no granted gateway has enrolled; names the missing ones after', async () => {
    const { page, context } = await rig.newPage()
    await rig.signIn(page, ALICE)
    const response = await page.goto('/devices/new')
    expect(response?.status()).toBe(409)
    expect(await page.locator('#no-gateway').textContent()).toContain(
      'No gateway for your access is online yet',
    )
    expect(await page.locator('#device-form').count()).toBe(0)
    // A user is told to ask; only admins see the commands.
    expect(await page.locator('#gateway-commands').count()).toBe(0)
    const api = await page.request.post('/api/v1/peers', {
      data: { publicKey: 'hBq0Hpj1R7Kb8dnGqLNWr3bh2UpU0X8BXjg3Q6D3xlE=' },
    })
    expect(api.status()).toBe(409)
    const body = (await api.json()) as { error: { code: string; gateways: string[] } }
    expect(body.error.code).toBe('NO_GATEWAY_ENROLLED')
    expect(body.error.gateways).toEqual(['eu-1', 'us-1'])
    expect(await rig.server.broker.store.listLeases({}, Date.now())).toHaveLength(0)

    const { page: admin, context: adminContext } = await rig.newPage()
    await rig.signIn(admin, ROOT)
    await admin.goto('/devices/new')
    expect(await admin.locator('#gateway-commands pre').textContent()).toContain('keygate gateway add eu-1')
    await adminContext.close()

    await enrolTestGateway(rig.server, 'eu-1')
    await page.goto('/devices/new')
    expect(await page.locator('#gateways-missing').textContent()).toContain('us-1')
    await createConfig(page, 'alice laptop')
    expect(await page.locator('#gateways-pending').textContent()).toContain('us-1')
    const config = (await page.locator('#config-text').textContent()) ?? ''
    expect(parseWireGuardConfig(config).peers).toHaveLength(1)
    await context.close()
  })
})

describe('denials that speak to the user (item 2)', () => {
  it('a password-only user with TOTP gets access through the step-up button in one pass; a reload during enrolment keeps the secret', async () => {
    const { page } = await rig.newPage()
    await rig.signIn(page, BOB)
    await page.goto('/')
    // Denied for now: no "new device" action that would end in a 403, and the next step is the step-up.
    expect(await page.getByRole('link', { name: 'Set up a new device' }).count()).toBe(0)
    expect(await page.locator('#denial-lead').textContent()).toContain('requires a second factor')
    await page.getByRole('link', { name: 'Confirm with your second factor' }).click()
    await page.waitForURL(/\/step-up\?returnTo=%2F$/)

    // First factor: with an admin's code (KEYGATE_FIRST_FACTOR default), then a reload of the QR page.
    await page.getByLabel('Enrolment code from your administrator').fill(await enrolmentCodeFor(BOB.email!))
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click()
    const secret = (await page.locator('#totp-secret').textContent())!.trim()
    const uri = await decodeQr(page, '#totp-qr svg')
    await page.reload()
    expect((await page.locator('#totp-secret').textContent())!.trim()).toBe(secret)
    expect(await decodeQr(page, '#totp-qr svg')).toBe(uri)
    const totp = URI.parse(uri!) as TOTP
    await page.getByLabel(/6-digit code/).fill(totp.generate())
    await page.getByRole('button', { name: 'Confirm and continue' }).click()
    await page.waitForURL((url) => url.pathname === '/')
    expect(await page.getByRole('link', { name: 'Set up a new device' }).count()).toBe(1)

    // A new sign-in (password only again): one click on the step-up button, one code, and access.
    await rig.signIn(page, BOB)
    await page.goto('/')
    await page.getByRole('link', { name: 'Confirm with your second factor' }).click()
    await page.waitForURL(/\/step-up/)
    await page
      .getByLabel('Code from your authenticator app')
      .fill(totp.generate({ timestamp: Date.now() + 30_000 }))
    await page.getByRole('button', { name: 'Verify code' }).click()
    await page.waitForURL((url) => url.pathname === '/')
    expect(await page.locator('#denial').count()).toBe(0)
    await createConfig(page, 'bob’s phone 📱')
    const leases = (await (await page.request.get('/api/v1/peers')).json()) as {
      peers: Array<{ name: string; stepUp: string }>
    }
    expect(leases.peers.map((l) => [l.name, l.stepUp])).toContainEqual(['bob’s phone 📱', 'totp'])
  })

  it('when only the IdP’s MFA helps, says "ask your admin" and offers no step-up that would loop', async () => {
    const { page } = await rig.newPage()
    await rig.signIn(page, SAM)
    await page.goto('/')
    expect(await page.locator('#denial-lead').textContent()).toContain('Ask your admin')
    // No step-up offered (the top bar's "Second factor" page is always there, and says what it can do).
    expect(await page.locator('#denial a').count()).toBe(0)
    expect(await page.getByRole('link', { name: 'Confirm with your second factor' }).count()).toBe(0)
    expect(await page.getByRole('link', { name: 'Set up a new device' }).count()).toBe(0)
    const response = await page.goto('/devices/new')
    expect(response?.status()).toBe(403)
    // One code for one situation: the page shows the API's code; the policy's reasons are folded.
    expect(await page.locator('#denial-code').textContent()).toBe('MFA_REQUIRED')
    expect(await page.locator('#denial-details').getAttribute('open')).toBeNull()
    const api = await page.request.post('/api/v1/peers', {
      data: { publicKey: 'hBq0Hpj1R7Kb8dnGqLNWr3bh2UpU0X8BXjg3Q6D3xlE=' },
    })
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('MFA_REQUIRED')
  })
})

describe('sign-in errors as pages (item 3)', () => {
  it('a replayed callback lands on a page: "My access" with a session, a sign-in link without', async () => {
    const { page } = await rig.newPage()
    let callback: string | null = null
    page.on('request', (request) => {
      if (request.url().includes(`/auth/${TEST_IDP_ID}/callback`)) callback = request.url()
    })
    await rig.signIn(page, ALICE)
    expect(callback).not.toBeNull()

    const replayed = await page.goto(callback!)
    expect(replayed?.status()).toBe(200)
    expect(new URL(page.url()).pathname).toBe('/')
    expect(await page.locator('h1').textContent()).toBe('My access')

    const { page: stranger } = await rig.newPage()
    const refused = await stranger.goto(callback!)
    expect(refused?.status()).toBe(400)
    expect(refused?.headers()['content-type']).toContain('text/html')
    expect(await stranger.locator('h1').textContent()).toBe('Sign-in did not finish')
    await stranger.getByRole('link', { name: 'Sign in again' }).click()
    await stranger.waitForURL((url) => url.origin === rig.idp.issuer)
  })

  it('an old tab after sign-out offers a sign-in link and keeps the device name typed', async () => {
    const { page } = await rig.newPage()
    await rig.signIn(page, ALICE)
    await page.goto('/devices/new')
    await page.getByLabel('Device name').fill('Zoë’s work laptop')
    // Signed out elsewhere (another tab of the same browser).
    expect((await page.request.post('/auth/logout')).status()).toBe(204)
    await page.getByRole('button', { name: 'Create configuration' }).click()
    await page.locator('#device-sign-in').waitFor()
    expect(await page.getByLabel('Device name').inputValue()).toBe('Zoë’s work laptop')
    rig.idp.setScenario(ALICE)
    await page.locator('#device-sign-in').click()
    await page.getByRole('link', { name: /Sign in with/ }).click()
    // The IdP may still hold this browser's sign-in and send it straight back, or ask again.
    const back = (url: URL) => url.origin === rig.origin && url.pathname === '/devices/new'
    await page.waitForURL((url) => url.origin === rig.idp.issuer || back(url))
    if (new URL(page.url()).origin === rig.idp.issuer) {
      await page.locator('form[method="post"] button[type="submit"]').first().click()
    }
    await page.waitForURL(back)
    expect(await page.getByLabel('Device name').inputValue()).toBe('Zoë’s work laptop')
  })
})

describe('nothing lost by accident (item 5)', () => {
  it('warns before leaving an undownloaded private key; the file name stays readable and distinct', async () => {
    const { page } = await rig.newPage()
    await rig.signIn(page, ALICE)
    await createConfig(page, 'Zoë’s laptop')
    const dialogs: string[] = []
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.type())
      void dialog.dismiss()
    })
    await page.getByRole('link', { name: 'Back to my access' }).click({ noWaitAfter: true })
    await expect.poll(() => dialogs).toEqual(['beforeunload'])
    expect(new URL(page.url()).pathname).toBe('/devices/new')

    const downloading = page.waitForEvent('download')
    await page.getByRole('button', { name: 'Download .conf' }).click()
    const download = await downloading
    expect(download.suggestedFilename()).toMatch(/^Zoe-s-lapt-[a-z0-9]{4}\.conf$/)
    expect(readFileSync((await download.path())!, 'utf8')).toContain('[Interface]')
    await page.getByRole('link', { name: 'Back to my access' }).click()
    await page.waitForURL((url) => url.pathname === '/')
    expect(dialogs).toEqual(['beforeunload'])
  })

  it('revoke asks first, redirects after the POST, and a second revoke from an old tab reports success', async () => {
    const { context, page } = await rig.newPage()
    await rig.signIn(page, ALICE)
    await createConfig(page, 'old tab device')
    const id = await page.locator('#device-result').getAttribute('data-lease-id')
    // The old tab runs no script, so its live poll cannot take the button away before the second click.
    const oldContext = await rig.browser.newContext({
      baseURL: rig.origin,
      storageState: await context.storageState(),
      javaScriptEnabled: false,
    })
    const oldTab = await oldContext.newPage()
    await oldTab.goto('/')
    await page.goto('/')

    const card = page.locator(`[data-lease-id="${id}"]`)
    await card.getByRole('button', { name: /Revoke/ }).click()
    // The confirmation: nothing revoked yet.
    expect(await page.locator('h1').textContent()).toContain('Revoke “old tab device”?')
    expect((await rig.server.broker.store.getLease(id!))?.revokedAt).toBeNull()
    await page.getByRole('button', { name: 'Revoke “old tab device”' }).click()
    await page.waitForURL(/notice=revoked/)
    const revokedAt = (await rig.server.broker.store.getLease(id!))?.revokedAt
    expect(revokedAt).not.toBeNull()
    // A reload is a GET: nothing is repeated.
    await page.reload()
    expect((await rig.server.broker.store.getLease(id!))?.revokedAt).toBe(revokedAt)

    await oldTab
      .locator(`[data-lease-id="${id}"]`)
      .getByRole('button', { name: /Revoke/ })
      .click()
    await oldTab.getByRole('button', { name: 'Revoke “old tab device”' }).click()
    await oldTab.waitForURL(/notice=already_ended/)
    expect(await oldTab.locator('.notice.ok').first().textContent()).toContain('already ended')
  })
})
