// The portal in Chromium against the whole broker and a real oidc-provider: configs made in the page
// (and only there), TOTP and WebAuthn step-up, renewal, an admin's revocation seen live by the user.
// The warning screenshot lands in docs/screenshots/ with KEYGATE_UPDATE_SCREENSHOTS=1; the other pages'
// screenshots, at phone and desktop width, come from portal-layout.test.ts.
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { x25519 } from '@noble/curves/ed25519.js'
import jsQR from 'jsqr'
import { type TOTP, URI } from 'otpauth'
import type { Page, Request } from 'playwright-core'
// pngjs ships no types; qrcode depends on it, so it is always installed.
// @ts-expect-error untyped module
import { PNG } from 'pngjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeBase64, encodeBase64 } from '../../src/core/peers/keys.ts'
import { parseWireGuardConfig } from '../../src/core/peers/wg-config.ts'
import type { TestIdpScenario } from '../support/test-idp.ts'
import { enrolTestGateway, type PortalRig, startPortalRig } from './portal-harness.ts'

const POLICY = `{
  "network": { "ipv4": "100.96.0.0/16", "ipv6": "fd7a:115c:a1e0::/64", "dns": ["10.10.0.53"] },
  "gateways": {
    "eu-1": { "endpoint": "eu-1.vpn.example.com:51820", "routes": { "prod": ["10.10.0.0/16"], "office": ["192.168.10.0/24"] } },
  },
  "groups": {
    "group:eng": ["idp:*:engineering"],
    "group:admins": ["user:root@example.com"],
  },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "1h" } },
  "grants": [
    { "src": ["group:eng"], "dst": ["eu-1:*"], "assurance": "mfa", "ttl": "8h", "onUnmet": "stepUp" },
  ],
  "admins": ["group:admins"],
  "tests": [
    { "user": "a@example.com", "groups": ["engineering"], "amr": ["pwd", "otp"], "authAge": "5m",
      "expect": { "allow": ["eu-1:prod", "eu-1:office"] } },
  ],
}
`

const ALICE: TestIdpScenario = {
  sub: 'alice',
  email: 'alice@example.com',
  name: 'Alice',
  groups: ['engineering'],
  amr: ['pwd', 'otp'],
}
const BOB: TestIdpScenario = {
  sub: 'bob',
  email: 'bob@example.com',
  name: 'Bob',
  groups: ['engineering'],
  amr: ['pwd'],
}
const CAROL: TestIdpScenario = {
  sub: 'carol',
  email: 'carol@example.com',
  name: 'Carol',
  groups: ['engineering'],
  amr: ['pwd'],
}
const ROOT: TestIdpScenario = {
  sub: 'root',
  email: 'root@example.com',
  name: 'Root',
  groups: [],
  amr: ['pwd', 'hwk'],
}

// The committed screenshots change only on purpose (KEYGATE_UPDATE_SCREENSHOTS=1); a plain run writes
// them to a temporary directory, so tests never dirty the work tree.
const SHOTS =
  process.env.KEYGATE_UPDATE_SCREENSHOTS === '1'
    ? 'docs/screenshots'
    : mkdtempSync(join(tmpdir(), 'keygate-shots-'))

let rig: PortalRig

beforeAll(async () => {
  rig = await startPortalRig(POLICY)
  await enrolTestGateway(rig.server, 'eu-1')
})

afterAll(async () => {
  await rig?.close()
})

function recordRequests(page: Page): Request[] {
  const seen: Request[] = []
  page.on('request', (request) => seen.push(request))
  return seen
}

async function requestTexts(requests: Request[]): Promise<string[]> {
  return Promise.all(
    requests.map(
      async (r) => `${r.method()} ${r.url()}\n${JSON.stringify(await r.allHeaders())}\n${r.postData() ?? ''}`,
    ),
  )
}

async function decodeQr(page: Page, selector: string): Promise<string | null> {
  const png = PNG.sync.read(await page.locator(selector).screenshot())
  return jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data ?? null
}

async function makeConfig(page: Page, name: string): Promise<{ config: string; download: string }> {
  await page.goto('/devices/new')
  await page.getByLabel('Device name').fill(name)
  await page.getByRole('button', { name: 'Create configuration' }).click()
  await page.locator('#device-result').waitFor({ state: 'visible' })
  const config = (await page.locator('#config-text').textContent()) ?? ''
  const downloading = page.waitForEvent('download')
  await page.getByRole('button', { name: 'Download .conf' }).click()
  const download = await downloading
  return { config, download: readFileSync((await download.path())!, 'utf8') }
}

/** A one-time enrolment code an admin (ROOT, with IdP MFA) issues for the latest sign-in of `email`. */
async function enrolmentCodeFor(email: string): Promise<string> {
  const events = await rig.server.broker.store.listAudit({ type: 'login.succeeded', limit: 100 })
  const identityId = events.find((e) => e.actor === email)?.identityId
  expect(identityId).toBeTruthy()
  const { page } = await rig.newPage()
  await rig.signIn(page, ROOT)
  const response = await page.request.post(`/api/v1/admin/identities/${identityId}/enrolment-codes`)
  expect(response.status()).toBe(201)
  return ((await response.json()) as { code: string }).code
}

async function myLeases(page: Page) {
  const response = await page.request.get('/api/v1/peers')
  expect(response.status()).toBe(200)
  return ((await response.json()) as { peers: Array<Record<string, unknown>> }).peers
}

describe('portal', () => {
  let alice: { page: Page; leaseId: string; publicKey: string; address: string; expiresAt: string }

  it('signs an MFA user in and makes a config whose private key never leaves the page', async () => {
    const { page } = await rig.newPage()
    const requests = recordRequests(page)
    await page.goto('/')
    expect(await page.getByRole('link', { name: /Sign in with/ }).count()).toBe(1)
    // Signed in 50 minutes ago at the IdP: the policy's 1 h auth age leaves ~10 minutes of access.
    await rig.signIn(page, { ...ALICE, authTimeOffsetSeconds: 50 * 60 })

    const { config, download } = await makeConfig(page, 'alice laptop')
    expect(download).toBe(config)
    const parsed = parseWireGuardConfig(download)
    expect(parsed.peers).toHaveLength(1)
    expect(parsed.peers[0]!.allowedIps).toEqual(expect.arrayContaining(['10.10.0.0/16', '192.168.10.0/24']))
    const privateKey = parsed.interface.privateKey
    const publicKey = encodeBase64(x25519.getPublicKey(decodeBase64(privateKey)!))

    expect(await decodeQr(page, '#config-qr')).toBe(config)

    const leases = await myLeases(page)
    expect(leases).toHaveLength(1)
    expect(leases[0]!.publicKey).toBe(publicKey)

    const texts = await requestTexts(requests)
    expect(texts.some((t) => t.includes(publicKey))).toBe(true)
    for (const text of texts) expect(text).not.toContain(privateKey)
    // Not in any other spelling either (URL-encoded, base64url).
    const variants = [
      encodeURIComponent(privateKey),
      privateKey.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
    ]
    for (const text of texts) for (const v of variants) expect(text).not.toContain(v)

    alice = {
      page,
      leaseId: String(leases[0]!.id),
      publicKey,
      address: String((leases[0]!.addresses as string[])[0]),
      expiresAt: String(leases[0]!.expiresAt),
    }
  })

  it('shows the lease on my access with a countdown that warns in the last 15 minutes', async () => {
    const { page } = alice
    await page.goto('/')
    const card = page.locator(`[data-lease-id="${alice.leaseId}"]`)
    expect(await card.locator('.countdown.warning').textContent({ timeout: 5_000 })).toMatch(
      /^ends in \d+ min\. Renew now/,
    )
    await page.screenshot({ path: `${SHOTS}/my-access-warning.png`, fullPage: true })
  })

  it('renews: same key and address, only a later expiry, after a fresh sign-in', async () => {
    const { page } = alice
    // The sign-in is 50 minutes old, so renewing now would not move the expiry: the page sends the user
    // to sign in again first (prompt=login), then back to the same lease.
    rig.idp.setScenario(ALICE)
    await page.goto('/')
    await page
      .locator(`[data-lease-id="${alice.leaseId}"]`)
      .getByRole('link', { name: 'Sign in again and renew' })
      .click()
    await page.waitForURL((url) => url.origin === rig.idp.issuer)
    expect(rig.idp.authorizationRequests.at(-1)?.get('prompt')).toContain('login')
    await page.locator('form[method="post"] button[type="submit"]').first().click()
    await page.waitForURL(
      (url) => url.origin === rig.origin && url.searchParams.get('renew') === alice.leaseId,
    )
    await page
      .locator(`[data-lease-id="${alice.leaseId}"]`)
      .getByRole('button', { name: 'Renew alice laptop', exact: true })
      .click()
    await page.waitForURL(/notice=renewed/)
    const [lease] = await myLeases(page)
    expect(lease!.id).toBe(alice.leaseId)
    expect(lease!.publicKey).toBe(alice.publicKey)
    expect((lease!.addresses as string[])[0]).toBe(alice.address)
    expect(Date.parse(String(lease!.expiresAt))).toBeGreaterThan(Date.parse(alice.expiresAt) + 30 * 60_000)
    expect(await page.locator(`[data-lease-id="${alice.leaseId}"] .countdown.warning`).count()).toBe(0)
  })

  it('lets an admin revoke the lease, and the user’s open page shows it ended', async () => {
    const { page: admin } = await rig.newPage()
    await rig.signIn(admin, ROOT)
    await admin.goto('/admin')
    expect(await admin.locator('#policy-hash').textContent()).toBe(rig.server.policySource.current().hash)
    await admin.goto('/admin/leases?state=active&user=alice')
    const row = admin.locator(`tr[data-lease-id="${alice.leaseId}"]`)
    await row.getByRole('button', { name: 'Revoke' }).click()
    // Revoking asks first (issue 14.5).
    await admin.getByRole('button', { name: /^Revoke “/ }).click()
    await admin.waitForURL(/notice=revoked/)

    // The user's page was left open on "my access"; its poll picks the revocation up.
    const card = alice.page.locator(`[data-lease-id="${alice.leaseId}"]`)
    await card.locator('.state.revoked').waitFor({ timeout: 15_000 })
    expect(await card.locator('[data-ended-message]').textContent()).toMatch(
      /^Revoked .* by an administrator\.$/,
    )

    await admin.goto('/admin/audit?type=lease.revoked')
    expect(await admin.locator('#audit tbody tr').count()).toBeGreaterThan(0)
    const exported = await admin.request.get(
      String(await admin.locator('#audit-export').getAttribute('href')),
    )
    const lines = (await exported.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string })
    expect(lines.every((l) => l.type === 'lease.revoked')).toBe(true)
  })

  it('makes a user without IdP MFA enrol TOTP; a wrong and a replayed code are refused; a right one gets a lease', async () => {
    const { page } = await rig.newPage()
    await rig.signIn(page, BOB)
    await page.goto('/devices/new')
    await page.waitForURL(/\/step-up\?returnTo=/)
    // Without IdP MFA, the first factor needs a one-time code from an admin (KEYGATE_FIRST_FACTOR default).
    await page.getByLabel('Enrolment code from your administrator').fill(await enrolmentCodeFor(BOB.email!))
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click()
    const uri = await decodeQr(page, '#totp-qr svg')
    expect(uri).toMatch(/^otpauth:\/\/totp\//)
    const totp = URI.parse(uri!) as TOTP
    const secret = (await page.locator('#totp-secret').textContent())!.trim()
    expect(totp.secret.base32).toBe(secret)
    const codeAt = (ms: number) => totp.generate({ timestamp: ms })
    const right = codeAt(Date.now())
    const wrong = right === '000000' ? '111111' : '000000'

    await page.getByLabel(/6-digit code/).fill(wrong)
    await page.getByRole('button', { name: 'Confirm and continue' }).click()
    expect(await page.locator('.notice.bad[role="alert"]').textContent()).toContain('not right')

    await page.getByLabel(/6-digit code/).fill(right)
    await page.getByRole('button', { name: 'Confirm and continue' }).click()
    await page.waitForURL(/\/devices\/new$/)

    // A new session must step up again, and the code already used is refused within its window.
    await rig.signIn(page, BOB)
    await page.goto('/devices/new')
    await page.waitForURL(/\/step-up\?returnTo=/)
    await page.getByLabel('Code from your authenticator app').fill(right)
    await page.getByRole('button', { name: 'Verify code' }).click()
    expect(await page.locator('.notice.bad[role="alert"]').textContent()).toContain('already used')

    // The next period's code is inside the window and later than the one used.
    await page.getByLabel('Code from your authenticator app').fill(codeAt(Date.now() + 30_000))
    await page.getByRole('button', { name: 'Verify code' }).click()
    await page.waitForURL(/\/devices\/new$/)
    await makeConfig(page, 'bob phone')
    const [lease] = await myLeases(page)
    expect(lease!.stepUp).toBe('totp')

    const audit = await rig.server.broker.store.listAudit({ type: 'step_up.enrolled', limit: 10 })
    expect(audit.map((e) => e.data.method)).toContain('totp')
  })

  it('registers and uses a security key through Chromium’s virtual authenticator', async () => {
    const { context, page } = await rig.newPage()
    const cdp = await context.newCDPSession(page)
    await cdp.send('WebAuthn.enable')
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'usb',
        hasResidentKey: false,
        hasUserVerification: true,
        isUserVerified: true,
      },
    })
    await rig.signIn(page, CAROL)
    await page.goto('/devices/new')
    await page.waitForURL(/\/step-up\?returnTo=/)
    await page.getByLabel('Enrolment code from your administrator').fill(await enrolmentCodeFor(CAROL.email!))
    await page.getByLabel('Name for the key').fill('virtual key')
    await page.getByRole('button', { name: 'Register a security key or passkey' }).click()
    await page.waitForURL(/\/devices\/new$/)

    await rig.signIn(page, CAROL)
    await page.goto('/devices/new')
    await page.waitForURL(/\/step-up\?returnTo=/)
    await page.getByRole('button', { name: 'Use security key or passkey' }).click()
    await page.waitForURL(/\/devices\/new$/)
    await makeConfig(page, 'carol tablet')
    const [lease] = await myLeases(page)
    expect(lease!.stepUp).toBe('webauthn')
  })

  it('shows a user the policy allows nothing a denial page with the reasons', async () => {
    const { page } = await rig.newPage()
    await rig.signIn(page, { sub: 'dave', email: 'dave@example.com', groups: ['sales'], amr: ['pwd', 'otp'] })
    const response = await page.goto('/devices/new')
    expect(response?.status()).toBe(403)
    expect(await page.locator('h1').textContent()).toContain('do not have VPN access')
    expect(await page.locator('.reasons').textContent()).toContain('NO_MATCHING_GRANT')
  })

  it('sends the security headers: CSP without inline script, no framing', async () => {
    const { page } = await rig.newPage()
    const response = await page.goto('/')
    const headers = response!.headers()
    expect(headers['content-security-policy']).toContain("script-src 'self'")
    expect(headers['content-security-policy']).not.toContain('unsafe-inline')
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'")
    expect(await page.locator('script:not([src])').count()).toBe(0)
  })
})

describe('static assets', () => {
  it('the generated module is up to date with the page sources', async () => {
    const { buildAssets, GENERATED_PATH, renderAssetsModule } = await import(
      '../../src/adapters/http/static/build-assets.ts'
    )
    expect(readFileSync(GENERATED_PATH, 'utf8')).toBe(renderAssetsModule(await buildAssets()))
  })
})
