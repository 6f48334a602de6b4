/**
 * The portal's end-to-end rig: the whole broker (Node server, real oidc-provider, fresh database) on
 * `http://localhost:PORT` and Debian's Chromium through playwright-core.
 *
 * Why not test/support/test-broker.ts as is: WebAuthn refuses an IP address as relying party id, and that
 * harness serves on 127.0.0.1. This rig builds the same server with a localhost URL, and tests it as it
 * ships: the step-up routes are the ones the Node entrypoint mounts, never added here.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { x25519 } from '@noble/curves/ed25519.js'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { silentLogger } from '../../src/adapters/runtime/json-logger.ts'
import { createEnrollmentToken, enrollGateway } from '../../src/core/broker/gateway-feed.ts'
import { encodeBase64 } from '../../src/core/peers/keys.ts'
import { PROTOCOL_VERSION } from '../../src/core/sync/protocol.ts'
import { type NodeServer, startNodeServer } from '../../src/entrypoints/node-server.ts'
import { freeLoopbackPort, TEST_IDP_ID } from '../support/test-broker.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-db.ts'
import { startTestIdp, type TestIdp, type TestIdpScenario } from '../support/test-idp.ts'

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
]

export interface PortalRig {
  origin: string
  server: NodeServer
  idp: TestIdp
  db: TestDatabase
  browser: Browser
  newPage(): Promise<{ context: BrowserContext; page: Page }>
  /** Signs in through the portal's button and the IdP's page, as a person would. */
  signIn(page: Page, scenario: TestIdpScenario, startPath?: string): Promise<void>
  close(): Promise<void>
}

export async function startPortalRig(policy: string): Promise<PortalRig> {
  const port = await freeLoopbackPort()
  const origin = `http://localhost:${port}`
  const idp = await startTestIdp({ redirectUris: [`${origin}/auth/${TEST_IDP_ID}/callback`] })
  const db = await createTestDatabase()
  const dataDir = await mkdtemp(join(tmpdir(), 'keygate-portal-'))
  const policyPath = join(dataDir, 'policy.hujson')
  await writeFile(policyPath, policy)
  const server = await startNodeServer({
    env: {
      KEYGATE_URL: origin,
      HOST: '127.0.0.1',
      PORT: String(port),
      KEYGATE_DATA_DIR: dataDir,
      KEYGATE_POLICY: policyPath,
      KEYGATE_SECRET: randomBytes(32).toString('base64url'),
      KEYGATE_DEV_IDP: 'off',
      KEYGATE_IDP_TEST_ISSUER: idp.issuer,
      KEYGATE_IDP_TEST_CLIENT_ID: idp.clientId,
      KEYGATE_IDP_TEST_CLIENT_SECRET: idp.clientSecret,
      KEYGATE_IDP_TEST_PROFILE: 'generic',
      // A person clicks far slower than these tests; the limits have their own tests.
      KEYGATE_RATE_LIMIT_AUTH: 'off',
      KEYGATE_RATE_LIMIT_ISSUE: 'off',
      ...(db.databaseUrl === undefined ? {} : { DATABASE_URL: db.databaseUrl }),
    },
    database: db.database,
    logger: silentLogger,
    watchPolicy: false,
  })
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP localhost 127.0.0.1'],
  })
  return {
    origin,
    server,
    idp,
    db,
    browser,
    async newPage() {
      const context = await browser.newContext({ baseURL: origin, viewport: { width: 1100, height: 900 } })
      return { context, page: await context.newPage() }
    },
    async signIn(page, scenario, startPath = '/') {
      idp.setScenario(scenario)
      await page.goto(startPath)
      const button = page.getByRole('link', { name: /Sign in with/ })
      // Signed in already: sign in again, as the portal's "sign in again" links do (prompt=login).
      if ((await button.count()) === 0) await page.goto(`/auth/${TEST_IDP_ID}/login?stepUp=1`)
      else await button.first().click()
      await page.waitForURL((url) => url.origin === idp.issuer)
      await page.locator('form[method="post"] button[type="submit"]').first().click()
      await page.waitForURL((url) => url.origin === origin && !url.pathname.startsWith('/auth/'))
    },
    async close() {
      await browser.close().catch(() => {})
      await server.close()
      await db.close()
      await idp.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/** Enrols a gateway the way the agent would, so issued configs carry its [Peer]. */
export async function enrolTestGateway(server: NodeServer, name: string): Promise<string> {
  const { token } = await createEnrollmentToken(server.broker, name, 'test')
  const publicKey = encodeBase64(x25519.getPublicKey(x25519.utils.randomSecretKey()))
  await enrollGateway(server.broker, token, { protocolVersion: PROTOCOL_VERSION, publicKey })
  return publicKey
}
