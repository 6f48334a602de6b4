// The Node server's own hardening (issue 10): a pre-existing data dir that others could read is made
// private at start, PGlite's files included (10.12), and the development IdP does not turn on for a
// server listening beyond loopback unless explicitly opted in (10.10). No socket is opened here.
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../../src/adapters/runtime/json-logger.ts'
import { isKeygateError } from '../../../src/core/errors.ts'
import { startNodeServer } from '../../../src/entrypoints/node-server.ts'
import { corePolicy } from '../../fixtures/policies.ts'

async function openToOthers(path: string): Promise<string[]> {
  const found: string[] = []
  if (((await stat(path)).mode & 0o077) !== 0) found.push(path)
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name)
    if (entry.isDirectory()) found.push(...(await openToOthers(child)))
    else if (((await stat(child)).mode & 0o077) !== 0) found.push(child)
  }
  return found
}

describe('node server hardening', () => {
  const dirs: string[] = []
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
  })

  async function setup() {
    const root = await mkdtemp(join(tmpdir(), 'keygate-harden-'))
    dirs.push(root)
    const policyPath = join(root, 'policy.hujson')
    await writeFile(policyPath, corePolicy())
    const dataDir = join(root, 'data')
    return { dataDir, policyPath }
  }

  const env = (dataDir: string, policyPath: string, extra: Record<string, string> = {}) => ({
    KEYGATE_URL: 'http://127.0.0.1:8080',
    KEYGATE_DATA_DIR: dataDir,
    KEYGATE_POLICY: policyPath,
    KEYGATE_SECRET: randomBytes(32).toString('base64url'),
    ...extra,
  })

  // Each start creates and migrates a fresh embedded database: slow on a loaded machine.
  it('a pre-existing world-readable data dir is made 0700 and PGlite files are readable by the owner only', {
    timeout: 300_000,
  }, async () => {
    const { dataDir, policyPath } = await setup()
    await mkdir(dataDir, { mode: 0o755 })
    await chmod(dataDir, 0o755)
    const server = await startNodeServer({
      env: env(dataDir, policyPath),
      logger: silentLogger,
      listen: false,
      watchPolicy: false,
    })
    try {
      expect((await stat(dataDir)).mode & 0o777).toBe(0o700)
      expect((await readdir(join(dataDir, 'pglite'))).length).toBeGreaterThan(0)
      expect(await openToOthers(dataDir)).toEqual([])
    } finally {
      await server.close()
    }
  })

  it('the dev IdP stays off with HOST=0.0.0.0 and no IdP (start refused), and runs only when opted in', {
    timeout: 300_000,
  }, async () => {
    const { dataDir, policyPath } = await setup()
    let error: unknown
    try {
      const server = await startNodeServer({
        env: env(dataDir, policyPath, { HOST: '0.0.0.0' }),
        logger: silentLogger,
        listen: false,
        watchPolicy: false,
      })
      await server.close()
    } catch (e) {
      error = e
    }
    expect(isKeygateError(error, 'CONFIG_INVALID')).toBe(true)
    expect((error as Error).message).toMatch(/HOST \(0\.0\.0\.0\) is not a loopback address/)

    const optedIn = await startNodeServer({
      env: env(dataDir, policyPath, { HOST: '0.0.0.0', KEYGATE_DEV_IDP: 'on' }),
      logger: silentLogger,
      listen: false,
      watchPolicy: false,
    })
    try {
      expect(optedIn.devIdp).not.toBeNull()
    } finally {
      await optedIn.close()
    }
  })
})
