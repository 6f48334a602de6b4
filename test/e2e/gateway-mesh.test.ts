// A lease becomes access on a mesh of real WireGuard gateways (issue 4), with nothing faked: the whole broker
// (Node server, real oidc-provider sign-ins, the test database) in the host namespace, two gateways running
// wireguard-go in their own namespaces with the real agent (gw-a: the release build's bundled agent,
// dist/keygate-gateway.mjs, inside its namespace; gw-b: runGatewayAgent in this process over the UAPI socket), a service host behind each, and
// clients loading the config that `POST /api/v1/peers` returns with `wg setconf`.
//
//   host ns: broker on H (198.19.x.1), the host end of a veth to gw-a only
//   wan ns:  a router between the clients and the gateways' endpoints (198.18.2.0/24, 198.18.3.0/24)
//   gwa/gwb: wireguard-go + agent, IP forwarding to svca (198.18.64.0/24) / svcb (198.18.65.0/24)
//   cla/clb: alice's and bob's client interfaces; overlay 198.18.128.0/20
//
// Every address is inside 198.18.0.0/15; only H (random per run, so parallel runs cannot clash) exists in the
// host namespace, on a veth whose other end is in gw-a's namespace. Timing claims are measured, not slept:
// when a peer left an interface is the first poll of the interface that no longer lists it, and when
// traffic stopped is the timestamp of the last answered echo of a continuous ping.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNftPacketFilter } from '../../src/adapters/firewall/nft-packet-filter.ts'
import { type GatewayAgent, runGatewayAgent } from '../../src/adapters/gateway/agent.ts'
import { createFileAgentState, type StoredCursor } from '../../src/adapters/gateway/agent-state.ts'
import { createBrokerClient } from '../../src/adapters/gateway/broker-client.ts'
import { createJsonLogger } from '../../src/adapters/runtime/json-logger.ts'
import { cryptoRandom, systemClock } from '../../src/adapters/runtime/web-runtime.ts'
import { createUapiInterface } from '../../src/adapters/wireguard/uapi-interface.ts'
import { generateKeyPair } from '../../src/core/peers/keys.ts'
import { fillPrivateKey, parseWireGuardConfig, stripWgQuickFields } from '../../src/core/peers/wg-config.ts'
import type { WireGuardInterface } from '../../src/core/sync/peer-state.ts'
import { MESH_OVERLAY_PREFIX, MESH_SERVICE_A, MESH_SERVICE_B, meshPolicy } from '../fixtures/mesh-policy.ts'
import { mintEnrollmentToken } from '../support/gateway-enrollment.ts'
import type { CookieJar } from '../support/login-driver.ts'
import { createNetnsLab, type NetnsLab, requireNetnsLab, type WireGuardGoProcess } from '../support/netns.ts'
import { type HostLink, linkHostTo, until } from '../support/network-lab.ts'
import { startTestBroker, type TestBroker } from '../support/test-broker.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-db.ts'
import { startTestIdp, type TestIdp, type TestIdpScenario } from '../support/test-idp.ts'

const canRun = await requireNetnsLab({ nft: true })
const REPO = fileURLToPath(new URL('../..', import.meta.url))
/** Built in beforeAll: what a gateway host runs, not the sources. */
const AGENT = join(REPO, 'dist/keygate-gateway.mjs')
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n))

const ENDPOINT_A = { wan: '198.18.2.1/30', gw: '198.18.2.2/30', endpoint: '198.18.2.2:51820' }
const ENDPOINT_B = { wan: '198.18.2.5/30', gw: '198.18.2.6/30', endpoint: '198.18.2.6:51820' }
const CLIENT_A = { wan: '198.18.3.1/30', client: '198.18.3.2/30' }
const CLIENT_B = { wan: '198.18.3.5/30', client: '198.18.3.6/30' }
const SHORT_TTL_MS = 5_000

const user = (name: string, group: string): TestIdpScenario => ({
  sub: `mesh-${name}`,
  email: `${name}@example.com`,
  name,
  groups: [group],
  amr: ['pwd', 'otp'],
})
const ALICE = user('alice', 'mesh-both')
const BOB = user('bob', 'mesh-a')
const CAROL = user('carol', 'mesh-short')

interface IssuedLease {
  id: string
  publicKey: string
  addresses: string[]
  expiresAt: string
  config: string
  gateways: Array<{ name: string; enrolled: boolean }>
}

interface FeedRead {
  /** Which broker start served it (a closed broker's abandoned long polls still finish their last read). */
  broker: number
  gateway: string
  since: number
  reset: boolean
  version: number
  at: number
}

/** The test database with its store's feed reads recorded: what the broker answered each sync with. */
function recordingDatabase(db: TestDatabase, reads: FeedRead[], broker: number): TestDatabase {
  const store = new Proxy(db.store, {
    get(target, property) {
      if (property === 'readGatewayFeeds') {
        const read: typeof target.readGatewayFeeds = async (requests, limit, now) => {
          const pages = await target.readGatewayFeeds(requests, limit, now)
          requests.forEach(({ gateway, since }, i) => {
            const page = pages[i]
            if (page === null || page === undefined) return
            reads.push({ broker, gateway, since, reset: page.reset, version: page.version, at: Date.now() })
          })
          return pages
        }
        return read
      }
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { ...db, store, database: { ...db.database, store } }
}

/** An interface that remembers every key the agent ever set on it. */
function rememberingInterface(inner: WireGuardInterface, everSet: Set<string>): WireGuardInterface {
  return {
    ...inner,
    name: inner.name,
    async applyPeers(delta) {
      for (const peer of delta.set) everSet.add(peer.publicKey)
      await inner.applyPeers(delta)
    },
  }
}

describe.skipIf(!canRun)('a mesh of real WireGuard gateways fed by the broker', () => {
  let lab: NetnsLab
  const ns: Record<'wan' | 'gwa' | 'gwb' | 'svca' | 'svcb' | 'cla' | 'clb', string> = {
    wan: '',
    gwa: '',
    gwb: '',
    svca: '',
    svcb: '',
    cla: '',
    clb: '',
  }
  const wg: Record<'gwa' | 'gwb' | 'cla' | 'clb', WireGuardGoProcess | null> = {
    gwa: null,
    gwb: null,
    cla: null,
    clb: null,
  }
  let uapi: Record<'gw-a' | 'gw-b', WireGuardInterface>
  let hostLink: HostLink | undefined
  let hostAddress = ''
  let port = 0
  let idp: TestIdp | null = null
  let rawDb: TestDatabase | null = null
  let broker: TestBroker | null = null
  let brokerStarts = 0
  let secret = ''
  const reads: FeedRead[] = []
  let workDir = ''
  let stateA = ''
  let stateB = ''
  let agentA: ChildProcess | null = null
  const agentALog: string[] = []
  let agentB: GatewayAgent | null = null
  const agentBLog: string[] = []
  const everSetOnB = new Set<string>()
  const gatewayKeys: Record<'gw-a' | 'gw-b', string> = { 'gw-a': '', 'gw-b': '' }
  let sampler: { stop(): Promise<void>; samples: Array<{ gateway: string; at: number; keys: Set<string> }> }
  const figures: Record<string, unknown> = {}

  // People and their leases, carried from one step to the next.
  let aliceJar: CookieJar
  let alice: IssuedLease
  let bobJar: CookieJar
  let bob: IssuedLease
  let carolJar: CookieJar

  const brokerUrl = () => `http://${hostAddress}:${port}`

  async function startBroker(): Promise<TestBroker> {
    brokerStarts++
    const started = await startTestBroker({
      policy: meshPolicy({ endpointA: ENDPOINT_A.endpoint, endpointB: ENDPOINT_B.endpoint }),
      host: hostAddress,
      ...(port === 0 ? {} : { port }),
      database: recordingDatabase(rawDb!, reads, brokerStarts),
      idp: idp!,
      ...(secret === '' ? {} : { env: { KEYGATE_SECRET: secret } }),
    })
    port = Number(new URL(started.origin).port)
    secret = started.secret
    return started
  }

  function startAgentA(token: string | null): ChildProcess {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns.gwa,
        process.execPath,
        AGENT,
        'run',
        '--broker',
        brokerUrl(),
        '--interface',
        wg.gwa!.iface,
        '--state-dir',
        stateA,
        '--backend',
        'uapi',
        '--listen-port',
        '51820',
        // The lab broker listens on a veth address, not loopback: plain http there is the test's choice.
        '--allow-plain-http',
      ],
      {
        cwd: REPO,
        env: { ...process.env, ...(token === null ? {} : { KEYGATE_GATEWAY_TOKEN: token }) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    // If this run dies before afterAll, the agent must not outlive it.
    const kill = () => child.kill('SIGKILL')
    process.once('exit', kill)
    child.once('exit', () => process.removeListener('exit', kill))
    const keep = (chunk: Buffer) => {
      agentALog.push(...chunk.toString('utf8').split('\n').filter(Boolean))
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    return child
  }

  async function stopAgentA(): Promise<number | null> {
    const child = agentA
    agentA = null
    if (child === null || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    const code = await exited
    clearTimeout(killer)
    return code
  }

  async function issue(jar: CookieJar, name: string): Promise<{ lease: IssuedLease; privateKey: string }> {
    const keys = generateKeyPair(random)
    const response = await broker!.api(jar, '/api/v1/peers', {
      method: 'POST',
      json: { publicKey: keys.publicKey, name },
    })
    const body = (await response.json()) as IssuedLease
    expect(response.status, JSON.stringify(body)).toBe(201)
    return { lease: body, privateKey: keys.privateKey }
  }

  async function peersOn(gateway: 'gw-a' | 'gw-b'): Promise<Set<string>> {
    return new Set((await uapi[gateway].listPeers()).map((p) => p.publicKey))
  }

  /** `wg show IFACE peers`, run inside the gateway's namespace. */
  async function wgShowPeers(gateway: 'gw-a' | 'gw-b'): Promise<string[]> {
    const iface = gateway === 'gw-a' ? wg.gwa! : wg.gwb!
    const result = await lab.exec(iface.namespace, ['wg', 'show', iface.iface, 'peers'])
    expect(result.code, result.stderr).toBe(0)
    return result.stdout.split('\n').filter(Boolean)
  }

  /** Waits until `key` is on (or off) every named gateway; returns when each was first seen so. */
  async function untilEvery(
    key: string,
    gateways: Array<'gw-a' | 'gw-b'>,
    present: boolean,
    withinMs: number,
  ): Promise<Record<string, number>> {
    const at: Record<string, number> = {}
    await until(
      `${key} ${present ? 'on' : 'off'} ${gateways.join(', ')}`,
      async () => {
        for (const gateway of gateways) {
          if (at[gateway] !== undefined) continue
          if ((await peersOn(gateway)).has(key) === present) at[gateway] = Date.now()
        }
        return Object.keys(at).length === gateways.length ? at : null
      },
      withinMs,
      10,
    )
    return at
  }

  /** The client side, as a user would do it: private key filled in, wg-quick fields stripped, `wg setconf`, then Address and routes with ip. */
  async function loadClient(client: 'cla' | 'clb', lease: IssuedLease, privateKey: string): Promise<void> {
    const iface = wg[client]!
    const file = join(workDir, `${client}.conf`)
    await writeFile(file, stripWgQuickFields(fillPrivateKey(lease.config, privateKey)), { mode: 0o600 })
    const setconf = await lab.exec(iface.namespace, ['wg', 'setconf', iface.iface, file])
    await rm(file, { force: true })
    expect(setconf.stderr).toBe('')
    expect(setconf.code).toBe(0)
    const parsed = parseWireGuardConfig(lease.config, { allowPlaceholder: true })
    for (const address of parsed.interface.addresses) {
      const added = await lab.exec(iface.namespace, ['ip', 'addr', 'add', address, 'dev', iface.iface])
      expect(added.stderr).toBe('')
    }
    for (const cidr of new Set(parsed.peers.flatMap((p) => p.allowedIps))) {
      const route = await lab.exec(iface.namespace, ['ip', 'route', 'replace', cidr, 'dev', iface.iface])
      expect(route.stderr).toBe('')
    }
  }

  function startSampler(): typeof sampler {
    const samples: Array<{ gateway: string; at: number; keys: Set<string> }> = []
    let running = true
    const loop = (async () => {
      while (running) {
        for (const gateway of ['gw-a', 'gw-b'] as const) {
          try {
            samples.push({ gateway, at: Date.now(), keys: await peersOn(gateway) })
          } catch {}
        }
        await new Promise((r) => setTimeout(r, 100))
      }
    })()
    return {
      samples,
      async stop() {
        running = false
        await loop
      },
    }
  }

  /** gw-a's agent log lines from index `from` on, parsed. */
  const agentAEvents = (from: number) =>
    agentALog.slice(from).flatMap((line) => {
      try {
        return [JSON.parse(line) as { event: string; version?: number }]
      } catch {
        return []
      }
    })
  let agentARestart: { at: number; logFrom: number; cursorVersion: number } | null = null

  /**
   * Waits until both agents have asked this broker for changes after their feed's head (so each holds every
   * change and waits in a long poll). A closed connection's abandoned long poll may still log a late read of
   * an older cursor, so this looks for a read at the head rather than at the latest read.
   */
  async function untilAgentsAtHead(): Promise<Record<string, number>> {
    return until(
      'both agents waiting at their feed head',
      async () => {
        const heads: Record<string, number> = {}
        for (const gateway of ['gw-a', 'gw-b']) {
          const head = await rawDb!.store.gatewayFeedVersion(gateway)
          const atHead = reads.some(
            (r) => r.broker === brokerStarts && r.gateway === gateway && r.since === head,
          )
          if (!atHead) return null
          heads[gateway] = head
        }
        return heads
      },
      10_000,
    )
  }

  beforeAll(async () => {
    await new Promise<void>((resolve, reject) =>
      execFile(process.execPath, [join(REPO, 'scripts/build.mjs')], { cwd: REPO }, (error) =>
        error === null ? resolve() : reject(error),
      ),
    )
    lab = createNetnsLab()
    workDir = await mkdtemp(join(tmpdir(), `keygate-mesh-${lab.id}-`))
    stateA = join(workDir, 'state-gw-a')
    stateB = join(workDir, 'state-gw-b')
    for (const label of Object.keys(ns) as Array<keyof typeof ns>) ns[label] = await lab.namespace(label)

    // The underlay: clients reach the gateways' endpoints through the wan router.
    await lab.vethPair(
      { namespace: ns.wan, address: ENDPOINT_A.wan },
      { namespace: ns.gwa, address: ENDPOINT_A.gw },
    )
    await lab.vethPair(
      { namespace: ns.wan, address: ENDPOINT_B.wan },
      { namespace: ns.gwb, address: ENDPOINT_B.gw },
    )
    await lab.vethPair(
      { namespace: ns.wan, address: CLIENT_A.wan },
      { namespace: ns.cla, address: CLIENT_A.client },
    )
    await lab.vethPair(
      { namespace: ns.wan, address: CLIENT_B.wan },
      { namespace: ns.clb, address: CLIENT_B.client },
    )
    // The services behind the gateways, answering the overlay through their gateway.
    await lab.vethPair(
      { namespace: ns.gwa, address: `${MESH_SERVICE_A.gateway}/24` },
      { namespace: ns.svca, address: `${MESH_SERVICE_A.host}/24` },
    )
    await lab.vethPair(
      { namespace: ns.gwb, address: `${MESH_SERVICE_B.gateway}/24` },
      { namespace: ns.svcb, address: `${MESH_SERVICE_B.host}/24` },
    )
    const must = async (namespace: string, command: string[]) => {
      const result = await lab.exec(namespace, command)
      if (result.code !== 0) throw new Error(`${command.join(' ')} in ${namespace}: ${result.stderr}`)
    }
    for (const router of [ns.wan, ns.gwa, ns.gwb])
      await must(router, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    await must(ns.gwa, ['ip', 'route', 'add', '198.18.3.0/24', 'via', ENDPOINT_A.wan.split('/')[0]!])
    await must(ns.gwb, ['ip', 'route', 'add', '198.18.3.0/24', 'via', ENDPOINT_B.wan.split('/')[0]!])
    await must(ns.cla, ['ip', 'route', 'add', '198.18.2.0/24', 'via', CLIENT_A.wan.split('/')[0]!])
    await must(ns.clb, ['ip', 'route', 'add', '198.18.2.0/24', 'via', CLIENT_B.wan.split('/')[0]!])
    await must(ns.svca, ['ip', 'route', 'add', 'default', 'via', MESH_SERVICE_A.gateway])
    await must(ns.svcb, ['ip', 'route', 'add', 'default', 'via', MESH_SERVICE_B.gateway])

    // gw-a's agent runs inside gw-a's namespace, so the broker listens on the host end of a veth into it.
    hostLink = await linkHostTo(lab, ns.gwa)
    hostAddress = hostLink.hostAddress

    wg.gwa = await lab.startWireGuardGo(ns.gwa)
    wg.gwb = await lab.startWireGuardGo(ns.gwb)
    wg.cla = await lab.startWireGuardGo(ns.cla)
    wg.clb = await lab.startWireGuardGo(ns.clb)
    uapi = { 'gw-a': createUapiInterface(wg.gwa.iface), 'gw-b': createUapiInterface(wg.gwb.iface) }

    idp = await startTestIdp()
    rawDb = await createTestDatabase()
    broker = await startBroker()

    // Enrollment: tokens through the admin API (the server's local admin token), then the agents, which make
    // their interface keys locally and send only the public key.
    const tokenA = await mintEnrollmentToken(broker!, 'gw-a')
    const tokenB = await mintEnrollmentToken(broker!, 'gw-b')
    agentA = startAgentA(tokenA)
    agentB = await runGatewayAgent(
      { token: tokenB, listenPort: 51820 },
      {
        wg: rememberingInterface(uapi['gw-b'], everSetOnB),
        filter: createNftPacketFilter(wg.gwb.iface, { commandPrefix: ['ip', 'netns', 'exec', ns.gwb] }),
        brokers: [createBrokerClient(brokerUrl(), { allowPlainHttp: true })],
        state: createFileAgentState(stateB),
        clock: systemClock,
        random: cryptoRandom,
        logger: createJsonLogger((line) => agentBLog.push(line), 'info'),
      },
    )
    for (const [gateway, iface, dir] of [
      ['gw-a', wg.gwa, stateA],
      ['gw-b', wg.gwb, stateB],
    ] as const) {
      const credential = await until(
        `${gateway}'s enrollment`,
        async () => {
          const text = await readFile(join(dir, 'credential.json'), 'utf8').catch(() => null)
          return text === null ? null : (JSON.parse(text) as { addressV4: string; publicKey: string })
        },
        30_000,
        50,
      )
      gatewayKeys[gateway] = credential.publicKey
      expect(await uapi[gateway].getPublicKey()).toBe(credential.publicKey)
      // The operator's part (docs/gateways.md): the interface gets the gateway's overlay address.
      await must(iface.namespace, [
        'ip',
        'addr',
        'add',
        `${credential.addressV4}/${MESH_OVERLAY_PREFIX}`,
        'dev',
        iface.iface,
      ])
    }
    await untilAgentsAtHead()
    sampler = startSampler()
  })

  afterAll(async () => {
    await sampler?.stop()
    await stopAgentA().catch(() => {})
    await agentB?.stop().catch(() => {})
    await broker?.close().catch(() => {})
    await idp?.close().catch(() => {})
    await rawDb?.close().catch(() => {})
    await hostLink?.remove()
    await lab?.cleanup()
    if (workDir !== '') await rm(workDir, { recursive: true, force: true })
    console.log(`gateway mesh figures: ${JSON.stringify(figures)}`)
  })

  it('a user granted both gateways gets one peer per gateway and reaches the service behind each', async () => {
    aliceJar = (await broker!.login(ALICE)).jar
    const issued = await issue(aliceJar, 'alice laptop')
    const issuedAt = Date.now()
    alice = issued.lease
    const config = parseWireGuardConfig(alice.config, { allowPlaceholder: true })
    expect(config.peers.map((p) => p.publicKey).sort()).toEqual(
      [gatewayKeys['gw-a'], gatewayKeys['gw-b']].sort(),
    )
    const applied = await untilEvery(alice.publicKey, ['gw-a', 'gw-b'], true, 5_000)
    figures.issueToAppliedMs = { 'gw-a': applied['gw-a']! - issuedAt, 'gw-b': applied['gw-b']! - issuedAt }

    await loadClient('cla', alice, issued.privateKey)
    expect(await lab.pingUntil(ns.cla, MESH_SERVICE_A.host, 10_000)).toBe(true)
    expect(await lab.pingUntil(ns.cla, MESH_SERVICE_B.host, 10_000)).toBe(true)
    expect(await wgShowPeers('gw-a')).toContain(alice.publicKey)
    expect(await wgShowPeers('gw-b')).toContain(alice.publicKey)
  })

  it('a user granted one gateway cannot reach the other, which never holds the key', async () => {
    bobJar = (await broker!.login(BOB)).jar
    const issued = await issue(bobJar, 'bob laptop')
    bob = issued.lease
    const config = parseWireGuardConfig(bob.config, { allowPlaceholder: true })
    expect(config.peers.map((p) => p.publicKey)).toEqual([gatewayKeys['gw-a']])
    expect(bob.gateways.map((g) => g.name)).toEqual(['gw-a'])
    await untilEvery(bob.publicKey, ['gw-a'], true, 5_000)
    await loadClient('clb', bob, issued.privateKey)
    expect(await lab.pingUntil(ns.clb, MESH_SERVICE_A.host, 10_000)).toBe(true)

    // Bob adds gw-b to his interface by hand: its handshake is never answered, so nothing passes.
    const clb = wg.clb!
    const forged = await lab.exec(ns.clb, [
      'wg',
      'set',
      clb.iface,
      'peer',
      gatewayKeys['gw-b'],
      'endpoint',
      ENDPOINT_B.endpoint,
      'allowed-ips',
      MESH_SERVICE_B.subnet,
    ])
    expect(forged.stderr).toBe('')
    await lab.exec(ns.clb, ['ip', 'route', 'replace', MESH_SERVICE_B.subnet, 'dev', clb.iface])
    expect(await lab.ping(ns.clb, MESH_SERVICE_B.host, 1_000)).toBe(false)
    expect(await lab.ping(ns.clb, MESH_SERVICE_B.host, 1_000)).toBe(false)
    const handshakes = await lab.exec(ns.clb, ['wg', 'show', clb.iface, 'latest-handshakes'])
    expect(handshakes.stdout).toContain(`${gatewayKeys['gw-b']}\t0`)

    // gw-b never held bob's key: not now, not in any 100 ms sample, never set by its agent.
    expect(await wgShowPeers('gw-b')).not.toContain(bob.publicKey)
    expect(await wgShowPeers('gw-b')).toContain(alice.publicKey)
    const onB = sampler.samples.filter((s) => s.gateway === 'gw-b')
    expect(onB.length).toBeGreaterThan(5)
    expect(onB.some((s) => s.keys.has(bob.publicKey))).toBe(false)
    expect(everSetOnB.has(bob.publicKey)).toBe(false)
    expect(everSetOnB.has(alice.publicKey)).toBe(true)
  })

  it('a revoked lease stops passing traffic within 2 s', async () => {
    // A continuous ping (10 a second) from bob's client; iputils flushes each reply line.
    const replies: number[] = []
    let pending = ''
    const ping = spawn(
      'ip',
      ['netns', 'exec', ns.clb, 'ping', '-n', '-D', '-i', '0.1', '-W', '1', MESH_SERVICE_A.host],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    )
    ping.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8')
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        const match = /^\[(\d+\.\d+)\] \d+ bytes from /.exec(line)
        if (match !== null) replies.push(Number(match[1]) * 1000)
      }
    })
    try {
      await until('the ping to answer', async () => (replies.length >= 5 ? true : null), 5_000)
      const revokedAt = Date.now()
      const response = await broker!.api(bobJar, `/api/v1/peers/${bob.id}`, { method: 'DELETE' })
      expect(response.status).toBe(200)
      const removed = await untilEvery(bob.publicKey, ['gw-a'], false, 5_000)
      // Keep pinging well past the bound, then look at when the last echo was answered.
      await until(
        'the observation window',
        async () => (Date.now() > revokedAt + 3_000 ? true : null),
        5_000,
        50,
      )
      const lastReply = Math.max(...replies)
      figures.revocation = {
        removedFromGatewayMs: removed['gw-a']! - revokedAt,
        lastAnsweredEchoMs: Math.round(lastReply - revokedAt),
        echoesAnsweredBefore: replies.filter((t) => t < revokedAt).length,
        echoesAnsweredAfter: replies.filter((t) => t >= revokedAt).length,
      }
      expect(replies.filter((t) => t < revokedAt).length).toBeGreaterThanOrEqual(5)
      expect(lastReply - revokedAt).toBeLessThan(2_000)
      expect(removed['gw-a']! - revokedAt).toBeLessThan(2_000)
    } finally {
      ping.kill('SIGINT')
    }
    expect(await lab.ping(ns.clb, MESH_SERVICE_A.host, 1_000)).toBe(false)
    expect(await wgShowPeers('gw-a')).not.toContain(bob.publicKey)
  })

  it('an agent restart reconciles the interface: a stray peer goes, wanted peers stay, the cursor resumes', async () => {
    const stoppedAt = Date.now()
    expect(await stopAgentA()).toBe(0)
    const cursor = JSON.parse(await readFile(join(stateA, 'cursor.json'), 'utf8')) as StoredCursor
    expect(cursor.version).toBe(await rawDb!.store.gatewayFeedVersion('gw-a'))
    expect(cursor.peers.map((p) => p.publicKey)).toEqual([alice.publicKey])

    const stray = generateKeyPair(random).publicKey
    const added = await lab.exec(ns.gwa, [
      'wg',
      'set',
      wg.gwa!.iface,
      'peer',
      stray,
      'allowed-ips',
      '198.18.200.1/32',
    ])
    expect(added.stderr).toBe('')
    expect(await wgShowPeers('gw-a')).toContain(stray)

    const restartedAt = Date.now()
    const logFrom = agentALog.length
    agentA = startAgentA(null) // no token: the credential is in the state dir
    const gone = await untilEvery(stray, ['gw-a'], false, 30_000)
    figures.agentRestartStrayRemovedMs = gone['gw-a']! - restartedAt
    const peers = await wgShowPeers('gw-a')
    expect(peers).toEqual([alice.publicKey])
    // Alice's peer stayed on the interface the whole time, agent down or starting.
    // The bundled agent restarts in a few hundred ms: let the sampler see the interface a few more times.
    const sinceStop = () => sampler.samples.filter((s) => s.gateway === 'gw-a' && s.at >= stoppedAt)
    await until('samples across the restart', () => (sinceStop().length > 3 ? true : null), 10_000)
    const duringRestart = sinceStop()
    expect(duringRestart.length).toBeGreaterThan(3)
    expect(duringRestart.every((s) => s.keys.has(alice.publicKey))).toBe(true)
    // It resumed from the saved cursor rather than asking for a snapshot (its first answer comes with the
    // next change, checked in the next step).
    const restored = await until(
      "gw-a's restored cursor",
      async () => agentAEvents(logFrom).find((e) => e.event === 'gateway.cursor_restored') ?? null,
      10_000,
    )
    expect(restored.version).toBe(cursor.version)
    agentARestart = { at: restartedAt, logFrom, cursorVersion: cursor.version }
    expect(await lab.pingUntil(ns.cla, MESH_SERVICE_A.host, 5_000)).toBe(true)
  })

  it('a short lease leaves both gateways within 1 s of its expiry while the broker is stopped', async () => {
    carolJar = (await broker!.login(CAROL)).jar
    const { lease } = await issue(carolJar, 'carol phone')
    const expiresAt = Date.parse(lease.expiresAt)
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(SHORT_TTL_MS)
    await untilEvery(lease.publicKey, ['gw-a', 'gw-b'], true, 3_000)
    const heads = await untilAgentsAtHead()

    // The restarted gw-a agent's first answer (this change woke it) continued from its saved cursor, and the
    // broker sent it no snapshot since the restart.
    const restart = agentARestart!
    const connected = await until(
      "gw-a's first answer after its restart",
      async () => agentAEvents(restart.logFrom).find((e) => e.event === 'gateway.connected') ?? null,
      5_000,
    )
    expect(connected.version).toBe(restart.cursorVersion)
    expect(
      reads.filter((r) => r.gateway === 'gw-a' && r.at >= restart.at && (r.reset || r.since === 0)),
    ).toEqual([])

    await broker!.close()
    broker = null
    const stoppedAt = Date.now()
    figures.brokerStoppedBeforeExpiryMs = expiresAt - stoppedAt
    expect(stoppedAt, 'the broker must be down before the lease expires').toBeLessThan(expiresAt - 500)
    await expect(fetch(`${brokerUrl()}/healthz`)).rejects.toThrow()

    const gone = await untilEvery(lease.publicKey, ['gw-a', 'gw-b'], false, expiresAt - Date.now() + 3_000)
    figures.expiryWhileBrokerDownMs = { 'gw-a': gone['gw-a']! - expiresAt, 'gw-b': gone['gw-b']! - expiresAt }
    for (const gateway of ['gw-a', 'gw-b'] as const) {
      expect(gone[gateway]!).toBeGreaterThanOrEqual(expiresAt)
      expect(gone[gateway]! - expiresAt).toBeLessThan(1_000)
    }
    // The gateways do not need the broker for what they already hold: alice still gets through.
    expect(await lab.pingUntil(ns.cla, MESH_SERVICE_B.host, 3_000)).toBe(true)

    // --- the broker comes back on the same database, secret and URL ---------------------------------
    const restartedAt = Date.now()
    broker = await startBroker()
    const resumed = await until(
      'both agents to sync with the restarted broker',
      async () => {
        const after = ['gw-a', 'gw-b'].map((g) =>
          reads.find((r) => r.gateway === g && r.broker === brokerStarts),
        )
        return after.every((r) => r !== undefined) ? after : null
      },
      60_000,
      50,
    )
    figures.reconnectAfterBrokerRestartMs = Object.fromEntries(
      resumed.map((r) => [r!.gateway, r!.at - restartedAt]),
    )
    // Each asked from the version it held when the broker went away, and was answered with a delta.
    for (const read of resumed) expect(read).toMatchObject({ since: heads[read!.gateway], reset: false })
    expect(agentB!.snapshot().version).toBeGreaterThanOrEqual(heads['gw-b']!)

    // A new issuance after the restart reaches both (and, with the broker up this time, expires on time).
    const again = await issue(carolJar, 'carol phone 2')
    const issuedAt = Date.now()
    const reached = await untilEvery(again.lease.publicKey, ['gw-a', 'gw-b'], true, 5_000)
    figures.issueToAppliedAfterRestartMs = {
      'gw-a': reached['gw-a']! - issuedAt,
      'gw-b': reached['gw-b']! - issuedAt,
    }
    const againExpires = Date.parse(again.lease.expiresAt)
    const expired = await untilEvery(
      again.lease.publicKey,
      ['gw-a', 'gw-b'],
      false,
      againExpires - Date.now() + 3_000,
    )
    figures.expiryWhileBrokerUpMs = {
      'gw-a': expired['gw-a']! - againExpires,
      'gw-b': expired['gw-b']! - againExpires,
    }
    for (const gateway of ['gw-a', 'gw-b'] as const) {
      expect(expired[gateway]!).toBeGreaterThanOrEqual(againExpires)
      expect(expired[gateway]! - againExpires).toBeLessThan(1_000)
    }
    // Not one snapshot since the restart: every answer to either agent was a delta from its cursor.
    const sinceRestart = reads.filter((r) => r.broker === brokerStarts)
    expect(sinceRestart.length).toBeGreaterThan(2)
    expect(sinceRestart.filter((r) => r.reset || r.since === 0)).toEqual([])
    expect(await wgShowPeers('gw-a')).toEqual([alice.publicKey])
    expect(await wgShowPeers('gw-b')).toEqual([alice.publicKey])
  })
})
