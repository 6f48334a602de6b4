// The portal as a person meets it on a phone and on a desktop, in Chromium against the whole broker:
// every page at 390 and 1280 px wide with no sideways scrolling and no serious or critical axe-core
// finding (light and dark), times written for people (local time with the zone, UTC on hover, "ends
// in 13 min"), a revoked device saying when and by whom, and the admin console's reload errors, audit
// filters and gateway removal. With KEYGATE_UPDATE_SCREENSHOTS=1 it refreshes docs/screenshots/ at both
// widths (`<page>.png` at 1280 px, `<page>-phone.png` at 390 px).
import { mkdtempSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { x25519 } from '@noble/curves/ed25519.js'
import axe from 'axe-core'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeBase64 } from '../../src/core/peers/keys.ts'
import type { TestIdpScenario } from '../support/test-idp.ts'
import { enrolTestGateway, type PortalRig, startPortalRig } from './portal-harness.ts'

const POLICY = `{
  "network": { "ipv4": "100.97.0.0/16", "ipv6": "fd7a:115c:a1e1::/64", "dns": ["10.10.0.53"] },
  "gateways": {
    "eu-1": { "endpoint": "eu-1.vpn.example.com:51820", "routes": { "prod": ["10.10.0.0/16"], "office": ["192.168.10.0/24"] } },
    "us-east-backup-gateway-1": { "endpoint": "us-east-backup-gateway-1.vpn.example.com:51820", "routes": { "lab": ["10.20.0.0/16", "fd00:20::/48"] } },
  },
  "groups": {
    "group:eng": ["idp:*:engineering"],
    "group:admins": ["user:root@example.com"],
    "group:lab": ["idp:*:lab"],
  },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "12h" } },
  "grants": [
    { "src": ["group:eng"], "dst": ["eu-1:*"], "assurance": "mfa", "ttl": "8h", "onUnmet": "stepUp" },
    { "src": ["group:lab"], "dst": ["us-east-backup-gateway-1:*"], "ttl": "1h" },
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
const DAVE: TestIdpScenario = {
  sub: 'dave',
  email: 'dave@example.com',
  groups: ['sales'],
  amr: ['pwd', 'otp'],
}
const ERIN: TestIdpScenario = {
  sub: 'erin',
  email: 'erin@example.com',
  groups: ['lab'],
  amr: ['pwd', 'otp'],
}
const ROOT: TestIdpScenario = {
  sub: 'root',
  email: 'root@example.com',
  name: 'Root',
  groups: [],
  amr: ['pwd', 'hwk'],
}

// The committed screenshots change only on purpose, and only the pages the docs show.
const UPDATE_SHOTS = process.env.KEYGATE_UPDATE_SCREENSHOTS === '1'
const SCRATCH = mkdtempSync(join(tmpdir(), 'keygate-shots-'))
const DOCUMENTED = new Set([
  'sign-in',
  'my-access',
  'new-device',
  'step-up',
  'totp-enrol',
  'denied',
  'device-approval',
  'admin-overview',
  'admin-leases',
  'admin-audit',
  'admin-reload-failed',
])
const shotsFor = (name: string) => (UPDATE_SHOTS && DOCUMENTED.has(name) ? 'docs/screenshots' : SCRATCH)
const WIDTHS = [390, 1280] as const

let rig: PortalRig

beforeAll(async () => {
  rig = await startPortalRig(POLICY)
  await enrolTestGateway(rig.server, 'eu-1')
})

afterAll(async () => {
  await rig?.close()
})

/** A page in a browser whose clock reads Berlin time, so local time and UTC differ. */
async function berlinPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await rig.browser.newContext({
    baseURL: rig.origin,
    viewport: { width: 1280, height: 900 },
    timezoneId: 'Europe/Berlin',
    locale: 'en-GB',
  })
  return { context, page: await context.newPage() }
}

interface AxeFinding {
  id: string
  impact: string | null
  help: string
  targets: string[]
}

async function axeFindings(page: Page): Promise<AxeFinding[]> {
  // Through the DevTools protocol, not a <script>: the portal's CSP rightly refuses inline script.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axe.source)
  return page.evaluate(async () => {
    const result = await (window as unknown as { axe: typeof axe }).axe.run(document, {
      resultTypes: ['violations'],
    })
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({
        id: v.id,
        impact: v.impact ?? null,
        help: v.help,
        targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 5),
      }))
  })
}

async function overflow(page: Page) {
  return page.evaluate(() => {
    const width = window.innerWidth
    const wide = [...document.querySelectorAll<HTMLElement>('body *')]
      .filter((e) => e.getBoundingClientRect().right > width + 0.5 && e.offsetParent !== null)
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${e.className}`)
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth: width, wide }
  })
}

/**
 * Checks the page as it stands at both widths (and axe in dark mode too), and writes its screenshots.
 * The page is not reloaded: some are the answer to a POST.
 */
async function checkPage(page: Page, name: string): Promise<void> {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 })
    const o = await overflow(page)
    expect(o.innerWidth).toBe(width)
    expect(o.scrollWidth, `${name} at ${width}px scrolls sideways: ${JSON.stringify(o)}`).toBeLessThanOrEqual(
      o.innerWidth,
    )
    expect({ page: name, width, findings: await axeFindings(page) }).toEqual({
      page: name,
      width,
      findings: [],
    })
    const suffix = width === 1280 ? '' : '-phone'
    await page.screenshot({ path: `${shotsFor(name)}/${name}${suffix}.png`, fullPage: true })
  }
  await page.emulateMedia({ colorScheme: 'dark' })
  expect({ page: name, dark: true, findings: await axeFindings(page) }).toEqual({
    page: name,
    dark: true,
    findings: [],
  })
  await page.emulateMedia({ colorScheme: 'light' })
}

async function makeConfig(page: Page, name: string): Promise<void> {
  await page.goto('/devices/new')
  await page.getByLabel('Device name').fill(name)
  await page.getByRole('button', { name: 'Create configuration' }).click()
  await page.locator('#device-result').waitFor({ state: 'visible' })
}

async function identityIdOf(email: string): Promise<string> {
  const events = await rig.server.broker.store.listAudit({ type: 'login.succeeded', limit: 100 })
  const id = events.find((e) => e.actor === email)?.identityId
  expect(id).toBeTruthy()
  return id!
}

describe('portal on a phone and a desktop', () => {
  let admin: Page
  let alice: Page

  beforeAll(async () => {
    admin = (await rig.newPage()).page
    await rig.signIn(admin, ROOT)
  })

  it('sign-in', async () => {
    const { page } = await rig.newPage()
    await page.goto('/')
    await checkPage(page, 'sign-in')
  })

  it('new device: the form, then the config (whose text must not push the page wider)', async () => {
    alice = (await berlinPage()).page
    await rig.signIn(alice, ALICE)
    await alice.goto('/devices/new')
    await checkPage(alice, 'new-device-form')
    await makeConfig(alice, 'alice work laptop (2nd floor desk 14)')
    await alice.locator('#device-result details summary').click()
    await checkPage(alice, 'new-device')
    await alice.setViewportSize({ width: 390, height: 900 })
    expect(await alice.locator('#phone-import-hint').textContent()).toContain('Import from file')
    expect(await alice.locator('#phone-import-hint').isVisible()).toBe(true)
  })

  it('my access', async () => {
    await makeConfig(alice, 'alice phone')
    await alice.goto('/')
    await checkPage(alice, 'my-access')
    // Revoking asks first, on a page of its own.
    await alice.getByRole('button', { name: 'Revoke alice phone', exact: true }).click()
    await alice.locator('#confirm-form').waitFor()
    await checkPage(alice, 'revoke-confirm')
  })

  it('new device when no granted gateway is online yet', async () => {
    const { page } = await rig.newPage()
    await rig.signIn(page, ERIN)
    const response = await page.goto('/devices/new')
    expect(response?.status()).toBe(409)
    await checkPage(page, 'no-gateway')
  })

  it('step-up and TOTP enrolment', async () => {
    const { page } = await rig.newPage()
    await rig.signIn(page, BOB)
    await page.goto('/devices/new')
    await page.waitForURL(/\/step-up\?returnTo=/)
    await checkPage(page, 'step-up')
    const response = await admin.request.post(
      `/api/v1/admin/identities/${await identityIdOf(BOB.email)}/enrolment-codes`,
    )
    expect(response.status()).toBe(201)
    const { code } = (await response.json()) as { code: string }
    await page.getByLabel('Enrolment code from your administrator').fill(code)
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click()
    await page.locator('#totp-qr').waitFor()
    await checkPage(page, 'totp-enrol')
    // On a phone the app is on the same device: the page offers the otpauth:// link to tap.
    await page.setViewportSize({ width: 390, height: 900 })
    const link = page.getByRole('link', { name: 'Open in your authenticator app' })
    expect(await link.isVisible()).toBe(true)
    expect(await link.getAttribute('href')).toMatch(/^otpauth:\/\/totp\/.*secret=/)
    await page.setViewportSize({ width: 1280, height: 900 })
    expect(await link.isVisible()).toBe(false)
  })

  it('denial', async () => {
    const { page } = await rig.newPage()
    await rig.signIn(page, DAVE)
    const response = await page.goto('/devices/new')
    expect(response?.status()).toBe(403)
    await checkPage(page, 'denied')
  })

  it('error page', async () => {
    // A signed-in user who is not an admin opens the console.
    const response = await alice.goto('/admin')
    expect(response?.status()).toBe(403)
    await checkPage(alice, 'error')
  })

  it('device approval', async () => {
    const publicKey = encodeBase64(x25519.getPublicKey(x25519.utils.randomSecretKey()))
    const started = await alice.request.post('/api/v1/device/authorize', {
      data: { public_key: publicKey, name: 'alice-build-server-with-a-long-name.example.internal' },
    })
    expect(started.status()).toBe(200)
    const { user_code } = (await started.json()) as { user_code: string }
    await alice.goto(`/device?user_code=${encodeURIComponent(user_code)}`)
    await checkPage(alice, 'device-approval')
  })

  it('admin overview, leases and audit', async () => {
    await admin.goto('/admin')
    await checkPage(admin, 'admin-overview')
    await admin.goto('/admin/leases')
    await checkPage(admin, 'admin-leases')
    await admin.goto('/admin/audit')
    await checkPage(admin, 'admin-audit')
  })
})

describe('times and counts people can read', () => {
  let alice: Page
  let admin: Page
  const localFormat = new Intl.DateTimeFormat('en-GB', {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
    timeZone: 'Europe/Berlin',
  })

  beforeAll(async () => {
    alice = (await berlinPage()).page
    await rig.signIn(alice, { ...ALICE, sub: 'alice-times', email: 'alice-times@example.com' })
    admin = (await rig.newPage()).page
    await rig.signIn(admin, ROOT)
  })

  it('says "ends in 7 h 59 min" and the local time with its zone, UTC on hover; renewing says the new expiry', async () => {
    await makeConfig(alice, 'times laptop')
    expect(await alice.locator('#lease-summary').textContent()).toMatch(/Access ends in (7 h 59 min|8 h)\./)
    await alice.goto('/')
    const card = alice.locator('#active-leases [data-lease-name="times laptop"]')
    expect(await card.locator('.countdown').textContent()).toMatch(/^ends in (7 h 59 min|8 h)$/)
    const time = card.locator('time[data-local]').first()
    const iso = String(await time.getAttribute('datetime'))
    expect(await time.getAttribute('title')).toMatch(/^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC$/)
    expect(await time.textContent()).toBe(localFormat.format(new Date(iso)))
    expect(await time.textContent()).toMatch(/CET|CEST/)

    await card.getByRole('button', { name: 'Renew times laptop', exact: true }).click()
    await alice.waitForURL(/notice=renewed/)
    const notice = alice.locator('.notice.ok[role="status"]').first()
    expect(await notice.textContent()).toMatch(/Access now ends .*(CET|CEST) \(in (7 h 59 min|8 h)\)\./)
  })

  it('moves a device revoked elsewhere out of "Active devices" and says when and by whom', async () => {
    // Made from another browser: an admin's revocation also ends the session that made the lease, and
    // this page's session must live on to watch.
    const tablet = (await berlinPage()).page
    await rig.signIn(tablet, { ...ALICE, sub: 'alice-times', email: 'alice-times@example.com' })
    await makeConfig(tablet, 'times tablet')
    await alice.goto('/')
    const leaseId = String(
      await alice.locator('#active-leases [data-lease-name="times tablet"]').getAttribute('data-lease-id'),
    )
    // The admin's button names the device and its owner.
    await admin.goto('/admin/leases?user=alice-times')
    expect(
      await admin
        .getByRole('button', { name: 'Revoke times tablet of alice-times@example.com', exact: true })
        .count(),
    ).toBe(1)
    const revoked = await admin.request.delete(`/api/v1/admin/leases/${leaseId}`)
    expect(revoked.status()).toBe(200)

    // The open page's poll picks it up.
    const ended = alice.locator(`#ended-leases [data-lease-id="${leaseId}"]`)
    await ended.waitFor({ timeout: 15_000 })
    expect(await alice.locator(`#active-leases [data-lease-id="${leaseId}"]`).count()).toBe(0)
    expect(await alice.locator('#active-leases [data-lease-name="times laptop"]').count()).toBe(1)
    expect(await ended.locator('[data-ended-message]').textContent()).toMatch(
      /^Revoked \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d (CET|CEST) by an administrator\.$/,
    )

    // A fresh page names the administrator, with the time in the same format.
    await alice.reload()
    const message = alice.locator(`#ended-leases [data-lease-id="${leaseId}"] [data-ended-message]`)
    expect((await message.textContent())?.replace(/\s+/g, ' ').trim()).toMatch(
      /^Revoked \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d (CET|CEST) by an administrator \(root@example\.com\)\.$/,
    )
    expect(await message.locator('time').getAttribute('title')).toMatch(/UTC$/)
  })
})

describe('admin console', () => {
  let admin: Page

  beforeAll(async () => {
    admin = (await rig.newPage()).page
    await rig.signIn(admin, ROOT)
  })

  it('shows a failed reload with its failing tests on the page, and clears it after a good one', async () => {
    const path = rig.server.policySource.status().path
    const good = await readFile(path, 'utf8')
    await writeFile(path, good.replace('"allow": ["eu-1:prod", "eu-1:office"]', '"allow": ["eu-1:prod"]'))
    try {
      expect((await rig.server.policySource.reload()).result).toBe('failed')
      await admin.goto('/admin')
      const errors = admin.locator('#policy-reload-errors')
      expect(await errors.locator('h4').allTextContents()).toEqual(['Failing tests'])
      expect(await errors.textContent()).toContain('POLICY_TEST_FAILED')
      expect(await errors.locator('pre').first().textContent()).toContain('office')
      await checkPage(admin, 'admin-reload-failed')
    } finally {
      await writeFile(path, good)
    }
    expect((await rig.server.policySource.reload()).result).not.toBe('failed')
    await admin.goto('/admin')
    expect(await admin.locator('#policy-reload-errors').count()).toBe(0)
  })

  it('filters the audit log by an email and the start of an event type, and exports the same', async () => {
    await admin.goto('/admin/audit')
    await admin.getByLabel('Event type starts with').fill('lease.')
    await admin.getByLabel('Person (email or identity id)').fill('Alice-Times@example.com')
    await admin.getByRole('button', { name: 'Filter' }).click()
    await admin.waitForURL(/who=/)
    const types = await admin.locator('#audit tbody tr td[data-label="Event"]').allTextContents()
    expect(types.map((t) => t.trim())).toEqual(expect.arrayContaining(['lease.revoked', 'lease.issued']))
    expect(types.every((t) => t.trim().startsWith('lease.'))).toBe(true)
    const exported = await admin.request.get(
      String(await admin.locator('#audit-export').getAttribute('href')),
    )
    const lines = (await exported.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string })
    expect(lines.map((l) => l.type).sort()).toEqual(types.map((t) => t.trim()).sort())
  })

  it('explains "not enrolled" with the commands, and removes a gateway after asking', async () => {
    const name = 'us-east-backup-gateway-1'
    await admin.goto('/admin')
    const row = admin.locator(`#gateways tr[data-gateway="${name}"]`)
    expect(await row.locator('.state').first().textContent()).toBe('not enrolled')
    await row.getByText(`How to enrol ${name}`).click()
    expect(await row.locator('details pre').allTextContents()).toEqual([
      `keygate gateway add ${name}`,
      `keygate gateway run --broker ${rig.origin} --token-file /root/${name}.token --interface wg0`,
    ])
    await checkPage(admin, 'admin-gateways-help')

    await enrolTestGateway(rig.server, name)
    await admin.goto('/admin')
    await row.getByRole('link', { name: `Remove gateway ${name}` }).click()
    await admin.waitForURL(/\/remove$/)
    await checkPage(admin, 'admin-remove-gateway')
    // Asking is not doing.
    expect(
      (await rig.server.broker.store.listGateways()).find((g) => g.name === name)?.enrolledAt,
    ).not.toBeNull()
    await admin.getByRole('button', { name: `Remove ${name}` }).click()
    await admin.waitForURL(/\/admin\?removed=/)
    expect(await admin.locator('.notice.ok').textContent()).toContain(`Gateway ${name} removed`)
    expect(await row.locator('.state').first().textContent()).toBe('not enrolled')
    const audit = await rig.server.broker.store.listAudit({ type: 'gateway.removed', limit: 10 })
    expect(audit.map((e) => [e.gatewayId, e.actor])).toEqual([[name, 'root@example.com']])
  })
})

describe('every page', () => {
  it('has a favicon and a skip link to the main content', async () => {
    const { page } = await rig.newPage()
    await page.goto('/')
    const icon = await page.request.get(String(await page.locator('link[rel="icon"]').getAttribute('href')))
    expect(icon.status()).toBe(200)
    expect(icon.headers()['content-type']).toBe('image/svg+xml')
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content')
    await page.keyboard.press('Enter')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main')
  })
})
