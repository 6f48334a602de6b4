/**
 * The whole broker for integration and end-to-end tests: the Node server on a loopback port, a real
 * oidc-provider as its IdP, and a fresh database of the kind KEYGATE_TEST_DB names (or PGlite).
 * Sign-ins follow the real redirects (login-driver.ts); API calls carry the session cookie like a browser.
 */

import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../src/adapters/runtime/json-logger.ts'
import type { IdpProfileName } from '../../src/core/identity/index.ts'
import type { Logger } from '../../src/core/ports.ts'
import {
  type NodeServer,
  type NodeServerOptions,
  startNodeServer,
} from '../../src/entrypoints/node-server.ts'
import { createApiClient } from './api-client.ts'
import { enrollGateway } from './gateway-enrollment.ts'
import { CookieJar, loginThroughRedirects } from './login-driver.ts'
import { createTestDatabase, type TestDatabase } from './test-db.ts'
import {
  MFA_SCENARIO,
  type StartTestIdpOptions,
  startTestIdp,
  type TestIdp,
  type TestIdpScenario,
} from './test-idp.ts'

export interface TestBrokerOptions {
  /** Policy source text (HuJSON). */
  policy: string
  profile?: IdpProfileName
  /** Extra KEYGATE_IDP_TEST_* settings, e.g. { AUTH_CONTEXT: 'c1' }. */
  idpSettings?: Record<string, string>
  env?: Record<string, string>
  logger?: Logger
  /** Use an existing database instead of a fresh one (a second replica, a restart). */
  database?: TestDatabase
  idp?: TestIdp
  /** Listen address, also the URL's host (default 127.0.0.1); e.g. the host end of a lab veth. */
  host?: string
  /** Pin the port (a restart on the same URL); default a free one. */
  port?: number
  /** Short HTTP timeouts for the tests of them. */
  httpTimeouts?: NodeServerOptions['httpTimeouts']
  /**
   * Enrol every gateway the policy names with a throwaway key before the test starts (default true):
   * issuance refuses a lease no granted gateway has enrolled for (NO_GATEWAY_ENROLLED). Tests of
   * enrollment itself, or of that refusal, pass false.
   */
  enrolGateways?: boolean
  /** How the test IdP is started when none is given (back-channel logout, refresh tokens). */
  idpOptions?: Omit<StartTestIdpOptions, 'redirectUris'>
  /** Watch the policy file (default true); false when only the test's own reload() may reload it. */
  watchPolicy?: boolean
}

export interface TestBroker {
  url: string
  origin: string
  server: NodeServer
  idp: TestIdp
  db: TestDatabase
  policyPath: string
  dataDir: string
  /** KEYGATE_SECRET; replicas of one deployment share it. */
  secret: string
  /** Signs in through the IdP with the scenario; returns the browser's jar and the final response. */
  login(scenario?: TestIdpScenario, jar?: CookieJar): Promise<{ jar: CookieJar; response: Response }>
  /** An API call as the browser with `jar` (JSON body when `json` is given). */
  api(jar: CookieJar | null, path: string, init?: RequestInit & { json?: unknown }): Promise<Response>
  close(options?: { keepDatabase?: boolean; keepIdp?: boolean }): Promise<void>
}

export const TEST_IDP_ID = 'test'

export async function freeLoopbackPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, host, () => {
      const address = probe.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      probe.close(() => resolve(port))
    })
  })
}

export async function startTestBroker(options: TestBrokerOptions): Promise<TestBroker> {
  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? (await freeLoopbackPort(host))
  const origin = `http://${host}:${port}`
  const idp =
    options.idp ??
    (await startTestIdp({ ...options.idpOptions, redirectUris: [`${origin}/auth/${TEST_IDP_ID}/callback`] }))
  if (options.idp !== undefined) idp.setRedirectUris([`${origin}/auth/${TEST_IDP_ID}/callback`])
  const db = options.database ?? (await createTestDatabase())
  const dataDir = await mkdtemp(join(tmpdir(), 'keygate-test-'))
  const policyPath = join(dataDir, 'policy.hujson')
  await writeFile(policyPath, options.policy)

  const secret = options.env?.KEYGATE_SECRET ?? randomBytes(32).toString('base64url')
  const env: Record<string, string> = {
    KEYGATE_URL: origin,
    HOST: host,
    PORT: String(port),
    KEYGATE_DATA_DIR: dataDir,
    KEYGATE_POLICY: policyPath,
    KEYGATE_SECRET: secret,
    KEYGATE_DEV_IDP: 'off',
    KEYGATE_IDP_TEST_ISSUER: idp.issuer,
    KEYGATE_IDP_TEST_CLIENT_ID: idp.clientId,
    KEYGATE_IDP_TEST_CLIENT_SECRET: idp.clientSecret,
    KEYGATE_IDP_TEST_PROFILE: options.profile ?? 'generic',
    ...Object.fromEntries(
      Object.entries(options.idpSettings ?? {}).map(([k, v]) => [`KEYGATE_IDP_TEST_${k}`, v]),
    ),
    ...(db.databaseUrl === undefined ? {} : { DATABASE_URL: db.databaseUrl }),
    // Functional tests sign in and issue far faster than a person; the limits have their own tests
    // (test/integration/http/rate-limits.test.ts), which set them through `env`.
    KEYGATE_RATE_LIMIT_AUTH: 'off',
    KEYGATE_RATE_LIMIT_ISSUE: 'off',
    KEYGATE_RATE_LIMIT_GATEWAY_AUTH_FAILURES: 'off',
    KEYGATE_RATE_LIMIT_DEVICE_START: 'off',
    KEYGATE_RATE_LIMIT_USER_CODE_FAILURES: 'off',
    KEYGATE_RATE_LIMIT_SCIM: 'off',
    ...options.env,
  }
  const server = await startNodeServer({
    env,
    database: db.database,
    logger: options.logger ?? silentLogger,
    ...(options.httpTimeouts === undefined ? {} : { httpTimeouts: options.httpTimeouts }),
    ...(options.watchPolicy === undefined ? {} : { watchPolicy: options.watchPolicy }),
  })

  const api = createApiClient(origin)
  if (options.enrolGateways !== false) {
    // A replica or a restart on an existing database finds them enrolled already.
    for (const name of server.broker.policy().gateways.keys()) {
      if ((await server.broker.gateways.get(name))?.publicKey == null)
        await enrollGateway({ origin, dataDir }, name)
    }
  }

  return {
    url: server.url,
    origin,
    server,
    idp,
    db,
    policyPath,
    dataDir,
    secret,
    async login(scenario = MFA_SCENARIO, jar = new CookieJar()) {
      idp.setScenario(scenario)
      const result = await loginThroughRedirects(`${origin}/auth/${TEST_IDP_ID}/login`, jar)
      return { jar: result.jar, response: result.finalResponse }
    },
    api,
    async close(closeOptions = {}) {
      await server.close()
      if (closeOptions.keepDatabase !== true && options.database === undefined) await db.close()
      if (closeOptions.keepIdp !== true && options.idp === undefined) await idp.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}
