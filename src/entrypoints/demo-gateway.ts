/**
 * `keygate demo gateway [NAME]`: a throwaway gateway on this Linux machine, so a newcomer sees traffic
 * flow through Keygate end to end. Wiring only: the gateway is the real agent (adapters/gateway/agent.ts)
 * over a real WireGuard interface with its nftables filter; this module makes the places it runs in and
 * removes them again.
 *
 * What it makes, all of it gone on Ctrl-C (SIGINT or SIGTERM), or at once when a step fails:
 * - a network namespace `keygate-demo-NAME` holding the gateway's interface (its overlay address, its
 *   packet filter) and a tiny HTTP service on the first address of the gateway's first IPv4 route
 *   (10.10.0.1 for the example policy), reachable only through the tunnel;
 * - the WireGuard interface `kgd-NAME`: kernel WireGuard where the module is there, else wireguard-go.
 *   It is created in this namespace and then moved into the demo's, so its UDP socket stays here, on the
 *   port of the gateway's endpoint in the policy (127.0.0.1:51820 for eu-1 in the example), while what
 *   it decrypts lives in the demo namespace.
 *
 * The enrollment token comes from the running broker through the local admin token it writes into its
 * data dir (local-admin.ts): nothing new can mint one, and only who can read the data dir can run this.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { access, readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { createNftPacketFilter } from '../adapters/firewall/nft-packet-filter.ts'
import { type GatewayAgent, runGatewayAgent } from '../adapters/gateway/agent.ts'
import { createMemoryAgentState } from '../adapters/gateway/agent-state.ts'
import { checkBrokerUrl, createBrokerClients } from '../adapters/gateway/broker-client.ts'
import { createNodeLogger } from '../adapters/runtime/node-logger.ts'
import { mustRunCommand, runCommand } from '../adapters/runtime/run-command.ts'
import { stopChild } from '../adapters/runtime/stop-child.ts'
import { cryptoRandom, systemClock } from '../adapters/runtime/web-runtime.ts'
import {
  createUapiInterface,
  DEFAULT_UAPI_DIR,
  uapiSocketPath,
} from '../adapters/wireguard/uapi-interface.ts'
import { createWgCliInterface } from '../adapters/wireguard/wg-cli-interface.ts'
import type { Config } from '../core/config.ts'
import { KeygateError } from '../core/errors.ts'
import { addressAtOffset } from '../core/peers/address-pool.ts'
import { parseCidr } from '../core/peers/ip-syntax.ts'
import { formatDiagnostic, loadPolicy } from '../core/policy/index.ts'
import { enrollmentTokenFromServer } from './local-admin.ts'

const USAGE = `usage: keygate demo gateway [NAME] [--broker URL] [--allow-plain-http]

  Runs a demo gateway for NAME (default: the policy's first gateway) on this Linux machine, as root,
  against the running broker (npm start): a network namespace with a WireGuard interface, the agent
  and an HTTP service behind it. Ctrl-C removes all of it.

  --broker            the broker's URL (default KEYGATE_URL)
  --allow-plain-http  allow an http:// broker URL that is not loopback
`

const SERVICE_PORT = 80
const SERVICE_TEXT = 'hello from behind the gateway'
/** The service, run by this same Node inside the namespace: one line on stdout once it listens. */
const SERVICE_SCRIPT = `const [address, port, text] = process.argv.slice(1)
require('node:http').createServer((_, res) => {
  res.setHeader('content-type', 'text/plain; charset=utf-8')
  res.end(text + '\\n')
}).listen(Number(port), address, () => console.log('listening'))`

export interface DemoIo {
  stdout(text: string): void
  stderr(text: string): void
}

export async function runDemoGateway(argv: string[], config: Config, io: DemoIo): Promise<number> {
  let parsed: ReturnType<typeof parseDemoArgs>
  try {
    parsed = parseDemoArgs(argv)
  } catch (error) {
    io.stderr(`keygate demo gateway: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`)
    return 2
  }
  if (parsed.help) {
    io.stdout(USAGE)
    return 0
  }
  const brokerUrl = parsed.broker ?? config.url
  checkBrokerUrl(brokerUrl, parsed.allowPlainHttp)
  const missing = await missingPrerequisites()
  if (missing.length > 0) {
    io.stderr(`keygate demo gateway: needs ${missing.join(', ')}\n`)
    return 1
  }
  const plan = await planDemo(config, parsed.name)
  const enrollment = await enrollmentTokenFromServer(
    { dataDir: config.dataDir, url: brokerUrl },
    plan.gateway,
  )
  if (enrollment === null) {
    io.stderr(
      `keygate demo gateway: no broker answered at ${brokerUrl} with the admin token from ${config.dataDir}: start it first (npm start) with the same KEYGATE_DATA_DIR\n`,
    )
    return 1
  }

  const undo: Array<() => Promise<unknown>> = []
  const teardown = async () => {
    for (const step of undo.reverse()) await step().catch(() => {})
  }
  let stopRequested = false
  const stopped = new Promise<void>((resolve) => {
    const onSignal = () => {
      stopRequested = true
      resolve()
    }
    // Installed before anything is made, and kept for the whole teardown: a terminal's Ctrl-C reaches the
    // process group, and a wrapper (tsx, npm) may relay it once more.
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
  try {
    const up = await bringUp(plan, enrollment.token, brokerUrl, parsed.allowPlainHttp, undo)
    if (!stopRequested) {
      io.stdout(nextSteps(plan, up, brokerUrl))
      await stopped
    }
  } catch (error) {
    await teardown()
    throw error
  }
  io.stderr('keygate demo gateway: stopping; removing the namespace, the interface and the service\n')
  await teardown()
  io.stderr('keygate demo gateway: removed\n')
  return 0
}

function parseDemoArgs(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      broker: { type: 'string' },
      'allow-plain-http': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  })
  if (positionals.length > 1) throw new Error('one gateway name at most')
  return {
    name: positionals[0] ?? null,
    broker: values.broker ?? null,
    allowPlainHttp: values['allow-plain-http'] === true,
    help: values.help === true,
  }
}

interface DemoPlan {
  gateway: string
  namespace: string
  iface: string
  listenPort: number
  endpoint: string
  /** The overlay pool's prefix lengths, for the gateway's own address on its interface. */
  overlayPrefix: { v4: number; v6: number | null }
  service: { address: string; route: string }
}

async function planDemo(config: Config, requested: string | null): Promise<DemoPlan> {
  const loaded = loadPolicy(await readFile(config.policyPath, 'utf8'), config.policyPath)
  if (!loaded.ok) throw new KeygateError('POLICY_INVALID', loaded.errors.map(formatDiagnostic).join('\n'))
  const policy = loaded.policy
  const gateway = requested ?? [...policy.gateways.keys()][0]
  const spec = gateway === undefined ? undefined : policy.gateways.get(gateway)
  if (gateway === undefined || spec === undefined) {
    throw new KeygateError(
      'GATEWAY_UNKNOWN',
      `the policy ${config.policyPath} names no gateway ${requested === null ? '' : `"${requested}"`}`.trim(),
    )
  }
  const listenPort = Number(/:(\d+)$/.exec(spec.endpoint)?.[1])
  if (!Number.isInteger(listenPort) || listenPort < 1 || listenPort > 65535)
    throw new KeygateError('INVALID_REQUEST', `gateway ${gateway}'s endpoint ${spec.endpoint} has no port`)
  const route = Object.values(spec.routes)
    .flat()
    .map((text) => ({ text, cidr: parseCidr(text) }))
    .find((r) => r.cidr?.family === 4)
  if (route === undefined || route.cidr === null)
    throw new KeygateError(
      'INVALID_REQUEST',
      `gateway ${gateway} has no IPv4 route to put the demo service in`,
    )
  const v4 = parseCidr(policy.network.ipv4)
  const v6 = policy.network.ipv6 === null ? null : parseCidr(policy.network.ipv6)
  return {
    gateway,
    namespace: `keygate-demo-${gateway}`,
    iface: `kgd-${gateway}`.slice(0, 15),
    listenPort,
    endpoint: spec.endpoint,
    overlayPrefix: { v4: v4?.prefix ?? 32, v6: v6?.prefix ?? null },
    service: {
      address: addressAtOffset(route.cidr, route.cidr.prefix === 32 ? 0 : 1),
      route: route.text,
    },
  }
}

interface DemoUp {
  backend: 'kernel' | 'wireguard-go'
  addressV4: string | null
}

/** Makes each piece in turn, pushing how to remove it onto `undo` as soon as it exists. */
async function bringUp(
  plan: DemoPlan,
  token: string,
  brokerUrl: string,
  allowPlainHttp: boolean,
  undo: Array<() => Promise<unknown>>,
): Promise<DemoUp> {
  const { namespace: ns, iface } = plan
  const inNs = ['ip', 'netns', 'exec', ns]
  if ((await runCommand(['ip', 'netns', 'list'])).stdout.split('\n').some((l) => l.split(' ')[0] === ns)) {
    throw new KeygateError(
      'INVALID_REQUEST',
      `namespace ${ns} exists already: a demo is running, or one was killed (remove it: ip netns del ${ns})`,
    )
  }
  await mustRunCommand(['ip', 'netns', 'add', ns])
  undo.push(() => mustRunCommand(['ip', 'netns', 'del', ns]))
  await mustRunCommand(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])

  // The interface is born here (so its UDP socket is this namespace's), then moved into the demo's.
  let backend: DemoUp['backend'] = 'kernel'
  if ((await runCommand(['ip', 'link', 'add', iface, 'type', 'wireguard'])).code !== 0) {
    backend = 'wireguard-go'
    const child = await startWireGuardGo(iface)
    undo.push(() => stopChild(child))
  } else {
    // Deleting the namespace deletes a kernel interface in it; this covers a failure before the move.
    undo.push(() => runCommand(['ip', 'link', 'del', iface]))
  }
  await mustRunCommand(['ip', 'link', 'set', iface, 'netns', ns])

  await mustRunCommand(['ip', '-n', ns, 'addr', 'add', `${plan.service.address}/32`, 'dev', 'lo'])
  const service = await startService(inNs, plan.service.address)
  undo.push(() => stopChild(service))

  const state = createMemoryAgentState()
  const agent: GatewayAgent = await runGatewayAgent(
    { token, listenPort: plan.listenPort },
    {
      wg:
        backend === 'kernel'
          ? createWgCliInterface(iface, { commandPrefix: inNs })
          : createUapiInterface(iface, { socketDir: DEFAULT_UAPI_DIR }),
      filter: createNftPacketFilter(iface, { commandPrefix: inNs }),
      brokers: createBrokerClients(brokerUrl, { allowPlainHttp }),
      state,
      clock: systemClock,
      random: cryptoRandom,
      logger: createNodeLogger({ level: 'warn', write: (line) => process.stderr.write(line) }),
    },
  )
  undo.push(() => agent.stop())
  const credential = await state.loadCredential()
  const addressV4 = credential?.addressV4 ?? null
  const addressV6 = credential?.addressV6 ?? null
  if (addressV4 !== null) {
    await mustRunCommand([
      'ip',
      '-n',
      ns,
      'addr',
      'add',
      `${addressV4}/${plan.overlayPrefix.v4}`,
      'dev',
      iface,
    ])
  }
  if (addressV6 !== null && plan.overlayPrefix.v6 !== null) {
    await mustRunCommand([
      'ip',
      '-n',
      ns,
      '-6',
      'addr',
      'add',
      `${addressV6}/${plan.overlayPrefix.v6}`,
      'dev',
      iface,
    ])
  }
  await mustRunCommand(['ip', '-n', ns, 'link', 'set', iface, 'up'])
  return { backend, addressV4 }
}

function nextSteps(plan: DemoPlan, up: DemoUp, brokerUrl: string): string {
  const url = `http://${plan.service.address}${SERVICE_PORT === 80 ? '' : `:${SERVICE_PORT}`}/`
  return `Demo gateway "${plan.gateway}" is up (Ctrl-C removes everything it made).
  namespace  ${plan.namespace}: interface ${plan.iface} (${up.backend}), overlay address ${up.addressV4 ?? 'none'}
  listening  UDP port ${plan.listenPort} here (the policy's endpoint ${plan.endpoint})
  service    ${url} inside the namespace (in route ${plan.service.route}), reachable only through the tunnel

Next, on this machine:
  1. Sign in at ${brokerUrl} (alice@example.com with the example policy) and open "New device";
     download the config, e.g. as keygate.conf.
  2. As root: wg-quick up ./keygate.conf
     (or from the terminal instead: keygate login --broker ${brokerUrl} && keygate up)
  3. curl ${url}     -> ${SERVICE_TEXT}
  4. wg-quick down ./keygate.conf (or keygate down), then Ctrl-C here.
`
}

// ---- processes --------------------------------------------------------------------------------------

async function missingPrerequisites(): Promise<string[]> {
  const missing: string[] = []
  if (process.platform !== 'linux') return ['Linux']
  if (process.getuid?.() !== 0) missing.push('root')
  for (const [tool, flag] of [
    ['ip', '-V'],
    ['nft', '--version'],
    ['wg', '--version'],
  ] as const) {
    if ((await runCommand([tool, flag])).code !== 0) missing.push(tool)
  }
  return missing
}

/** wireguard-go in the foreground as our child, once its UAPI socket answers; refuses when it is missing. */
async function startWireGuardGo(iface: string): Promise<ChildProcess> {
  if ((await runCommand(['wireguard-go', '--version'])).code !== 0) {
    throw new KeygateError(
      'INVALID_REQUEST',
      'no WireGuard kernel module here and no wireguard-go: install one (apt-get install wireguard-go)',
    )
  }
  const child = spawn('wireguard-go', [iface], {
    env: { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (d) => {
    stderr += d
  })
  const socket = uapiSocketPath(iface)
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wireguard-go ${iface} exited: ${stderr.trim()}`)
    const ready = await access(socket).then(
      () => true,
      () => false,
    )
    if (ready) return child
    if (Date.now() > deadline) {
      await stopChild(child)
      throw new Error(`wireguard-go ${iface}: no UAPI socket after 10 s`)
    }
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** The HTTP service inside the namespace, once it says it listens. */
async function startService(inNs: string[], address: string): Promise<ChildProcess> {
  const child = spawn(
    inNs[0] as string,
    [...inNs.slice(1), process.execPath, '-e', SERVICE_SCRIPT, address, String(SERVICE_PORT), SERVICE_TEXT],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr?.on('data', (d) => {
    stderr += d
  })
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve())
    child.once('exit', () => reject(new Error(`the demo service did not start: ${stderr.trim()}`)))
  })
  return child
}
