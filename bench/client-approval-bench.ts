/**
 * The terminal client's sign-in, end to end (issue 12): the time from the approval click in a real browser
 * to the first packet answered through the tunnel `keygate up` brings up. Median of 10.
 *
 * Set-up, as test/e2e/terminal-client.test.ts: the broker (Node server, real oidc-provider, the test
 * database) on the host end of a veth into the client's namespace; a gateway running wireguard-go with the
 * real agent and its nftables filter in its namespace; a service host behind it; the `keygate` CLI in the
 * client's namespace with a fresh state directory (a new key) per sample; Chromium (playwright-core)
 * approving, signed in once through the test IdP. Each sample: `keygate up`, the click on Approve, then
 * single pings to the service until one is answered (each attempt costs a process start, ~10-30 ms, which
 * bounds the resolution), then `keygate logout`. The CLI collects the approval on its RFC 8628 polling
 * interval, which is most of the figure.
 *
 * Needs root, wireguard-go, nft and /usr/bin/chromium; reports `skipped` otherwise.
 * Run alone: `npm run bench -- clientApproval`.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { access, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Page } from 'playwright-core'
import { CHROMIUM_ARGS } from '../test/e2e/portal-harness.ts'
import { CLIENT_SERVICE, clientPolicy } from '../test/fixtures/client-policy.ts'
import { createNetnsLab, missingForNetnsLab } from '../test/support/netns.ts'
import { enrollLabGateway, linkHostTo, until } from '../test/support/network-lab.ts'
import { startTestBroker } from '../test/support/test-broker.ts'
import type { TestIdpScenario } from '../test/support/test-idp.ts'

const SAMPLES = Number(process.env.KEYGATE_BENCH_CLIENT_SAMPLES ?? 10)
const REPO = fileURLToPath(new URL('..', import.meta.url))
const CLI = fileURLToPath(new URL('../src/entrypoints/cli.ts', import.meta.url))
const ENDPOINT = { client: '198.18.6.1/30', gateway: '198.18.6.2/30', endpoint: '198.18.6.2:51820' }
const DANA: TestIdpScenario = {
  sub: 'bench-dana',
  email: 'dana@example.com',
  name: 'dana',
  groups: ['steady'],
  amr: ['pwd', 'otp'],
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export async function benchClientApproval(): Promise<unknown> {
  const missing = await missingForNetnsLab({ nft: true })
  if (
    await access('/usr/bin/chromium').then(
      () => false,
      () => true,
    )
  )
    missing.push('chromium')
  if (missing.length > 0) return { skipped: `missing ${missing.join(', ')}` }

  const lab = createNetnsLab()
  const workDir = await mkdtemp(join(tmpdir(), `keygate-client-bench-${lab.id}-`))
  const children: ChildProcess[] = []
  let cleanup: Array<() => Promise<unknown>> = []
  try {
    const cl = await lab.namespace('cl')
    const gw = await lab.namespace('gw')
    const svc = await lab.namespace('svc')
    await lab.vethPair(
      { namespace: cl, address: ENDPOINT.client },
      { namespace: gw, address: ENDPOINT.gateway },
    )
    await lab.vethPair(
      { namespace: gw, address: `${CLIENT_SERVICE.gateway}/24` },
      { namespace: svc, address: `${CLIENT_SERVICE.host}/24` },
    )
    await lab.exec(gw, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    await lab.exec(svc, ['ip', 'route', 'add', 'default', 'via', CLIENT_SERVICE.gateway])
    const hostLink = await linkHostTo(lab, cl)
    cleanup.push(() => hostLink.remove())
    const broker = await startTestBroker({
      policy: clientPolicy({ endpoint: ENDPOINT.endpoint, ttl: '1h', freshAge: '1h' }),
      host: hostLink.hostAddress,
    })
    cleanup = [() => broker.close(), ...cleanup]
    const gateway = await enrollLabGateway(lab, broker, { namespace: gw, name: 'gw-a', overlayPrefix: 20 })
    cleanup = [() => gateway.stop(), ...cleanup]
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
    cleanup = [() => browser.close(), ...cleanup]
    const page = await (await browser.newContext()).newPage()

    const keygate = (args: string[], stateDir: string) => {
      const child = spawn(
        'ip',
        ['netns', 'exec', cl, process.execPath, '--import', 'tsx', CLI, ...args, '--state-dir', stateDir],
        { cwd: REPO, env: { ...process.env, KEYGATE_NO_BROWSER: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
      )
      children.push(child)
      const out: string[] = []
      child.stdout?.on('data', (d: Buffer) => out.push(...d.toString('utf8').split('\n')))
      child.stderr?.on('data', (d: Buffer) => out.push(...d.toString('utf8').split('\n')))
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
      return { out, exited }
    }

    const samples: number[] = []
    for (let i = 0; i < SAMPLES; i++) {
      const stateDir = join(workDir, `state-${i}`)
      const up = keygate(['up', '--broker', broker.url, '--name', `bench ${i}`], stateDir)
      const link = await until(
        'the approval link',
        () => up.out.flatMap((line) => /go straight to (\S+)/.exec(line)?.[1] ?? [])[0] ?? null,
        60_000,
      )
      await openApproval(page, link, broker.idp.issuer, () => broker.idp.setScenario(DANA))
      const clicked = Date.now()
      await page.locator('#device-approve').click()
      const answered = await until(
        'the first answered ping through the tunnel',
        async () => ((await lab.ping(cl, CLIENT_SERVICE.host, 1_000)) ? Date.now() : null),
        30_000,
        0,
      )
      samples.push(answered - clicked)
      await page.waitForLoadState()
      const logout = keygate(['logout'], stateDir)
      await logout.exited
      await up.exited
    }
    return {
      samples: SAMPLES,
      medianMs: median(samples),
      minMs: Math.min(...samples),
      maxMs: Math.max(...samples),
      samplesMs: samples,
    }
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM')
    for (const step of cleanup) await step().catch(() => {})
    await lab.cleanup().catch(() => {})
    await rm(workDir, { recursive: true, force: true })
  }
}

/** Opens the approval link as a person would: signs in (the first time) until the Approve button shows. */
async function openApproval(page: Page, link: string, issuer: string, setScenario: () => void) {
  setScenario()
  await page.goto(link)
  for (let step = 0; step < 6; step++) {
    const url = new URL(page.url())
    if (url.pathname === '/device' && (await page.locator('#device-approve').count()) > 0) return
    const signIn = page.getByRole('link', { name: /Sign in/ })
    if (url.origin === issuer) {
      await page.locator('form[method="post"] button[type="submit"]').first().click()
    } else if ((await signIn.count()) > 0) {
      await signIn.first().click()
    }
    await page.waitForLoadState()
  }
  throw new Error(`no approval page at ${page.url()}`)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchClientApproval(), null, 2))
}
