/**
 * The parts every WireGuard end-to-end test builds on top of a netns lab (netns.ts): a veth from the host
 * namespace into a lab namespace (so a broker on the host is reachable from there), an enrolled gateway
 * (wireguard-go, the real agent over its UAPI socket with its nftables filter, the overlay address the
 * operator adds), a client interface loaded with an issued config, and the bounded poll the tests wait
 * with. Timing is observed, never slept: `until` polls a probe up to a generous bound.
 */
import { execFile } from 'node:child_process'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createNftPacketFilter } from '../../src/adapters/firewall/nft-packet-filter.ts'
import { type GatewayAgent, runGatewayAgent } from '../../src/adapters/gateway/agent.ts'
import { type AgentStateStore, createMemoryAgentState } from '../../src/adapters/gateway/agent-state.ts'
import { createBrokerClient } from '../../src/adapters/gateway/broker-client.ts'
import { silentLogger } from '../../src/adapters/runtime/json-logger.ts'
import { cryptoRandom, systemClock } from '../../src/adapters/runtime/web-runtime.ts'
import { createUapiInterface } from '../../src/adapters/wireguard/uapi-interface.ts'
import { fillPrivateKey, parseWireGuardConfig, stripWgQuickFields } from '../../src/core/peers/wg-config.ts'
import type { Logger } from '../../src/core/ports.ts'
import { mintEnrollmentToken } from './gateway-enrollment.ts'
import type { NetnsLab, WireGuardGoProcess } from './netns.ts'
import type { TestBroker } from './test-broker.ts'

/** Polls `probe` until it returns a value (not null) or `withinMs` passes, then throws naming `what`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | null> | T | null,
  withinMs: number,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + withinMs
  for (;;) {
    const value = await probe()
    if (value !== null) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

function ip(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ip', args, { timeout: 30_000 }, (error, _stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stderr })
    })
  })
}

export interface HostLink {
  /** The host end's address, for a server to listen on (198.19.x.y, a /30 of its own). */
  hostAddress: string
  remove(): Promise<void>
}

/**
 * A veth from the host namespace into `namespace`, so a server on the host end is reachable from inside
 * the lab. Addresses come from 198.19.128.0/17 keyed by the lab id, so two labs' links do not collide;
 * `tag` (a-d) tells a lab's links apart.
 */
export async function linkHostTo(lab: NetnsLab, namespace: string, tag = 'a'): Promise<HostLink> {
  const id = Number.parseInt(lab.id, 16)
  const base = `198.19.${128 + (id % 128)}`
  const slot = tag.charCodeAt(0) - 97
  if (tag.length !== 1 || slot < 0 || slot > 3) throw new Error('host link tags are a, b, c or d')
  const offset = ((id >> 7) % 16) * 16 + slot * 4
  const hostVeth = `kh${lab.id}${tag}h`
  const innerVeth = `kh${lab.id}${tag}n`
  const hostAddress = `${base}.${offset + 1}`
  for (const args of [
    ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', innerVeth, 'netns', namespace],
    ['addr', 'add', `${hostAddress}/30`, 'dev', hostVeth],
    ['link', 'set', hostVeth, 'up'],
    ['-n', namespace, 'addr', 'add', `${base}.${offset + 2}/30`, 'dev', innerVeth],
    ['-n', namespace, 'link', 'set', innerVeth, 'up'],
  ]) {
    const result = await ip(args)
    if (result.code !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr}`)
  }
  return {
    hostAddress,
    async remove() {
      await ip(['link', 'del', hostVeth])
    },
  }
}

export interface LabGateway {
  name: string
  wg: WireGuardGoProcess
  agent: GatewayAgent
  state: AgentStateStore
  /** The gateway's overlay IPv4 address, as the broker assigned it at enrollment. */
  addressV4: string
  /** The peers' public keys as `wg show IFACE peers` lists them inside the gateway's namespace. */
  peerKeys(): Promise<string[]>
  stop(): Promise<void>
}

/**
 * Enrolls a gateway named `name` in `namespace`: starts wireguard-go there, runs the agent (in this
 * process, over the UAPI socket, with its nftables filter in the namespace) against `brokerUrl`
 * (default the broker's own URL), waits for the enrollment, and adds the overlay address to the interface
 * (the operator's part, docs/gateways.md).
 */
export async function enrollLabGateway(
  lab: NetnsLab,
  broker: TestBroker,
  options: {
    namespace: string
    name: string
    overlayPrefix: number
    brokerUrl?: string
    listenPort?: number
    logger?: Logger
  },
): Promise<LabGateway> {
  const wg = await lab.startWireGuardGo(options.namespace)
  const state = createMemoryAgentState()
  const agent = await runGatewayAgent(
    { token: await mintEnrollmentToken(broker, options.name), listenPort: options.listenPort ?? 51820 },
    {
      wg: createUapiInterface(wg.iface),
      filter: createNftPacketFilter(wg.iface, { commandPrefix: ['ip', 'netns', 'exec', options.namespace] }),
      brokers: [createBrokerClient(options.brokerUrl ?? broker.url, { allowPlainHttp: true })],
      state,
      clock: systemClock,
      random: cryptoRandom,
      logger: options.logger ?? silentLogger,
    },
  )
  const credential = await until('the gateway enrolled', () => state.loadCredential(), 30_000)
  const addressV4 = credential.addressV4
  if (addressV4 === undefined || addressV4 === null) throw new Error(`${options.name} got no overlay address`)
  const added = await lab.exec(options.namespace, [
    'ip',
    'addr',
    'add',
    `${addressV4}/${options.overlayPrefix}`,
    'dev',
    wg.iface,
  ])
  if (added.code !== 0) throw new Error(`overlay address on ${wg.iface}: ${added.stderr}`)
  return {
    name: options.name,
    wg,
    agent,
    state,
    addressV4,
    async peerKeys() {
      const shown = await lab.exec(options.namespace, ['wg', 'show', wg.iface, 'peers'])
      if (shown.code !== 0) throw new Error(`wg show ${wg.iface} peers: ${shown.stderr}`)
      return shown.stdout.split('\n').filter((line) => line !== '')
    },
    async stop() {
      await agent.stop()
    },
  }
}

/**
 * Loads an issued wg-quick config into a lab client interface as a user would: the config with its
 * private key through `wg setconf` (from a 0600 file, never argv), then its addresses and routes.
 */
export async function loadLabClient(
  lab: NetnsLab,
  client: WireGuardGoProcess,
  config: string,
  privateKey: string,
  workDir: string,
): Promise<void> {
  const must = async (command: string[]) => {
    const result = await lab.exec(client.namespace, command)
    if (result.code !== 0) throw new Error(`${command.join(' ')} in ${client.namespace}: ${result.stderr}`)
  }
  const file = join(workDir, `${client.iface}.conf`)
  await writeFile(file, stripWgQuickFields(fillPrivateKey(config, privateKey)), { mode: 0o600 })
  try {
    await must(['wg', 'setconf', client.iface, file])
  } finally {
    await rm(file, { force: true })
  }
  const parsed = parseWireGuardConfig(config, { allowPlaceholder: true })
  await must(['ip', 'addr', 'flush', 'dev', client.iface])
  for (const address of parsed.interface.addresses)
    await must(['ip', 'addr', 'add', address, 'dev', client.iface])
  for (const cidr of new Set(parsed.peers.flatMap((p) => p.allowedIps)))
    await must(['ip', 'route', 'replace', cidr, 'dev', client.iface])
}
