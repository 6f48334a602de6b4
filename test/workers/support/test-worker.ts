/**
 * The Keygate Worker running in workerd on a loopback port (wrangler's `unstable_startWorker`, the API
 * behind `wrangler dev`), built from the real wrangler.toml, with its Hyperdrive binding pointed at a
 * fresh, migrated PostgreSQL database, its IdP a real oidc-provider on loopback, and the test policy
 * bundled through the `keygate:policy` alias. Cron runs are triggered the way `wrangler dev
 * --test-scheduled` offers: `GET /__scheduled`.
 */
import { createApiClient } from '../../support/api-client.ts'
import './wrangler-offline.ts'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { unstable_startWorker } from 'wrangler'
import { enrolGatewaysInStore } from '../../support/enrol-gateways.ts'
import { CookieJar, loginThroughRedirects } from '../../support/login-driver.ts'
import { freeLoopbackPort } from '../../support/test-broker.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-db.ts'
import { MFA_SCENARIO, startTestIdp, type TestIdp, type TestIdpScenario } from '../../support/test-idp.ts'

export const WORKER_IDP_ID = 'test'
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

export interface TestWorker {
  origin: string
  idp: TestIdp
  db: TestDatabase
  secret: string
  login(scenario?: TestIdpScenario, jar?: CookieJar): Promise<{ jar: CookieJar; response: Response }>
  api(jar: CookieJar | null, path: string, init?: RequestInit & { json?: unknown }): Promise<Response>
  /** Runs the Worker's scheduled handler once, as the Cron Trigger would. */
  runCron(): Promise<void>
  close(): Promise<void>
}

export interface StartTestWorkerOptions {
  /** A module whose default export is the policy text; default test/workers/fixtures/worker-policy.ts. */
  policyModule?: string
  /**
   * Gateways to enrol (with keys nobody holds) before the Worker starts, so issuance has one to carry a
   * lease (NO_GATEWAY_ENROLLED otherwise); default the test policy's eu-1, none with another policy.
   */
  enrolGateways?: string[]
  /** A database to use (benchmarks share one with the Node server); default a fresh one. */
  database?: TestDatabase
  env?: Record<string, string>
  logLevel?: 'none' | 'error' | 'warn' | 'info' | 'log' | 'debug'
  /** Limits of the rate-limit bindings (per minute); default so high that functional tests never meet them. */
  rateLimits?: Partial<
    Record<
      'RATE_LIMIT_AUTH' | 'RATE_LIMIT_ISSUE' | 'RATE_LIMIT_GATEWAY_AUTH_FAILURES' | 'RATE_LIMIT_SCIM',
      number
    >
  >
}

/** Hyperdrive's local emulation insists on a password in the URL; a trust-auth server ignores it. */
export function withPassword(databaseUrl: string): string {
  const url = new URL(databaseUrl)
  if (url.password === '') url.password = 'unused'
  return url.toString()
}

export async function startTestWorker(options: StartTestWorkerOptions = {}): Promise<TestWorker> {
  const port = await freeLoopbackPort()
  const origin = `http://127.0.0.1:${port}`
  const idp = await startTestIdp({ redirectUris: [`${origin}/auth/${WORKER_IDP_ID}/callback`] })
  const db = options.database ?? (await createTestDatabase())
  if (db.databaseUrl === undefined)
    throw new Error('the Worker tests need PostgreSQL: run them with KEYGATE_TEST_DB=postgres')
  const secret = randomBytes(32).toString('base64url')
  const gateways = options.enrolGateways ?? (options.policyModule === undefined ? ['eu-1'] : [])
  const enrolled = new Set(
    (await db.store.listGateways()).filter((g) => g.publicKey !== null).map((g) => g.name),
  )
  await enrolGatewaysInStore(
    db.store,
    gateways.filter((g) => !enrolled.has(g)),
    { ipv4: '100.96.0.0/24', ipv6: null },
  )
  const vars: Record<string, string> = {
    KEYGATE_URL: origin,
    KEYGATE_SECRET: secret,
    KEYGATE_LOG_LEVEL: 'warn',
    KEYGATE_POLICY: 'test/workers/fixtures/worker-policy.hujson',
    KEYGATE_IDP_TEST_ISSUER: idp.issuer,
    KEYGATE_IDP_TEST_CLIENT_ID: idp.clientId,
    KEYGATE_IDP_TEST_CLIENT_SECRET: idp.clientSecret,
    KEYGATE_IDP_TEST_PROFILE: 'generic',
    ...options.env,
  }
  const worker = await unstable_startWorker({
    config: `${ROOT}wrangler.toml`,
    bindings: {
      ...Object.fromEntries(
        Object.entries(vars).map(([name, value]) => [name, { type: 'plain_text' as const, value }]),
      ),
      ...Object.fromEntries(
        (
          [
            ['RATE_LIMIT_AUTH', 7301],
            ['RATE_LIMIT_ISSUE', 7302],
            ['RATE_LIMIT_GATEWAY_AUTH_FAILURES', 7303],
            ['RATE_LIMIT_SCIM', 7306],
          ] as const
        ).map(([name, namespace]) => [
          name,
          {
            type: 'ratelimit' as const,
            // The namespace ids of wrangler.toml, so each binding keeps its own counters.
            namespace_id: String(namespace),
            simple: { limit: options.rateLimits?.[name] ?? 1_000_000, period: 60 as const },
          },
        ]),
      ),
      HYPERDRIVE: {
        type: 'hyperdrive',
        id: 'keygate-test',
        localConnectionString: withPassword(db.databaseUrl),
      },
    },
    build: {
      // unstable_startWorker does not derive this from compatibility_flags the way `wrangler dev` does.
      nodejsCompatMode: 'v2',
      alias: { 'keygate:policy': options.policyModule ?? `${ROOT}test/workers/fixtures/worker-policy.ts` },
    },
    dev: {
      server: { hostname: '127.0.0.1', port },
      inspector: false,
      watch: false,
      persist: false,
      testScheduled: true,
      logLevel: options.logLevel ?? 'warn',
    },
  })
  try {
    await worker.ready
  } catch (error) {
    await worker.dispose().catch(() => {})
    await idp.close()
    if (options.database === undefined) await db.close()
    throw error
  }

  const api = createApiClient(origin)

  return {
    origin,
    idp,
    db,
    secret,
    async login(scenario = MFA_SCENARIO, jar = new CookieJar()) {
      idp.setScenario(scenario)
      const result = await loginThroughRedirects(`${origin}/auth/${WORKER_IDP_ID}/login`, jar)
      return { jar: result.jar, response: result.finalResponse }
    },
    api,
    async runCron() {
      const response = await fetch(`${origin}/__scheduled?cron=${encodeURIComponent('* * * * *')}`)
      const text = await response.text()
      if (response.status !== 200)
        throw new Error(`the scheduled handler failed: HTTP ${response.status} ${text}`)
    },
    async close() {
      await worker.dispose()
      await idp.close()
      if (options.database === undefined) await db.close()
    },
  }
}
