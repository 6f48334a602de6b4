// `keygate demo gateway` end to end: the real command against a real broker, a real client peer, and the
// teardown. The command runs inside a lab namespace standing for "this machine" (so its UDP socket, its
// 127.0.0.1 and everything it makes stay out of the host), and makes its own namespace from there.
//
//   host ns:  the broker on H (198.19.x.y), a veth to `me` only
//   me:       `keygate demo gateway dNNNN` (its wireguard-go's UDP socket on the policy's 127.0.0.1:PORT),
//             and the client: a wireguard-go interface loaded with an issued config
//   keygate-demo-dNNNN (made by the command): the gateway's interface, the agent's nftables table and
//             the HTTP service on 10.10.0.1
//
// Traffic is observed (curl through the tunnel until it answers, bounded), never slept for.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { access, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cryptoRandom } from '../../src/adapters/runtime/web-runtime.ts'
import { uapiSocketPath } from '../../src/adapters/wireguard/uapi-interface.ts'
import { generateKeyPair } from '../../src/core/peers/keys.ts'
import { createNetnsLab, type NetnsLab, requireNetnsLab } from '../support/netns.ts'
import { type HostLink, linkHostTo, loadLabClient, until } from '../support/network-lab.ts'
import { startTestBroker, type TestBroker } from '../support/test-broker.ts'
import { MFA_SCENARIO } from '../support/test-idp.ts'

const canRun = await requireNetnsLab({ nft: true })
const REPO = fileURLToPath(new URL('../..', import.meta.url))
const CLI = fileURLToPath(new URL('../../src/entrypoints/cli.ts', import.meta.url))

function demoPolicy(gateway: string, port: number): string {
  return `{
  "network": { "ipv4": "100.96.0.0/16", "ipv6": null },
  "gateways": { "${gateway}": { "endpoint": "127.0.0.1:${port}", "routes": { "prod": ["10.10.0.0/16"] } } },
  "groups": { "group:eng": ["idp:*:engineering"] },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "1h" } },
  "grants": [{ "src": ["group:eng"], "dst": ["${gateway}:*"], "assurance": "mfa", "ttl": "1h" }],
}
`
}

function ip(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile('ip', args, { timeout: 30_000 }, (error, stdout) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout })
    })
  })
}

const namespaceExists = async (name: string) =>
  (await ip(['netns', 'list'])).stdout.split('\n').some((line) => line.split(' ')[0] === name)

describe.skipIf(!canRun)('keygate demo gateway', () => {
  let lab: NetnsLab
  let me = ''
  let hostLink: HostLink | undefined
  let broker: TestBroker | undefined
  let demo: ChildProcess | undefined
  let workDir = ''
  const out: string[] = []
  const err: string[] = []
  let gateway = ''

  beforeAll(async () => {
    lab = createNetnsLab()
    gateway = `d${lab.id}`
    me = await lab.namespace('me')
    hostLink = await linkHostTo(lab, me)
    const port = 52_000 + (Number.parseInt(lab.id, 16) % 8_000)
    broker = await startTestBroker({
      policy: demoPolicy(gateway, port),
      host: hostLink.hostAddress,
      enrolGateways: false,
    })
    workDir = await mkdtemp(join(tmpdir(), 'keygate-demo-'))
  }, 120_000)

  afterAll(async () => {
    if (demo !== undefined && demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL')
    // Only what a failed run may have left of the command's own making, by its exact name.
    if (gateway !== '' && (await namespaceExists(`keygate-demo-${gateway}`)))
      await ip(['netns', 'del', `keygate-demo-${gateway}`])
    await lab?.cleanup()
    await hostLink?.remove()
    await broker?.close()
    if (workDir !== '') await rm(workDir, { recursive: true, force: true })
  })

  it('brings up a gateway a client reaches the demo service through, and removes all of it on Ctrl-C', async () => {
    if (broker === undefined) throw new Error('no broker')
    const iface = `kgd-${gateway}`
    const demoNs = `keygate-demo-${gateway}`
    demo = spawn(
      'ip',
      [
        'netns',
        'exec',
        me,
        process.execPath,
        '--import',
        'tsx',
        CLI,
        'demo',
        'gateway',
        gateway,
        '--allow-plain-http',
      ],
      {
        cwd: REPO,
        env: {
          ...process.env,
          KEYGATE_URL: broker.origin,
          KEYGATE_DATA_DIR: broker.dataDir,
          KEYGATE_POLICY: broker.policyPath,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    demo.stdout?.on('data', (d: Buffer) => out.push(d.toString('utf8')))
    demo.stderr?.on('data', (d: Buffer) => err.push(d.toString('utf8')))
    const exited = new Promise<number | null>((resolve) => demo?.once('exit', (code) => resolve(code)))
    await until(
      'the demo gateway to be up',
      () => {
        if (demo?.exitCode !== null) throw new Error(`the demo exited: ${err.join('')}`)
        return out.join('').includes('is up') ? true : null
      },
      60_000,
    )
    const printed = out.join('')
    expect(printed).toContain('curl http://10.10.0.1/')
    expect(await namespaceExists(demoNs)).toBe(true)

    // A client peer, as a user would make one: sign in, a key made here, the config loaded.
    const { jar } = await broker.login(MFA_SCENARIO)
    const keys = generateKeyPair((n) => cryptoRandom.bytes(n))
    const issued = await broker.api(jar, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: keys.publicKey, name: 'demo laptop' },
    })
    const lease = (await issued.json()) as { config: string; pendingGateways?: string[] }
    expect(issued.status, JSON.stringify(lease)).toBe(201)
    expect(lease.pendingGateways ?? []).toEqual([])
    const client = await lab.startWireGuardGo(me)
    await loadLabClient(lab, client, lease.config, keys.privateKey, workDir)

    const answer = await until(
      'the demo service to answer through the tunnel',
      async () => {
        const result = await lab.exec(me, ['curl', '-s', '--max-time', '2', 'http://10.10.0.1/'])
        return result.code === 0 && result.stdout !== '' ? result.stdout : null
      },
      30_000,
    )
    expect(answer).toBe('hello from behind the gateway\n')

    // Ctrl-C: the namespace, the interface, its UAPI socket and the processes go; the exit is clean.
    demo.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(await namespaceExists(demoNs)).toBe(false)
    expect((await lab.exec(me, ['ip', 'link', 'show', iface])).code).not.toBe(0)
    expect(
      await access(uapiSocketPath(iface)).then(
        () => true,
        () => false,
      ),
    ).toBe(false)
    expect(err.join('')).toContain('removed')
  }, 180_000)
})
