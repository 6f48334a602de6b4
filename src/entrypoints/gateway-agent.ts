/**
 * `keygate gateway run --broker URL --interface IFACE [--token-file FILE] [--state-dir DIR]`: wiring for the
 * gateway agent (adapters/gateway/agent.ts) and its packet filter (adapters/firewall). Runs until SIGINT or
 * SIGTERM; returns the process exit code (0 stopped cleanly, 1 a failure the operator can fix, 2 a usage
 * error). The enrollment token comes from KEYGATE_GATEWAY_TOKEN or a file, never from argv, which every local
 * user can read in /proc.
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { createDisabledPacketFilter, createNftPacketFilter } from '../adapters/firewall/nft-packet-filter.ts'
import { runGatewayAgent } from '../adapters/gateway/agent.ts'
import { createFileAgentState } from '../adapters/gateway/agent-state.ts'
import { checkBrokerUrl, createBrokerClients } from '../adapters/gateway/broker-client.ts'
import type { LogLevel } from '../adapters/runtime/json-logger.ts'
import { createNodeLogger } from '../adapters/runtime/node-logger.ts'
import { cryptoRandom, systemClock } from '../adapters/runtime/web-runtime.ts'
import { openWireGuardInterface, type WireGuardBackend } from '../adapters/wireguard/open-interface.ts'
import { isKeygateError } from '../core/errors.ts'
import { isGatewaySecret } from '../core/sync/protocol.ts'

const USAGE = `usage: keygate gateway run --broker URL --interface IFACE [--token-file FILE] [--state-dir DIR]
                           [--backend auto|uapi|wg] [--listen-port PORT] [--log-level info|debug]
                           [--allow-plain-http] [--no-packet-filter]

  --broker            the broker's base URL (KEYGATE_URL of the server); several, comma-separated, are
                      tried in turn when one does not answer
  --interface         the WireGuard interface this agent owns (its peer set and its nftables table)
  --token-file        file holding the one-time enrollment token from \`keygate gateway add NAME\` (first run
                      only); or set KEYGATE_GATEWAY_TOKEN. Never on the command line.
  --state-dir         where the credential and cursor are kept (default /var/lib/keygate/gateway-IFACE)
  --backend           uapi: the userspace socket in /var/run/wireguard; wg: the wg tool (kernel); auto: uapi if present
  --allow-plain-http  allow an http:// broker URL that is not loopback (credential and keys in clear)
  --no-packet-filter  run without the nftables filter: every peer reaches everything this gateway routes to
                      (a warning at start, and "enforcement: off" in the gateway's status)
`

export async function runGatewayCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: argv,
      options: {
        broker: { type: 'string' },
        token: { type: 'string' },
        'token-file': { type: 'string' },
        'allow-plain-http': { type: 'boolean', default: false },
        'no-packet-filter': { type: 'boolean', default: false },
        interface: { type: 'string' },
        'state-dir': { type: 'string' },
        backend: { type: 'string', default: 'auto' },
        'listen-port': { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values
  } catch (error) {
    process.stderr.write(
      `keygate gateway run: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`,
    )
    return 2
  }
  if (values.help === true) {
    process.stdout.write(USAGE)
    return 0
  }
  const broker = values.broker as string | undefined
  const iface = values.interface as string | undefined
  const backend = values.backend as string
  const logLevel = values['log-level'] as string
  const listenPort = values['listen-port'] === undefined ? null : Number(values['listen-port'])
  const problems: string[] = []
  if (broker === undefined) problems.push('--broker is required')
  if (iface === undefined) problems.push('--interface is required')
  if (!['auto', 'uapi', 'wg'].includes(backend)) problems.push('--backend must be auto, uapi or wg')
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel))
    problems.push('--log-level must be debug, info, warn or error')
  if (listenPort !== null && (!Number.isInteger(listenPort) || listenPort < 1 || listenPort > 65535)) {
    problems.push('--listen-port must be 1-65535')
  }
  if (values.token !== undefined)
    problems.push(
      '--token is not accepted: other local users can read a command line; use KEYGATE_GATEWAY_TOKEN or --token-file',
    )
  if (broker !== undefined) {
    for (const url of broker.split(',').filter((u) => u.trim() !== '')) {
      try {
        checkBrokerUrl(url.trim(), values['allow-plain-http'] === true)
      } catch (error) {
        problems.push(error instanceof Error ? error.message : String(error))
      }
    }
  }
  if (problems.length > 0 || broker === undefined || iface === undefined) {
    process.stderr.write(`keygate gateway run: ${problems.join('; ')}\n\n${USAGE}`)
    return 2
  }

  const logger = createNodeLogger({ level: logLevel as LogLevel })
  let agent: Awaited<ReturnType<typeof runGatewayAgent>>
  try {
    const token = await readToken(values['token-file'] as string | undefined)
    agent = await runGatewayAgent(
      { token, listenPort },
      {
        wg: await openWireGuardInterface(iface, backend as WireGuardBackend),
        filter:
          values['no-packet-filter'] === true ? createDisabledPacketFilter() : createNftPacketFilter(iface),
        brokers: createBrokerClients(broker, { allowPlainHttp: values['allow-plain-http'] === true }),
        state: createFileAgentState(
          (values['state-dir'] as string | undefined) ?? `/var/lib/keygate/gateway-${iface}`,
        ),
        clock: systemClock,
        random: cryptoRandom,
        logger,
      },
    )
  } catch (error) {
    const code = isKeygateError(error) ? `${error.code}: ` : ''
    process.stderr.write(
      `keygate gateway run: ${code}${error instanceof Error ? error.message : String(error)}\n`,
    )
    return 1
  }

  await new Promise<void>((resolve) => {
    const onSignal = () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      resolve()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
  await agent.stop()
  return 0
}

/** The enrollment token from --token-file or KEYGATE_GATEWAY_TOKEN; null when neither is given. */
async function readToken(file: string | undefined): Promise<string | null> {
  const raw = file === undefined ? (process.env.KEYGATE_GATEWAY_TOKEN ?? null) : await readFile(file, 'utf8')
  if (raw === null || raw.trim() === '') return null
  const token = raw.trim()
  if (!isGatewaySecret(token))
    throw new Error(
      `the enrollment token in ${file ?? 'KEYGATE_GATEWAY_TOKEN'} has characters outside A-Z a-z 0-9 _ -`,
    )
  return token
}
