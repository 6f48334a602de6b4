// Issue 10's browser-side findings in real Chromium: the open redirect through `returnTo=/%09/evil.example`
// (Chromium strips the tab and would follow `//evil.example`), and the sign-in loop when 100 Entra-style
// group ids made a session cookie over the browser's 4 KB limit (the cookie now names a session only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { corePolicy } from '../fixtures/policies.ts'
import { TEST_IDP_ID } from '../support/test-broker.ts'
import { MFA_SCENARIO } from '../support/test-idp.ts'
import { type PortalRig, startPortalRig } from './portal-harness.ts'

let rig: PortalRig

beforeAll(async () => {
  rig = await startPortalRig(corePolicy())
})
afterAll(async () => {
  await rig?.close()
})

describe('security in the browser', () => {
  it('returnTo=/%09/evil.example does not send the browser to another origin after sign-in', async () => {
    const { context, page } = await rig.newPage()
    try {
      // Should the browser be sent there, it lands on this stand-in page rather than a DNS error.
      await context.route(/^https?:\/\/evil\.example\//, (route) =>
        route.fulfill({ status: 200, contentType: 'text/html', body: '<p>evil</p>' }),
      )
      rig.idp.setScenario(MFA_SCENARIO)
      await page.goto(`/auth/${TEST_IDP_ID}/login?returnTo=/%09/evil.example`)
      await page.waitForURL((url) => url.origin === rig.idp.issuer)
      await page.locator('form[method="post"] button[type="submit"]').first().click()
      await page.waitForURL(
        (url) =>
          url.hostname === 'evil.example' ||
          (url.origin === rig.origin && !url.pathname.startsWith('/auth/')),
      )
      expect(new URL(page.url()).origin).toBe(rig.origin)
    } finally {
      await context.close()
    }
  })

  it('100 Entra-style group ids sign in: no cookie over 4 KB, no loop, the groups are all there', async () => {
    const { context, page } = await rig.newPage()
    try {
      const groups = ['engineering', ...Array.from({ length: 100 }, () => crypto.randomUUID())]
      await rig.signIn(page, { ...MFA_SCENARIO, groups })
      for (const cookie of await context.cookies()) {
        expect(cookie.name.length + cookie.value.length, cookie.name).toBeLessThan(4096)
      }
      const me = await page.evaluate(async () => {
        const response = await fetch('/api/v1/me')
        return { status: response.status, body: await response.json() }
      })
      expect(me.status).toBe(200)
      expect(me.body.identity.groups).toHaveLength(101)
      // Signed in: the portal offers no sign-in button.
      await page.goto('/')
      expect(await page.getByRole('link', { name: /Sign in with/ }).count()).toBe(0)
    } finally {
      await context.close()
    }
  })
})
