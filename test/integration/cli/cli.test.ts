// The `keygate` command as an operator runs it, in a child process: migrate, and `gateway add` both with
// a running server holding the embedded database (it must ask the server, never open the directory) and
// with none (it opens the directory itself, under the lock).
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freeLoopbackPort } from '../../support/test-broker.ts'
import { ADMIN_URL, testDatabaseKind, urlForDatabase } from '../../support/test-db.ts'

const CLI = ['--import', 'tsx', 'src/entrypoints/cli.ts']

function keygate(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...CLI, ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
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

describe('keygate CLI', () => {
  let dataDir: string
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'keygate-cli-'))
  })
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true })
  })

  it('prints usage and exits 2 on an unknown command', async () => {
    const result = await keygate(['frobnicate'], {})
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('usage: keygate')
  })

  it.runIf(testDatabaseKind() === 'postgres')(
    'migrate applies the migrations to DATABASE_URL, idempotently',
    async () => {
      const name = `keygate_cli_${randomBytes(4).toString('hex')}`
      const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
      await admin.unsafe(`CREATE DATABASE ${name}`)
      try {
        const env = { DATABASE_URL: urlForDatabase(name), KEYGATE_DATA_DIR: dataDir }
        expect((await keygate(['migrate'], env)).code).toBe(0)
        expect((await keygate(['migrate'], env)).code).toBe(0)
        const db = postgres(urlForDatabase(name), { max: 1, onnotice: () => {} })
        const tables =
          await db`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`
        await db.end()
        expect(tables.map((t) => t.table_name)).toEqual(
          expect.arrayContaining(['leases', 'identities', 'gateways', 'audit_events']),
        )
      } finally {
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
        await admin.end()
      }
    },
  )

  it.runIf(testDatabaseKind() === 'pglite')(
    'gateway add opens the embedded database under its lock when no server runs, and asks the server when one does',
    async () => {
      const env = { KEYGATE_DATA_DIR: dataDir, KEYGATE_POLICY: 'policies/policy.hujson' }
      const offline = await keygate(['gateway', 'add', 'eu-1'], env)
      expect(offline.code).toBe(0)
      expect(offline.stdout).toMatch(/^kge_[A-Za-z0-9_-]{40,}\n/)

      const unknown = await keygate(['gateway', 'add', 'nowhere-9'], env)
      expect(unknown.code).toBe(1)
      expect(unknown.stderr).toContain('GATEWAY_UNKNOWN')

      const port = await freeLoopbackPort()
      const serverEnv = {
        ...env,
        KEYGATE_URL: `http://127.0.0.1:${port}`,
        KEYGATE_SECRET: randomBytes(32).toString('hex'),
        KEYGATE_LOG_LEVEL: 'warn',
      }
      const server = spawn(process.execPath, [...CLI, 'serve'], {
        env: { ...process.env, ...serverEnv },
        stdio: 'pipe',
      })
      try {
        await waitForHealth(`http://127.0.0.1:${port}/healthz`)
        // While the server holds the directory, the CLI must not open it: it asks the server.
        const online = await keygate(['gateway', 'add', 'us-1'], serverEnv)
        expect(online.code).toBe(0)
        expect(online.stdout).toMatch(/^kge_/)
        // And a command that would open the database refuses instead of sharing it.
        const migrate = await keygate(['migrate'], serverEnv)
        expect(migrate.code).toBe(1)
        expect(migrate.stderr).toContain('DATABASE_LOCKED')
      } finally {
        server.kill('SIGTERM')
        await new Promise((resolve) => server.once('exit', resolve))
      }
    },
  )
})

async function waitForHealth(url: string) {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`no answer from ${url}`)
}
