// The gateway agent as a gateway host runs it: the release build's one file, dist/keygate-gateway.mjs,
// copied alone into an empty directory (no node_modules anywhere near it) and started with Node inside a
// network namespace with wireguard-go, against the real broker (Node server, oidc-provider sign-in, the
// test database) on the host end of a veth. It enrolls with a one-time token, applies an issued lease's
// peer to the interface, removes it when the lease is revoked, and stops cleanly on SIGTERM.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../src/core/peers/keys.ts'
import { corePolicy } from '../fixtures/policies.ts'
import type { CookieJar } from '../support/login-driver.ts'
import { createNetnsLab, type NetnsLab, requireNetnsLab, type WireGuardGoProcess } from '../support/netns.ts'
import { startTestBroker, type TestBroker } from '../support/test-broker.ts'
import { MFA_SCENARIO } from '../support/test-idp.ts'

// The agent programs its nftables table, so nft is a prerequisite too (fails under CI=true when missing).
const canRun = await requireNetnsLab({ nft: true })
const REPO = fileURLToPath(new URL('../..', import.meta.url))
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n))

describe.skipIf(!canRun)('the bundled gateway agent on real wireguard-go', () => {
  let lab: NetnsLab
  let ns = ''
  let wg: WireGuardGoProcess
  let hostVeth = ''
  let broker: TestBroker
  let work = ''
  let agent: ChildProcess | null = null
  const log: string[] = []
  let alice: CookieJar

  const peersOnInterface = async () => {
    const result = await lab.exec(ns, ['wg', 'show', wg.iface, 'peers'])
    return result.stdout.split('\n').filter(Boolean)
  }
  /** Polls the interface (the event is the change of its peer set) until `check` holds. */
  async function untilPeers(check: (peers: string[]) => boolean, withinMs = 30_000) {
    const deadline = Date.now() + withinMs
    for (;;) {
      const peers = await peersOnInterface()
      if (check(peers)) return peers
      if (Date.now() > deadline)
        throw new Error(`interface peers stayed ${JSON.stringify(peers)}\n${log.join('\n')}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  beforeAll(async () => {
    await promisify(execFile)(process.execPath, [join(REPO, 'scripts/build.mjs')], { cwd: REPO })
    work = await mkdtemp(join(tmpdir(), 'keygate-gwbundle-'))
    await copyFile(join(REPO, 'dist/keygate-gateway.mjs'), join(work, 'keygate-gateway.mjs'))

    lab = createNetnsLab()
    ns = await lab.namespace('gw')
    // The broker listens on the host end of a veth into the gateway's namespace (198.19.0.0/17 here;
    // the mesh test uses 198.19.128.0/17), so the agent reaches it and nothing else.
    const id = Number.parseInt(lab.id, 16)
    const base = `198.19.${id % 128}`
    const offset = ((id >> 7) % 64) * 4
    const hostAddress = `${base}.${offset + 1}`
    hostVeth = `kb${lab.id}a`
    for (const args of [
      ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', `kb${lab.id}b`, 'netns', ns],
      ['addr', 'add', `${hostAddress}/30`, 'dev', hostVeth],
      ['link', 'set', hostVeth, 'up'],
      ['-n', ns, 'addr', 'add', `${base}.${offset + 2}/30`, 'dev', `kb${lab.id}b`],
      ['-n', ns, 'link', 'set', `kb${lab.id}b`, 'up'],
    ]) {
      await promisify(execFile)('ip', args)
    }
    wg = await lab.startWireGuardGo(ns)
    broker = await startTestBroker({ policy: corePolicy(), host: hostAddress })
    alice = (await broker.login(MFA_SCENARIO)).jar
    // The build, the lab and a broker on a fresh PGlite: on a loaded 2-core machine, up to minutes.
  }, 300_000)

  afterAll(async () => {
    if (agent !== null && agent.exitCode === null) agent.kill('SIGKILL')
    await broker?.close()
    if (hostVeth !== '') await promisify(execFile)('ip', ['link', 'del', hostVeth]).catch(() => {})
    await lab?.cleanup()
    if (work !== '') await rm(work, { recursive: true, force: true })
  })

  it('enrolls, applies a lease, removes it on revocation, and stops on SIGTERM', async () => {
    // The directory holds the one file and nothing else: no package.json, no node_modules.
    expect(await readdir(work)).toEqual(['keygate-gateway.mjs'])
    const adminToken = (await readFile(join(broker.dataDir, 'admin-token'), 'utf8')).trim()
    const minted = await broker.api(null, '/api/v1/admin/gateways/gw-a/enrollment-token', {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
    })
    const { token } = (await minted.json()) as { token: string }

    agent = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        join(work, 'keygate-gateway.mjs'),
        '--broker',
        broker.origin,
        '--interface',
        wg.iface,
        '--state-dir',
        join(work, 'state'),
        '--backend',
        'uapi',
        // The lab broker listens on a veth address, not loopback: plain http there is the test's choice.
        '--allow-plain-http',
      ],
      {
        cwd: work,
        env: { PATH: process.env.PATH, KEYGATE_GATEWAY_TOKEN: token },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    const keep = (chunk: Buffer) => log.push(...chunk.toString('utf8').split('\n').filter(Boolean))
    agent.stdout?.on('data', keep)
    agent.stderr?.on('data', keep)
    const exited = new Promise<number | null>((resolve) => agent?.once('exit', resolve))

    const client = generateKeyPair(random)
    const issued = await broker.api(alice, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: client.publicKey },
    })
    expect(issued.status).toBe(201)
    const lease = (await issued.json()) as { id: string }
    await untilPeers((peers) => peers.includes(client.publicKey))

    const revoked = await broker.api(alice, `/api/v1/peers/${lease.id}`, { method: 'DELETE' })
    expect(revoked.status).toBeLessThan(300)
    await untilPeers((peers) => !peers.includes(client.publicKey))

    agent.kill('SIGTERM')
    expect(await exited).toBe(0)
    // Not a terminal: one JSON object per line, naming events.
    const events = log.map((line) => (JSON.parse(line) as { event: string }).event)
    expect(events.length).toBeGreaterThan(0)
  })
})
