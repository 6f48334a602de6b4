// Issue 10's findings at the HTTP edge, each reproduced as the attack and named after the defect:
// anonymous requests that wrote to the database (10.5), claims in the session cookie (10.7), tampered
// and foreign cookies (16), an open redirect through a tab or a CR in returnTo (10.3), no body limit
// outside /api (10.4), internals in anonymous answers (10.13), an out-of-range gateway status (10.16)
// and cross-site JSON posts (10.18). The browser-side halves (redirect, cookie size) are in
// test/e2e/security-browser.test.ts.
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { count } from 'drizzle-orm'
import { EncryptJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deriveSubkey } from '../../../src/adapters/crypto/derive-subkey.ts'
import type { Db } from '../../../src/adapters/storage/db.ts'
import * as schema from '../../../src/adapters/storage/schema.ts'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { PROTOCOL_VERSION } from '../../../src/core/sync/protocol.ts'
import { corePolicy } from '../../fixtures/policies.ts'
import { enrollGateway } from '../../support/gateway-enrollment.ts'
import { CookieJar, loginThroughRedirects, requestWithJar } from '../../support/login-driver.ts'
import { freeLoopbackPort, startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { MFA_SCENARIO } from '../../support/test-idp.ts'

const newKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey

async function errorOf(response: Response) {
  const body = (await response.json()) as { error: { code: string; message: string } }
  return { status: response.status, code: body.error.code, message: body.error.message }
}

const TABLES = {
  identities: schema.identities,
  sessions: schema.sessions,
  loginStates: schema.loginStates,
  auditEvents: schema.auditEvents,
  leases: schema.leases,
}

async function rowCounts(db: Db): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  for (const [name, table] of Object.entries(TABLES)) {
    const [row] = await db.select({ n: count() }).from(table)
    counts[name] = Number(row?.n)
  }
  return counts
}

/** 100 Entra-style group object ids: what made a 5.8 KB cookie the browser dropped. */
const ENTRA_GROUPS = Array.from({ length: 100 }, () => crypto.randomUUID())

describe('security at the HTTP edge', () => {
  let broker: TestBroker
  let brokenIdpPort: number

  beforeAll(async () => {
    // A second IdP whose issuer nobody listens on: its failures must not leak addresses or errno names.
    brokenIdpPort = await freeLoopbackPort()
    broker = await startTestBroker({
      policy: corePolicy(),
      env: {
        KEYGATE_IDP_BROKEN_ISSUER: `http://127.0.0.1:${brokenIdpPort}/issuer`,
        KEYGATE_IDP_BROKEN_CLIENT_ID: 'broken',
        KEYGATE_IDP_BROKEN_CLIENT_SECRET: 'broken-secret',
      },
    })
  })
  afterAll(async () => {
    await broker?.close()
  })

  it('anonymous login starts and bad callbacks write no rows (1,000 of each), and are counted in /metrics', async () => {
    const db = broker.db.database.db
    const before = await rowCounts(db)
    const starts = []
    for (let i = 0; i < 1000; i++) starts.push(broker.api(null, '/auth/test/login'))
    for (const response of await Promise.all(starts)) expect(response.status).toBe(302)

    // Bad callbacks: no cookie; a real pre-login cookie with a wrong state; a right state with a code
    // the IdP never issued (this one reaches the IdP's token endpoint).
    const jar = new CookieJar()
    const start = await requestWithJar(`${broker.origin}/auth/test/login`, jar)
    const state = new URL(start.headers.get('location') as string).searchParams.get('state')
    const bad = []
    for (let i = 0; i < 980; i++) bad.push(broker.api(null, `/auth/test/callback?code=c${i}&state=s${i}`))
    for (let i = 0; i < 10; i++)
      bad.push(requestWithJar(`${broker.origin}/auth/test/callback?code=c${i}&state=wrong`, jar.clone()))
    for (let i = 0; i < 10; i++)
      bad.push(
        requestWithJar(`${broker.origin}/auth/test/callback?code=forged${i}&state=${state}`, jar.clone()),
      )
    const codes = await Promise.all(bad.map(async (r) => (await errorOf(await r)).code))
    expect(codes.filter((c) => c === 'LOGIN_STATE_INVALID')).toHaveLength(990)
    expect(codes.filter((c) => c === 'LOGIN_FAILED')).toHaveLength(10)

    expect(await rowCounts(db)).toEqual(before)
    const metrics = await (await broker.api(null, '/metrics')).text()
    expect(metrics).toMatch(/keygate_login_failures_total\{idp="test",code="LOGIN_STATE_INVALID"\} 990/)
    expect(metrics).toMatch(/keygate_login_failures_total\{idp="test",code="LOGIN_FAILED"\} 10/)
  })

  it('the session cookie holds a session id only: 100 Entra-style groups make no bigger cookie', async () => {
    const { jar, response } = await broker.login({
      ...MFA_SCENARIO,
      groups: ['engineering', ...ENTRA_GROUPS],
    })
    expect(response.status).toBe(303)
    const setCookie = response.headers.getSetCookie().find((c) => c.startsWith('kg_session=')) as string
    expect(setCookie).toBeDefined()
    expect(setCookie.length).toBeLessThan(400)
    const me = (await (await broker.api(jar, '/api/v1/me')).json()) as { identity: { groups: string[] } }
    expect(me.identity.groups).toHaveLength(101)
    const issued = await broker.api(jar, '/api/v1/peers', { method: 'POST', json: { publicKey: newKey() } })
    expect(issued.status).toBe(201)
  })

  it('a tampered session cookie and one sealed with another secret are refused', async () => {
    const { jar } = await broker.login(MFA_SCENARIO)
    const url = new URL(`${broker.origin}/api/v1/me`)
    const good = jar.headerFor(url) as string
    const token = /kg_session=([^;]+)/.exec(good)?.[1] as string
    expect((await fetch(url, { headers: { cookie: `kg_session=${token}` } })).status).toBe(200)

    // One character of the ciphertext changed.
    const parts = token.split('.')
    const body = parts[3] as string
    parts[3] = (body[0] === 'A' ? 'B' : 'A') + body.slice(1)
    const tampered = await fetch(url, { headers: { cookie: `kg_session=${parts.join('.')}` } })
    expect(await errorOf(tampered)).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' })

    // A well-formed cookie naming a real session id, sealed with another deployment's secret.
    const sessionId = (
      await broker.db.database.db.select({ id: schema.sessions.id }).from(schema.sessions)
    )[0]?.id
    expect(sessionId).toBeDefined()
    const foreignKey = await deriveSubkey(randomBytes(32).toString('base64url'), 'keygate', 'cookies v1', 256)
    const foreign = await new EncryptJWT({ sid: sessionId })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setAudience('session')
      .setIssuedAt()
      .setExpirationTime('1h')
      .encrypt(foreignKey)
    const refused = await fetch(url, { headers: { cookie: `kg_session=${foreign}` } })
    expect(await errorOf(refused)).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' })
  })

  it('a tab or a CR in returnTo gives no foreign redirect and no 500 after the login state is spent', async () => {
    for (const returnTo of [
      '/%09/evil.example',
      '/%0d%0aSet-Cookie:%20x=1',
      '/\\evil.example',
      '//evil.example',
    ]) {
      const jar = new CookieJar()
      broker.idp.setScenario(MFA_SCENARIO)
      const result = await loginThroughRedirects(`${broker.origin}/auth/test/login?returnTo=${returnTo}`, jar)
      expect(result.finalResponse.status, returnTo).toBe(303)
      const location = result.finalResponse.headers.get('location') as string
      expect(new URL(location, broker.origin).origin, returnTo).toBe(broker.origin)
      expect(location, returnTo).toBe('/')
    }
  })

  it('a large form to a step-up route (and any route) is refused with 413 before it is read whole', async () => {
    const { jar } = await broker.login(MFA_SCENARIO)
    const cookie = jar.headerFor(new URL(broker.origin)) ?? ''
    const form = Buffer.from(`returnTo=${'x'.repeat(300 * 1024)}`)
    for (const path of ['/step-up/totp/enrol', '/auth/logout', '/no/such/route']) {
      const answer = await postRaw(`${broker.origin}${path}`, cookie, [form], form.length)
      expect(answer, path).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE' })
    }
    // Without a Content-Length (chunked) nothing is read: the length must be declared.
    const chunks = Array.from({ length: 40 }, () => Buffer.alloc(16 * 1024, 120))
    expect(await postRaw(`${broker.origin}/step-up/totp/enrol`, cookie, chunks)).toMatchObject({
      status: 411,
      code: 'LENGTH_REQUIRED',
    })
  })

  it('anonymous /readyz answers booleans only; the details are for admins', async () => {
    const ready = await broker.api(null, '/readyz')
    const text = await ready.text()
    expect(ready.status).toBe(200)
    expect(JSON.parse(text)).toEqual({
      ready: true,
      checks: {
        database: { ok: true },
        policy: { ok: true },
        // PostgreSQL also reports the LISTEN connection that carries cross-replica wake-ups.
        ...(broker.db.kind === 'postgres' ? { feedListener: { ok: true } } : {}),
      },
    })
    expect(text).not.toContain(broker.policyPath)
    expect(text).not.toContain('alice@example.com')

    const adminToken = (await readFile(`${broker.dataDir}/admin-token`, 'utf8')).trim()
    const detailed = await broker.api(null, '/api/v1/admin/readiness', {
      headers: { authorization: `Bearer ${adminToken}` },
    })
    expect(detailed.status).toBe(200)
    expect(await detailed.text()).toContain(broker.policyPath)
    expect((await broker.api(null, '/api/v1/admin/readiness')).status).toBe(401)
  })

  it('anonymous /auth errors name the code, not the network or TLS internals', async () => {
    const response = await broker.api(null, '/auth/broken/login')
    const text = await response.text()
    expect(response.status).toBe(502)
    expect(JSON.parse(text).error.code).toBe('IDP_UNAVAILABLE')
    expect(text).not.toMatch(/ECONNREFUSED|fetch failed|127\.0\.0\.1|certificate|TLS/i)
    expect(text).not.toContain(String(brokenIdpPort))
  })

  it('a gateway status with an out-of-range peerCount is 400 INVALID_REQUEST, not 500', async () => {
    const { credential } = await enrollGateway(broker, 'gw-a')
    const status = (peerCount: string) =>
      broker.api(null, '/api/v1/gateways/status', {
        method: 'POST',
        headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
        body: `{"protocolVersion":${PROTOCOL_VERSION},"appliedVersion":0,"peerCount":${peerCount},"latestHandshakes":{},"enforcement":"nftables"}`,
      })
    for (const big of ['9007199254740992', '9007199254740991', '2147483648', '1e300']) {
      expect(await errorOf(await status(big)), big).toMatchObject({ status: 400, code: 'INVALID_REQUEST' })
    }
    expect((await status('2147483647')).status).toBe(204)
    expect((await status('3')).status).toBe(204)
  })

  it('a JSON POST that a browser marks cross-site (Origin or Sec-Fetch-Site) is refused whatever its type', async () => {
    const { jar } = await broker.login(MFA_SCENARIO)
    const leasesBefore = (await broker.db.store.listLeases({}, Date.now())).length
    const attempts: Array<Record<string, string>> = [
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: broker.origin, 'sec-fetch-site': 'cross-site' },
    ]
    for (const headers of attempts) {
      const response = await broker.api(jar, '/api/v1/peers', {
        method: 'POST',
        headers,
        json: { publicKey: newKey() },
      })
      expect(await errorOf(response), JSON.stringify(headers)).toMatchObject({
        status: 403,
        code: 'CSRF_FAILED',
      })
    }
    expect((await broker.db.store.listLeases({}, Date.now())).length).toBe(leasesBefore)
    const same = await broker.api(jar, '/api/v1/peers', {
      method: 'POST',
      headers: { origin: broker.origin, 'sec-fetch-site': 'same-origin' },
      json: { publicKey: newKey() },
    })
    expect(same.status).toBe(201)
  })
})

/**
 * A form POST through node:http that keeps the server's answer even when the server stops reading
 * the body and closes early (fetch reports that as a failed request and loses the response).
 */
function postRaw(
  url: string,
  cookie: string,
  chunks: Buffer[],
  contentLength?: number,
): Promise<{ status: number; code: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, {
      // A fresh connection each: the server closes one whose body it refused to read.
      agent: false,
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie,
        ...(contentLength === undefined ? {} : { 'content-length': String(contentLength) }),
      },
    })
    request.on('response', (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => {
        text += chunk
      })
      response.on('end', () => {
        try {
          resolve({ status: response.statusCode ?? 0, code: JSON.parse(text).error.code })
        } catch (error) {
          reject(error)
        }
      })
    })
    // The server may close while the body is still going out; its answer has arrived (or will) anyway.
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error)
    })
    for (const chunk of chunks) request.write(chunk)
    request.end()
  })
}
