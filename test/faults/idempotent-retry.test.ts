// A broker process (`keygate serve` on PostgreSQL) SIGKILLed in the middle of an issuance, restarted, and
// the request retried with the same Idempotency-Key: the retry answers with the lease that committed, or
// makes one when none did, never two.
//
// "In the middle" is made exact: the test holds a lock the issuing statement needs, so the broker's
// statement is in flight on the server when the broker dies. Released, the statement commits with no
// client to answer (the ambiguous commit: the client saw a reset); terminated instead, nothing commits.
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/adapters/storage/open-database.ts'
import { generateKeyPair } from '../../src/core/peers/keys.ts'
import { corePolicy } from '../fixtures/policies.ts'
import { enrolGatewaysInStore } from '../support/enrol-gateways.ts'
import { CookieJar, loginThroughRedirects, requestWithJar } from '../support/login-driver.ts'
import { freeLoopbackPort, TEST_IDP_ID } from '../support/test-broker.ts'
import { ADMIN_URL, urlForDatabase } from '../support/test-db.ts'
import { MFA_SCENARIO, startTestIdp, type TestIdp } from '../support/test-idp.ts'

const newPublicKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey

let idp: TestIdp
let dataDir: string
let origin: string
let databaseName: string
let databaseUrl: string
let sql: postgres.Sql
const secret = randomBytes(32).toString('base64url')

beforeAll(async () => {
  const port = await freeLoopbackPort()
  origin = `http://127.0.0.1:${port}`
  idp = await startTestIdp({ redirectUris: [`${origin}/auth/${TEST_IDP_ID}/callback`] })
  dataDir = await mkdtemp(join(tmpdir(), 'keygate-idem-'))
  await writeFile(join(dataDir, 'policy.hujson'), corePolicy())
  databaseName = `keygate_test_${randomBytes(6).toString('hex')}`
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`CREATE DATABASE ${databaseName}`)
  } finally {
    await admin.end()
  }
  databaseUrl = urlForDatabase(databaseName)
  const database = await openDatabase({ databaseUrl })
  await database.migrate()
  // Issuance needs an enrolled granted gateway (NO_GATEWAY_ENROLLED otherwise).
  await enrolGatewaysInStore(database.store, ['gw-a', 'gw-b'], {
    ipv4: '100.96.0.0/20',
    ipv6: 'fd7a:115c:a1e0::/64',
  })
  await database.close()
  sql = postgres(databaseUrl, { max: 2, onnotice: () => {} })
})

afterAll(async () => {
  await sql?.end()
  await idp?.close()
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
  if (databaseName !== undefined) {
    const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
    await admin.unsafe(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`)
    await admin.end()
  }
})

interface BrokerProcess {
  child: ChildProcess
  exited: Promise<unknown>
}

async function startBroker(): Promise<BrokerProcess> {
  const child = spawn(join(process.cwd(), 'node_modules/.bin/tsx'), ['src/entrypoints/cli.ts', 'serve'], {
    cwd: process.cwd(),
    // Its own process group: SIGKILL goes to tsx and the node process it runs.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      KEYGATE_URL: origin,
      KEYGATE_DATA_DIR: dataDir,
      KEYGATE_POLICY: join(dataDir, 'policy.hujson'),
      KEYGATE_SECRET: secret,
      DATABASE_URL: databaseUrl,
      KEYGATE_DEV_IDP: 'off',
      KEYGATE_IDP_TEST_ISSUER: idp.issuer,
      KEYGATE_IDP_TEST_CLIENT_ID: idp.clientId,
      KEYGATE_IDP_TEST_CLIENT_SECRET: idp.clientSecret,
    },
  })
  let output = ''
  const exited = new Promise((resolve) => child.once('exit', resolve))
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('"keygate.started"')) resolve()
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    void exited.then((code) => reject(new Error(`broker exited with ${code} before starting:\n${output}`)))
  })
  return { child, exited }
}

async function kill(broker: BrokerProcess): Promise<void> {
  process.kill(-(broker.child.pid as number), 'SIGKILL')
  await broker.exited
}

/** Polls the server's own view until `check` holds: an event-based wait on state the test cannot be told. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

const issuingBackend = async () =>
  (
    await sql`SELECT pid FROM pg_stat_activity WHERE datname = current_database()
      AND wait_event_type = 'Lock' AND query LIKE '%key_free AS%'`
  ).map((row) => row.pid as number)

describe('SIGKILL mid-issuance, restart, retry with the same Idempotency-Key', () => {
  it('answers with the lease that committed, or makes one if none did; never two', async () => {
    let broker = await startBroker()
    let holder: postgres.ReservedSql | undefined
    try {
      const jar = new CookieJar()
      idp.setScenario(MFA_SCENARIO)
      await loginThroughRedirects(`${origin}/auth/${TEST_IDP_ID}/login`, jar)
      const post = (publicKey: string, key: string) =>
        requestWithJar(`${origin}/api/v1/peers`, jar, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify({ publicKey }),
        })

      // Two issuances held in flight on the feed rows the test holds.
      const committed = { publicKey: newPublicKey(), key: randomUUID() }
      const lost = { publicKey: newPublicKey(), key: randomUUID() }
      // A first issuance makes the gateways' feed rows; holding those rows then stops the issuing
      // statement while it executes (a lock taken at parse time stops it before, where a dead client
      // ends it).
      const warmUp = await requestWithJar(`${origin}/api/v1/peers`, jar, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ publicKey: newPublicKey() }),
      })
      expect(warmUp.status).toBe(201)
      holder = await sql.reserve()
      await holder`BEGIN`
      expect((await holder`SELECT gateway FROM gateway_feeds FOR UPDATE`).length).toBeGreaterThan(0)
      const inFlight = [post(committed.publicKey, committed.key), post(lost.publicKey, lost.key)]
      for (const request of inFlight) request.catch(() => {})
      await until(async () => (await issuingBackend()).length === 2, 'both issuances to wait on the lock')
      const [, ...rest] = await issuingBackend()
      await kill(broker)
      for (const request of inFlight) await expect(request).rejects.toThrow()
      // One statement is ended on the server (nothing of it commits); the other runs on once the lock goes,
      // and commits with nobody to answer.
      const terminated = rest[0] as number
      await sql`SELECT pg_terminate_backend(${terminated})`
      await holder`COMMIT`
      holder.release()
      holder = undefined
      await until(async () => (await issuingBackend()).length === 0, 'the held statements to end')
      const stored = await sql`SELECT public_key, id FROM leases
        WHERE public_key IN (${committed.publicKey}, ${lost.publicKey})`
      // Which request's statement was terminated is the server's order, not the test's: name them after.
      expect(stored).toHaveLength(1)
      const committedKey = stored[0]!.public_key as string
      const done = committedKey === committed.publicKey ? committed : lost
      const notDone = committedKey === committed.publicKey ? lost : committed

      broker = await startBroker()
      try {
        const retried = await post(done.publicKey, done.key)
        expect(retried.status).toBe(201)
        expect(((await retried.json()) as { id: string }).id).toBe(stored[0]!.id)
        const made = await post(notDone.publicKey, notDone.key)
        expect(made.status).toBe(201)
        const madeId = ((await made.json()) as { id: string }).id
        const again = await post(notDone.publicKey, notDone.key)
        expect(((await again.json()) as { id: string }).id).toBe(madeId)

        const leases = await sql`SELECT public_key, count(*)::int AS n FROM leases
          WHERE public_key IN (${committed.publicKey}, ${lost.publicKey}) GROUP BY public_key`
        expect(leases.map((r) => [r.public_key, r.n]).sort()).toEqual(
          [
            [done.publicKey, 1],
            [notDone.publicKey, 1],
          ].sort(),
        )
      } finally {
        await kill(broker)
      }
    } finally {
      if (holder !== undefined) {
        await holder`ROLLBACK`.catch(() => {})
        holder.release()
      }
      if (broker.child.exitCode === null && broker.child.signalCode === null) await kill(broker)
    }
  })
})
