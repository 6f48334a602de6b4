// The release as a new user gets it: `npm pack` (which runs the build), then `npm install ./keygate-*.tgz`
// into an empty directory with production dependencies only (from npm's local cache where it can), then
// the installed bin: `--version`, `policy check` on the packaged example policy, and `serve` on a fresh
// embedded PGlite until /healthz answers. No tsx, no TypeScript, no dev dependency is present.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { freeLoopbackPort } from '../support/test-broker.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const run = promisify(execFile)
// The Node that runs the tests (the pinned one), first on PATH, so npm, npx and the bin's shebang use it.
const env = {
  ...process.env,
  PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
  NO_COLOR: '1',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
}
for (const name of Object.keys(env)) {
  // Keep the test's own npm context (workspace, prefix, script name) from leaking into the install.
  if (name.startsWith('npm_package_') || name === 'npm_lifecycle_event' || name === 'npm_config_prefix')
    delete env[name as keyof typeof env]
  if (name.startsWith('KEYGATE_')) delete env[name as keyof typeof env]
}

let work: string
let app: string
let server: ChildProcess | null = null

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'keygate-pack-'))
  app = join(work, 'app')
  const packed = await run('npm', ['pack', '--pack-destination', work, '--json'], {
    cwd: ROOT,
    env,
    maxBuffer: 16 * 1024 * 1024,
  })
  const [{ filename, files }] = JSON.parse(packed.stdout) as [
    { filename: string; files: Array<{ path: string }> },
  ]
  const paths = files.map((f) => f.path)
  expect(paths).toEqual(
    expect.arrayContaining([
      'bin/keygate.js',
      'dist/cli.js',
      'dist/keygate-gateway.mjs',
      'drizzle/meta/_journal.json',
      'policies/policy.hujson',
    ]),
  )
  expect(paths.filter((p) => p.startsWith('src/') || p.startsWith('test/'))).toEqual([])

  await run('mkdir', ['-p', app])
  await run('npm', ['install', '--omit=dev', '--prefer-offline', '--no-package-lock', join(work, filename)], {
    cwd: app,
    env,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 240_000,
  })
}, 300_000)

afterAll(async () => {
  if (server !== null && server.exitCode === null) {
    const exited = new Promise((resolve) => server?.once('exit', resolve))
    server.kill('SIGTERM')
    await exited
  }
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

it('installs with production dependencies only', async () => {
  const installed = await readdir(join(app, 'node_modules'))
  expect(installed).toContain('keygate')
  for (const dev of ['tsx', 'typescript', 'vitest', 'esbuild', 'wrangler', 'drizzle-kit'])
    expect(installed, `${dev} must not be installed`).not.toContain(dev)
})

it('prints its version', async () => {
  const { stdout } = await run('npx', ['--no-install', 'keygate', '--version'], { cwd: app, env })
  const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  expect(stdout.trim()).toBe(`keygate ${version}`)
})

it('checks the packaged example policy', async () => {
  const { stdout } = await run(
    'npx',
    ['--no-install', 'keygate', 'policy', 'check', 'node_modules/keygate/policies/policy.hujson'],
    { cwd: app, env },
  )
  expect(stdout).toMatch(/policy\.hujson: OK \(.*tests passed/)
})

it('serves on a fresh embedded PGlite until /healthz answers', async () => {
  const port = await freeLoopbackPort()
  const child = spawn(join(app, 'node_modules/.bin/keygate'), ['serve'], {
    cwd: app,
    env: { ...env, KEYGATE_URL: `http://localhost:${port}`, KEYGATE_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  server = child
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  // The log line that says it listens is the event to wait for; /healthz must then answer.
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', () => {
      if (output.includes('"keygate.started"')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${output}`)))
  })
  const health = await fetch(`http://127.0.0.1:${port}/healthz`)
  expect(health.status).toBe(200)
  // The demo ran the example policy from the package, and the embedded database lives in ./data.
  expect(output).toContain('policy.example_used')
  expect(existsSync(join(app, 'data/pglite'))).toBe(true)
  expect(output).not.toMatch(/ExperimentalWarning|Unsupported runtime/)
}, 300_000)
