// `keygate up --config-only FILE` as a user of the official WireGuard apps runs it (issue 12), the real
// CLI in a child process against a real broker on the database KEYGATE_TEST_DB names: it writes a 0600
// wg-quick file with the key it made locally, keeps the lease renewed without touching the file (same
// key, same address: an imported tunnel keeps working), rewrites it when a granted gateway enrolls while
// it runs (the lease watch wakes on the enrollment), and `keygate down` ends it and removes the file.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decideDevice } from '../../support/device-approval.ts'
import { enrollGateway } from '../../support/gateway-enrollment.ts'
import { until } from '../../support/network-lab.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'
import { MFA_SCENARIO } from '../../support/test-idp.ts'

const CLI = ['--import', 'tsx', 'src/entrypoints/cli.ts']
const TTL_SECONDS = 6
const POLICY = `{
  "network": { "ipv4": "100.96.0.0/20" },
  "gateways": {
    "gw-a": { "endpoint": "198.18.0.1:51820", "routes": { "prod": ["10.10.0.0/16"] } },
    "gw-b": { "endpoint": "198.18.0.2:51820", "routes": { "prod": ["10.20.0.0/16"] } },
  },
  "groups": { "group:eng": ["idp:*:engineering"] },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "1h" } },
  "grants": [{ "src": ["group:eng"], "dst": ["gw-a:*", "gw-b:*"], "assurance": "mfa", "ttl": "${TTL_SECONDS}s" }],
}
`

interface Run {
  child: ChildProcess
  out: string[]
  err: string[]
  exited: Promise<number | null>
}

describe('keygate up --config-only', () => {
  let broker: TestBroker
  let workDir: string
  const runs: Run[] = []
  const gatewayKeys: Record<string, string> = {}

  async function enroll(gateway: string): Promise<void> {
    gatewayKeys[gateway] = (await enrollGateway(broker, gateway)).keys.publicKey
  }

  function keygate(args: string[], stateDir: string): Run {
    const child = spawn(process.execPath, [...CLI, ...args, '--state-dir', stateDir], {
      env: { ...process.env, KEYGATE_NO_BROWSER: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const run: Run = { child, out: [], err: [], exited: Promise.resolve(null) }
    child.stdout?.on('data', (d: Buffer) => run.out.push(...d.toString('utf8').split('\n')))
    child.stderr?.on('data', (d: Buffer) => run.err.push(...d.toString('utf8').split('\n')))
    run.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
    runs.push(run)
    return run
  }

  beforeAll(async () => {
    broker = await startTestBroker({ policy: POLICY, enrolGateways: false })
    workDir = await mkdtemp(join(tmpdir(), 'keygate-config-only-'))
    await enroll('gw-a')
  }, 180_000)
  afterAll(async () => {
    for (const run of runs) if (run.child.exitCode === null) run.child.kill('SIGTERM')
    await Promise.all(runs.map((r) => r.exited))
    await broker?.close()
    await rm(workDir, { recursive: true, force: true })
  })

  it('writes a 0600 wg-quick file, renews behind it without changing it, adds a newly enrolled gateway, and down removes it', async () => {
    const stateDir = join(workDir, 'state')
    const file = join(workDir, 'keygate.conf')
    const up = keygate(['up', '--config-only', file, '--broker', broker.url, '--name', 'phone'], stateDir)
    const link = await until(
      'the approval link',
      () => up.out.flatMap((line) => /go straight to (\S+)/.exec(line)?.[1] ?? [])[0] ?? null,
      60_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; stderr: ${up.err.join('\n')}`)
    })
    const userCode = new URL(link).searchParams.get('user_code') ?? ''
    const { jar } = await broker.login(MFA_SCENARIO)
    expect((await decideDevice(broker.origin, jar, userCode, 'approve')).status).toBe(200)

    const written = await until('the config file', () => readFile(file, 'utf8').catch(() => null), 30_000)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const privateKey = (await readFile(join(stateDir, 'private.key'), 'utf8')).trim()
    expect(written).toContain(`PrivateKey = ${privateKey}`)
    expect(written).toMatch(/^Address = 100\.96\./m)
    expect(written).toContain(`PublicKey = ${gatewayKeys['gw-a']}`)
    expect(written).toContain('Endpoint = 198.18.0.1:51820')
    expect(written).toMatch(/^PresharedKey = \S+/m)
    expect(written).not.toContain('198.18.0.2:51820')
    const leaseId = await until(
      'the lease id',
      () => up.err.flatMap((l) => /lease (\S+) until/.exec(l)?.[1] ?? [])[0] ?? null,
      10_000,
    )

    // Two renewals of the short lease: the file (key, address, peers) stays exactly as imported.
    const renewals = async () =>
      (await broker.db.store.listAudit({ type: 'lease.renewed', limit: 200 })).filter(
        (e) => e.leaseId === leaseId,
      ).length
    await until('two renewals', async () => ((await renewals()) >= 2 ? true : null), 4 * TTL_SECONDS * 1000)
    expect(await readFile(file, 'utf8')).toBe(written)
    expect((await broker.db.store.getLease(leaseId))?.revokedAt).toBeNull()

    // gw-b was granted but had not enrolled: its enrollment reaches the running client, which rewrites the file.
    await enroll('gw-b')
    const updated = await until(
      'the file with gw-b',
      async () => {
        const text = await readFile(file, 'utf8')
        return text.includes(`PublicKey = ${gatewayKeys['gw-b']}`) ? text : null
      },
      20_000,
    )
    expect(updated).toContain('Endpoint = 198.18.0.2:51820')
    expect(updated).toContain(`PrivateKey = ${privateKey}`)
    expect(updated.match(/^Address = .*$/m)?.[0]).toBe(written.match(/^Address = .*$/m)?.[0])
    // The client writes the file, then says so: its stderr reaches this process after the file does.
    // Joined without separators: a chunk boundary inside the line must not hide it.
    await until(
      'the peers-updated line',
      () => up.err.join('').includes('Peers updated: gw-a, gw-b') || null,
      10_000,
    )

    const down = keygate(['down'], stateDir)
    expect(await down.exited).toBe(0)
    expect(await up.exited).toBe(0)
    await expect(stat(file)).rejects.toThrow()
  })
})
