// The gateway enforces the policy on every packet (issue 9), with nothing faked: the broker (Node server, real
// oidc-provider sign-ins, the test database) on loopback, one gateway running wireguard-go and the real agent
// with its real nftables table in its own namespace, hosts on the two routes behind it and on its uplink, and
// two users whose clients load the config the broker issued, then try to reach more than they were granted.
// Run once per interface backend: the UAPI socket and the `wg` tool.
//
//   cl1, cl2 --- wan (router) --- gw: wireguard-go + agent + nftables
//                                   |-- prod   198.18.96.0/24 (host .10)   route eu-1:prod
//                                   |-- office 198.18.97.0/24 (host .10)   route eu-1:office
//                                   |-- upl    198.18.99.0/24 (host .10)   the gateway's uplink, no route
//   overlay 198.18.128.0/20; every address is inside 198.18.0.0/15 and exists only in the lab's namespaces.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNftPacketFilter, type NftPacketFilter } from '../../src/adapters/firewall/nft-packet-filter.ts'
import { type GatewayAgent, runGatewayAgent } from '../../src/adapters/gateway/agent.ts'
import { type AgentStateStore, createMemoryAgentState } from '../../src/adapters/gateway/agent-state.ts'
import { createBrokerClient } from '../../src/adapters/gateway/broker-client.ts'
import { createJsonLogger } from '../../src/adapters/runtime/json-logger.ts'
import { cryptoRandom, systemClock } from '../../src/adapters/runtime/web-runtime.ts'
import { createUapiInterface } from '../../src/adapters/wireguard/uapi-interface.ts'
import { createWgCliInterface } from '../../src/adapters/wireguard/wg-cli-interface.ts'
import { generateKeyPair } from '../../src/core/peers/keys.ts'
import { filterTableName } from '../../src/core/sync/packet-filter.ts'
import type { WireGuardInterface } from '../../src/core/sync/peer-state.ts'
import { mintEnrollmentToken } from '../support/gateway-enrollment.ts'
import type { CookieJar } from '../support/login-driver.ts'
import { createNetnsLab, type NetnsLab, requireNetnsLab, type WireGuardGoProcess } from '../support/netns.ts'
import { loadLabClient, until } from '../support/network-lab.ts'
import { startTestBroker, type TestBroker } from '../support/test-broker.ts'
import type { TestIdpScenario } from '../support/test-idp.ts'

const canRun = await requireNetnsLab({ nft: true })
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n))

const OVERLAY = '198.18.128.0/20'
const ENDPOINT = { wan: '198.18.2.1/30', gw: '198.18.2.2/30', endpoint: '198.18.2.2:51820' }
const CLIENT1 = { wan: '198.18.3.1/30', client: '198.18.3.2/30' }
const CLIENT2 = { wan: '198.18.3.5/30', client: '198.18.3.6/30' }
const PROD = { subnet: '198.18.96.0/24', gateway: '198.18.96.1', host: '198.18.96.10' }
const OFFICE = { subnet: '198.18.97.0/24', gateway: '198.18.97.1', host: '198.18.97.10' }
const UPLINK = { subnet: '198.18.99.0/24', gateway: '198.18.99.1', host: '198.18.99.10' }

function policy(allDst: string[]): string {
  return `{
  "network": { "ipv4": "${OVERLAY}" },
  "gateways": {
    "eu-1": { "endpoint": "${ENDPOINT.endpoint}",
              "routes": { "prod": ["${PROD.subnet}"], "office": ["${OFFICE.subnet}"] } },
  },
  "groups": { "group:prod": ["idp:*:filter-prod"], "group:all": ["idp:*:filter-all"] },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "1h" } },
  "grants": [
    { "src": ["group:prod"], "dst": ["eu-1:prod"], "assurance": "mfa", "ttl": "1h" },
    { "src": ["group:all"], "dst": ${JSON.stringify(allDst)}, "assurance": "mfa", "ttl": "1h" },
  ],
}
`
}
const user = (name: string, group: string): TestIdpScenario => ({
  sub: `filter-${name}`,
  email: `${name}@example.com`,
  name,
  groups: [group],
  amr: ['pwd', 'otp'],
})
const PAT = user('pat', 'filter-prod')
const SAM = user('sam', 'filter-all')

interface IssuedLease {
  id: string
  publicKey: string
  addresses: string[]
  config: string
}

/** A continuous ping (10 a second) whose answered sequence numbers and times are kept. */
function pingTrain(lab: NetnsLab, namespace: string, address: string) {
  const replies: Array<{ seq: number; at: number }> = []
  let pending = ''
  const child: ChildProcess = spawn(
    'ip',
    ['netns', 'exec', namespace, 'ping', '-n', '-D', '-i', '0.1', '-W', '1', address],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  )
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8')
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) {
      const match = /^\[(\d+\.\d+)\] \d+ bytes from .* icmp_seq=(\d+)/.exec(line)
      if (match !== null) replies.push({ at: Number(match[1]) * 1000, seq: Number(match[2]) })
    }
  })
  void lab
  return {
    replies,
    stop() {
      child.kill('SIGINT')
    },
  }
}

describe.skipIf(!canRun).each(['uapi', 'wg'] as const)(
  'the gateway filters every packet to the lease grants (%s backend)',
  (backend) => {
    let lab: NetnsLab
    const ns = { wan: '', gw: '', prod: '', office: '', upl: '', cl1: '', cl2: '' }
    let gwWg: WireGuardGoProcess
    const clients: Record<'cl1' | 'cl2', WireGuardGoProcess | null> = { cl1: null, cl2: null }
    let iface: WireGuardInterface
    let filter: NftPacketFilter
    let broker: TestBroker
    let state: AgentStateStore
    let agent: GatewayAgent | null = null
    const agentLog: string[] = []
    let gatewayKey = ''
    let gatewayOverlay = ''
    let pat: IssuedLease
    let sam: IssuedLease
    let patJar: CookieJar
    let samJar: CookieJar
    let workDir = ''
    const figures: Record<string, unknown> = {}

    const must = async (namespace: string, command: string[]) => {
      const result = await lab.exec(namespace, command)
      if (result.code !== 0) throw new Error(`${command.join(' ')} in ${namespace}: ${result.stderr}`)
      return result.stdout
    }

    async function startAgent(token: string | null): Promise<GatewayAgent> {
      return runGatewayAgent(
        { token, listenPort: 51820, backoff: { baseMs: 50, maxMs: 500 } },
        {
          wg: iface,
          filter,
          brokers: [createBrokerClient(broker.origin)],
          state,
          clock: systemClock,
          random: cryptoRandom,
          logger: createJsonLogger((line) => agentLog.push(line), 'info'),
        },
      )
    }

    async function issue(jar: CookieJar, name: string): Promise<{ lease: IssuedLease; privateKey: string }> {
      const keys = generateKeyPair(random)
      const response = await broker.api(jar, '/api/v1/peers', {
        method: 'POST',
        json: { publicKey: keys.publicKey, name },
      })
      const body = (await response.json()) as IssuedLease
      expect(response.status, JSON.stringify(body)).toBe(201)
      return { lease: { ...body, publicKey: keys.publicKey }, privateKey: keys.privateKey }
    }

    async function peersOnGateway(): Promise<Set<string>> {
      return new Set((await iface.listPeers()).map((p) => p.publicKey))
    }

    /** The client as a user loads it: the issued config with its private key, then Address and routes. */
    async function loadClient(client: 'cl1' | 'cl2', lease: IssuedLease, privateKey: string): Promise<void> {
      await loadLabClient(lab, clients[client]!, lease.config, privateKey, workDir)
    }

    /** What a user can do on their own machine: widen the gateway peer's AllowedIPs and route more through it. */
    async function widenClient(client: 'cl1' | 'cl2', cidrs: string[]): Promise<void> {
      const wg = clients[client]!
      const parsed = (await must(wg.namespace, ['wg', 'show', wg.iface, 'allowed-ips'])).trim().split('\t')
      const current = (parsed[1] ?? '').split(' ').filter(Boolean)
      await must(wg.namespace, [
        'wg',
        'set',
        wg.iface,
        'peer',
        gatewayKey,
        'allowed-ips',
        [...new Set([...current, ...cidrs])].join(','),
      ])
      for (const cidr of cidrs) await must(wg.namespace, ['ip', 'route', 'replace', cidr, 'dev', wg.iface])
    }

    /** Two echoes in a row go unanswered (one lost echo could be chance; a filter drops every one). */
    async function unreachable(namespace: string, address: string): Promise<boolean> {
      return !(await lab.ping(namespace, address, 1_000)) && !(await lab.ping(namespace, address, 1_000))
    }

    beforeAll(async () => {
      lab = createNetnsLab()
      workDir = await mkdtemp(join(tmpdir(), `keygate-filter-${lab.id}-${backend}-`))
      for (const label of Object.keys(ns) as Array<keyof typeof ns>) ns[label] = await lab.namespace(label)
      await lab.vethPair(
        { namespace: ns.wan, address: ENDPOINT.wan },
        { namespace: ns.gw, address: ENDPOINT.gw },
      )
      await lab.vethPair(
        { namespace: ns.wan, address: CLIENT1.wan },
        { namespace: ns.cl1, address: CLIENT1.client },
      )
      await lab.vethPair(
        { namespace: ns.wan, address: CLIENT2.wan },
        { namespace: ns.cl2, address: CLIENT2.client },
      )
      for (const [label, net] of [
        ['prod', PROD],
        ['office', OFFICE],
        ['upl', UPLINK],
      ] as const) {
        await lab.vethPair(
          { namespace: ns.gw, address: `${net.gateway}/24` },
          { namespace: ns[label], address: `${net.host}/24` },
        )
        await must(ns[label], ['ip', 'route', 'add', 'default', 'via', net.gateway])
      }
      for (const router of [ns.wan, ns.gw]) await must(router, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
      await must(ns.gw, ['ip', 'route', 'add', '198.18.3.0/24', 'via', ENDPOINT.wan.split('/')[0]!])
      await must(ns.cl1, ['ip', 'route', 'add', '198.18.2.0/24', 'via', CLIENT1.wan.split('/')[0]!])
      await must(ns.cl2, ['ip', 'route', 'add', '198.18.2.0/24', 'via', CLIENT2.wan.split('/')[0]!])

      gwWg = await lab.startWireGuardGo(ns.gw)
      clients.cl1 = await lab.startWireGuardGo(ns.cl1)
      clients.cl2 = await lab.startWireGuardGo(ns.cl2)
      const inGw = ['ip', 'netns', 'exec', ns.gw]
      iface =
        backend === 'uapi'
          ? createUapiInterface(gwWg.iface)
          : createWgCliInterface(gwWg.iface, { commandPrefix: inGw })
      filter = createNftPacketFilter(gwWg.iface, { commandPrefix: inGw })
      state = createMemoryAgentState()

      broker = await startTestBroker({ policy: policy(['eu-1:*']) })
      agent = await startAgent(await mintEnrollmentToken(broker, 'eu-1'))
      gatewayKey = agent.snapshot().publicKey
      const credential = (await state.loadCredential())!
      gatewayOverlay = credential.addressV4!
      // The operator's part (docs/gateways.md): the interface gets the gateway's overlay address.
      await must(ns.gw, ['ip', 'addr', 'add', `${gatewayOverlay}/20`, 'dev', gwWg.iface])

      patJar = (await broker.login(PAT)).jar
      samJar = (await broker.login(SAM)).jar
      const p = await issue(patJar, 'pat laptop')
      const s = await issue(samJar, 'sam laptop')
      pat = p.lease
      sam = s.lease
      await until(
        'both peers on the gateway',
        async () => {
          const peers = await peersOnGateway()
          return peers.has(pat.publicKey) && peers.has(sam.publicKey) ? true : null
        },
        10_000,
      )
      await loadClient('cl1', pat, p.privateKey)
      await loadClient('cl2', sam, s.privateKey)
    }, 300_000)

    afterAll(async () => {
      await agent?.stop().catch(() => {})
      await broker?.close().catch(() => {})
      await lab?.cleanup()
      if (workDir !== '') await rm(workDir, { recursive: true, force: true })
      console.log(`gateway filter figures (${backend}): ${JSON.stringify(figures)}`)
    })

    it('a user granted eu-1:prod reaches prod, and nothing else even after widening its own config', async () => {
      expect(await lab.pingUntil(ns.cl1, PROD.host, 10_000)).toBe(true)
      const samOverlay = sam.addresses[0]!
      await widenClient('cl1', [OFFICE.subnet, `${samOverlay}/32`, UPLINK.subnet])
      // The widened client really sends there (its tunnel carries the packets; the gateway drops them).
      const routeCheck = await lab.exec(ns.cl1, ['ip', 'route', 'get', OFFICE.host])
      expect(routeCheck.stdout).toContain(clients.cl1!.iface)
      expect(await unreachable(ns.cl1, OFFICE.host)).toBe(true)
      expect(await unreachable(ns.cl1, samOverlay)).toBe(true)
      expect(await unreachable(ns.cl1, UPLINK.host)).toBe(true)
      expect(await unreachable(ns.cl1, UPLINK.gateway)).toBe(true) // the gateway's own uplink address
      // Prod still answers: the drops are the filter's, not a broken tunnel.
      expect(await lab.ping(ns.cl1, PROD.host, 1_000)).toBe(true)
      const table = await filter.list()
      expect(table).toContain(`${pat.addresses[0]} . ${PROD.subnet}`)
      expect(table).not.toContain(`${pat.addresses[0]} . ${OFFICE.subnet}`)
    })

    it('a user granted eu-1:* reaches both routes but not another lease or the uplink', async () => {
      expect(await lab.pingUntil(ns.cl2, PROD.host, 10_000)).toBe(true)
      expect(await lab.pingUntil(ns.cl2, OFFICE.host, 10_000)).toBe(true)
      await widenClient('cl2', [`${pat.addresses[0]}/32`, UPLINK.subnet])
      expect(await unreachable(ns.cl2, pat.addresses[0]!)).toBe(true)
      expect(await unreachable(ns.cl2, UPLINK.host)).toBe(true)
    })

    it('a policy edit that removes eu-1:office from a live lease cuts it within 2 s; prod loses nothing', async () => {
      const office = pingTrain(lab, ns.cl2, OFFICE.host)
      const prod = pingTrain(lab, ns.cl2, PROD.host)
      try {
        await until(
          'both ping trains answering',
          async () => (office.replies.length >= 5 && prod.replies.length >= 5 ? true : null),
          10_000,
        )
        const editedAt = Date.now()
        await writeFile(broker.policyPath, policy(['eu-1:prod']))
        // Observe well past the bound, then read the trains.
        await until(
          'the observation window',
          async () => (Date.now() > editedAt + 4_000 ? true : null),
          10_000,
        )
        const lastOffice = Math.max(...office.replies.map((r) => r.at))
        const prodSeqs = prod.replies.map((r) => r.seq)
        const expected = Math.max(...prodSeqs) - Math.min(...prodSeqs) + 1
        figures.policyCut = {
          lastOfficeReplyAfterEditMs: Math.round(lastOffice - editedAt),
          prodEchoesAnswered: prodSeqs.length,
          prodEchoesSent: expected,
        }
        expect(office.replies.filter((r) => r.at < editedAt).length).toBeGreaterThanOrEqual(5)
        expect(lastOffice - editedAt).toBeLessThan(2_000)
        // No echo to prod went unanswered from the train's first answer to its last.
        expect(new Set(prodSeqs).size).toBe(expected)
        expect(Math.max(...prod.replies.map((r) => r.at))).toBeGreaterThan(editedAt + 3_000)
      } finally {
        office.stop()
        prod.stop()
      }
      // The peer stayed; only its pairs shrank.
      expect((await peersOnGateway()).has(sam.publicKey)).toBe(true)
      const table = await filter.list()
      expect(table).toContain(`${sam.addresses[0]} . ${PROD.subnet}`)
      expect(table).not.toContain(`${sam.addresses[0]} . ${OFFICE.subnet}`)
    })

    it('a policy reload that widens a live lease opens the new route at the filter', async () => {
      // The previous step narrowed sam's lease to eu-1:prod; the reload grants eu-1:* again.
      expect(await unreachable(ns.cl2, OFFICE.host)).toBe(true)
      const editedAt = Date.now()
      await writeFile(broker.policyPath, policy(['eu-1:*']))
      expect(await lab.pingUntil(ns.cl2, OFFICE.host, 10_000)).toBe(true)
      figures.policyWidenReachableMs = Date.now() - editedAt
      expect(await filter.list()).toContain(`${sam.addresses[0]} . ${OFFICE.subnet}`)
      // Pat's lease is untouched by the widening: still prod only.
      expect(await filter.list()).not.toContain(`${pat.addresses[0]} . ${OFFICE.subnet}`)
    })

    it('an agent restart reconciles a hand-added rule away and leaves other tables alone', async () => {
      await agent!.stop()
      agent = null
      const table = filterTableName(gwWg.iface)
      // Someone opens the agent's table by hand, and keeps a table of their own.
      await must(ns.gw, ['nft', 'insert', 'rule', 'inet', table, 'from_peer', 'accept'])
      await must(ns.gw, ['nft', 'add', 'table', 'inet', 'operator_own'])
      expect(await lab.pingUntil(ns.cl1, OFFICE.host, 5_000)).toBe(true) // the hand rule really opened it
      const restartedAt = Date.now()
      agent = await startAgent(null)
      figures.restartReconcileMs = Date.now() - restartedAt
      expect(await filter.list()).not.toMatch(/^\s*accept$/m)
      expect(await unreachable(ns.cl1, OFFICE.host)).toBe(true)
      expect(await lab.ping(ns.cl1, PROD.host, 1_000)).toBe(true)
      expect(await must(ns.gw, ['nft', 'list', 'tables'])).toContain('table inet operator_own')
    })

    it('revocation removes the peer and its rules', async () => {
      const response = await broker.api(patJar, `/api/v1/peers/${pat.id}`, { method: 'DELETE' })
      expect(response.status).toBe(200)
      await until(
        'pat off the gateway',
        async () => ((await peersOnGateway()).has(pat.publicKey) ? null : true),
        5_000,
      )
      await until(
        "pat's pairs out of the table",
        async () => ((await filter.list()).includes(`${pat.addresses[0]} . `) ? null : true),
        5_000,
      )
      expect(await unreachable(ns.cl1, PROD.host)).toBe(true)
      expect(await filter.list()).toContain(`${sam.addresses[0]} . ${PROD.subnet}`)
      void samJar
    })
  },
)
