// `keygate scim token IDP` and `keygate gateway remove NAME` as an operator runs them (issue 13), in child
// processes against a real `keygate serve` on the database KEYGATE_TEST_DB names: with the server running
// the CLI asks it (the local admin token), with none it opens the database itself; either way the effect
// is checked through the server's own HTTP API: a SCIM token works and a newer one replaces it, a removed
// gateway's credential is refused and its audit event names the CLI.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import { PROTOCOL_VERSION } from '../../../src/core/sync/protocol.ts'
import { lifecyclePolicy } from '../../fixtures/lifecycle-policy.ts'
import { localAdminToken, scimClient } from '../../support/scim-client.ts'
import { freeLoopbackPort } from '../../support/test-broker.ts'
import { createTestDatabase, type TestDatabase, testDatabaseKind } from '../../support/test-db.ts'
import { startTestIdp, type TestIdp } from '../../support/test-idp.ts'

const CLI = ['--import', 'tsx', 'src/entrypoints/cli.ts']
const SERVER_START_MS = 150_000

describe('keygate scim token and gateway remove', () => {
  let dataDir: string
  let idp: TestIdp
  let db: TestDatabase | null = null
  let env: Record<string, string>
  let origin: string
  let server: ChildProcess | null = null

  function keygate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [...CLI, ...args],
        { env: { ...process.env, ...env }, timeout: 120_000 },
        (error, stdout, stderr) => {
          resolve({
            code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1,
            stdout,
            stderr,
          })
        },
      )
    })
  }

  async function startServer(): Promise<void> {
    const child = spawn(process.execPath, [...CLI, 'serve'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString('utf8')
    })
    server = child
    const deadline = Date.now() + SERVER_START_MS
    for (;;) {
      if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${stderr}`)
      const ok = await fetch(`${origin}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
      if (ok) return
      if (Date.now() > deadline) throw new Error(`serve did not answer: ${stderr}`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  async function stopServer(): Promise<void> {
    const child = server
    server = null
    if (child === null || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }

  const enroll = async (token: string) => {
    const response = await fetch(`${origin}/api/v1/gateways/enroll`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        protocolVersion: PROTOCOL_VERSION,
        publicKey: generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey,
      }),
    })
    expect(response.status, await response.clone().text()).toBe(200)
    return ((await response.json()) as { credential: string }).credential
  }
  const sync = (credential: string) =>
    fetch(`${origin}/api/v1/gateways/sync?since=0&wait=0&protocol=${PROTOCOL_VERSION}`, {
      headers: { authorization: `Bearer ${credential}` },
    })

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'keygate-cli-lifecycle-'))
    idp = await startTestIdp()
    const port = await freeLoopbackPort()
    origin = `http://127.0.0.1:${port}`
    const policyPath = join(dataDir, 'policy.hujson')
    await writeFile(policyPath, lifecyclePolicy())
    if (testDatabaseKind() === 'postgres') db = await createTestDatabase()
    env = {
      KEYGATE_DATA_DIR: dataDir,
      KEYGATE_POLICY: policyPath,
      KEYGATE_URL: origin,
      PORT: String(port),
      HOST: '127.0.0.1',
      KEYGATE_SECRET: randomBytes(32).toString('base64url'),
      KEYGATE_LOG_LEVEL: 'warn',
      KEYGATE_DEV_IDP: 'off',
      KEYGATE_IDP_TEST_ISSUER: idp.issuer,
      KEYGATE_IDP_TEST_CLIENT_ID: idp.clientId,
      KEYGATE_IDP_TEST_CLIENT_SECRET: idp.clientSecret,
      KEYGATE_IDP_TEST_PROFILE: 'generic',
      ...(db?.databaseUrl === undefined ? {} : { DATABASE_URL: db.databaseUrl }),
    }
  }, SERVER_START_MS)

  afterAll(async () => {
    await stopServer()
    await idp?.close()
    await db?.close()
    await rm(dataDir, { recursive: true, force: true })
  })

  it(
    'with and without a running server: a SCIM token that works and replaces the last, a removed gateway refused',
    async () => {
      // No server: the CLI opens the database itself.
      const first = await keygate(['scim', 'token', 'test'])
      expect(first.code, first.stderr).toBe(0)
      const firstToken = first.stdout.split('\n')[0] ?? ''
      expect(firstToken).toMatch(/^kgs_[A-Za-z0-9_-]{40,}$/)
      expect(first.stdout).toContain(`base URL ${origin}/scim/v2`)
      const unknownIdp = await keygate(['scim', 'token', 'nowhere'])
      expect(unknownIdp.code).toBe(1)
      expect(unknownIdp.stderr).toContain('UNKNOWN_IDP')
      const tokenA = (await keygate(['gateway', 'add', 'gw-a'])).stdout.split('\n')[0] ?? ''
      const tokenB = (await keygate(['gateway', 'add', 'gw-b'])).stdout.split('\n')[0] ?? ''
      expect(tokenA).toMatch(/^kge_/)
      expect(tokenB).toMatch(/^kge_/)

      await startServer()
      expect((await scimClient(origin, firstToken)('GET', '/Users')).status).toBe(200)
      // The server runs: the CLI asks it; the new token replaces the old one at once.
      const second = await keygate(['scim', 'token', 'test'])
      expect(second.code, second.stderr).toBe(0)
      const secondToken = second.stdout.split('\n')[0] ?? ''
      expect(secondToken).toMatch(/^kgs_/)
      expect(secondToken).not.toBe(firstToken)
      expect((await scimClient(origin, firstToken)('GET', '/Users')).status).toBe(401)
      expect((await scimClient(origin, secondToken)('GET', '/Users')).status).toBe(200)

      const credentialA = await enroll(tokenA)
      const credentialB = await enroll(tokenB)
      expect((await sync(credentialA)).status).toBe(200)
      const removed = await keygate(['gateway', 'remove', 'gw-a'])
      expect(removed.code, removed.stderr).toBe(0)
      expect(removed.stdout).toContain('Removed gateway "gw-a"')
      expect((await sync(credentialA)).status).toBe(401)
      expect((await sync(credentialB)).status).toBe(200)
      const unknown = await keygate(['gateway', 'remove', 'nowhere-9'])
      expect(unknown.code).toBe(1)
      expect(unknown.stderr).toContain('GATEWAY_UNKNOWN')
      const audit = (await (
        await fetch(`${origin}/api/v1/admin/audit?type=gateway.removed`, {
          headers: { authorization: `Bearer ${await localAdminToken(dataDir)}` },
        })
      ).json()) as { events: Array<{ gatewayId: string; actor: string }> }
      expect(audit.events).toEqual([expect.objectContaining({ gatewayId: 'gw-a', actor: 'local-cli' })])
      await stopServer()

      // No server again: the removal goes straight to the database, and holds after a restart.
      const offline = await keygate(['gateway', 'remove', 'gw-b'])
      expect(offline.code, offline.stderr).toBe(0)
      await startServer()
      expect((await sync(credentialB)).status).toBe(401)
      expect((await scimClient(origin, secondToken)('GET', '/Users')).status).toBe(200)
    },
    4 * SERVER_START_MS,
  )
})
