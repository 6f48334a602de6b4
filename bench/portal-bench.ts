// The portal in Chromium against the whole broker (test oidc-provider, in-memory PGlite): time to first
// byte and bytes transferred for the sign-in and my-access pages (the document and what it loads), and
// the page's own key generation (WebCrypto X25519, and the @noble/curves fallback), as Navigation and
// User Timing in the browser report them. Medians over repeated loads; the machines are shared and noisy.
import type { Page } from 'playwright-core'
import { enrolTestGateway, startPortalRig } from '../test/e2e/portal-harness.ts'

const POLICY = `{
  "network": { "ipv4": "100.96.0.0/16", "dns": [] },
  "gateways": { "eu-1": { "endpoint": "eu-1.vpn.example.com:51820", "routes": { "prod": ["10.10.0.0/16"] } } },
  "groups": { "group:eng": ["idp:*:engineering"] },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "1h" } },
  "grants": [ { "src": ["group:eng"], "dst": ["eu-1:*"], "assurance": "mfa", "ttl": "8h" } ],
}`

export interface PageFigures {
  ttfbMsMedian: number
  /** Bytes on the wire for the document (headers + body) and for everything it loaded, first visit. */
  documentBytes: number
  totalBytesFirstVisit: number
  /** Repeat visits: hashed assets come from the cache, only the document travels. */
  totalBytesRepeatVisit: number
}

export interface PortalBenchResult {
  signIn: PageFigures
  myAccess: PageFigures
  keygen: { webcryptoMsMedian: number; nobleMsMedian: number; runs: number }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const value = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return Math.round(value * 100) / 100
}

async function measurePage(page: Page, path: string, loads: number): Promise<PageFigures> {
  const sample = () =>
    page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming
      const resources = performance.getEntriesByType('resource') as PerformanceResourceTiming[]
      return {
        ttfb: nav.responseStart - nav.requestStart,
        document: nav.transferSize,
        total: nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0),
      }
    })
  const client = await page.context().newCDPSession(page)
  await client.send('Network.clearBrowserCache')
  await page.goto(path, { waitUntil: 'load' })
  const first = await sample()
  const ttfbs = [first.ttfb]
  let repeat = first.total
  for (let i = 1; i < loads; i++) {
    await page.goto(path, { waitUntil: 'load' })
    const s = await sample()
    ttfbs.push(s.ttfb)
    repeat = s.total
  }
  return {
    ttfbMsMedian: median(ttfbs),
    documentBytes: first.document,
    totalBytesFirstVisit: first.total,
    totalBytesRepeatVisit: repeat,
  }
}

async function keygenMs(page: Page, noble: boolean): Promise<number> {
  await page.goto(noble ? '/devices/new?noble' : '/devices/new')
  await page.getByRole('button', { name: 'Create configuration' }).click()
  await page.locator('#device-result').waitFor({ state: 'visible' })
  return page.evaluate(() => performance.getEntriesByName('keygate-keygen')[0]!.duration)
}

export async function benchPortal(
  options: { loads?: number; keygenRuns?: number } = {},
): Promise<PortalBenchResult> {
  const loads = options.loads ?? 20
  const runs = options.keygenRuns ?? 10
  const rig = await startPortalRig(POLICY)
  try {
    await enrolTestGateway(rig.server, 'eu-1')
    const anonymous = await rig.newPage()
    const signIn = await measurePage(anonymous.page, '/', loads)
    const user = await rig.newPage()
    await rig.signIn(user.page, {
      sub: 'bench',
      email: 'bench@example.com',
      groups: ['engineering'],
      amr: ['pwd', 'otp'],
    })
    const myAccess = await measurePage(user.page, '/', loads)
    const webcrypto: number[] = []
    const noble: number[] = []
    for (let i = 0; i < runs; i++) {
      webcrypto.push(await keygenMs(user.page, false))
      noble.push(await keygenMs(user.page, true))
    }
    return {
      signIn,
      myAccess,
      keygen: { webcryptoMsMedian: median(webcrypto), nobleMsMedian: median(noble), runs },
    }
  } finally {
    await rig.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchPortal(), null, 2))
}
