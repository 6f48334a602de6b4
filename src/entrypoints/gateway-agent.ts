/**
 * `keygate gateway run --broker URL --token T --interface IFACE [--state-dir DIR]`: wiring for the gateway
 * agent (adapters/gateway/agent.ts). Runs until SIGINT or SIGTERM; returns the process exit code
 * (0 stopped cleanly, 1 a failure the operator can fix, 2 a usage error).
 */
import { parseArgs } from 'node:util'
import { runGatewayAgent } from '../adapters/gateway/agent.ts'
import { createFileAgentState } from '../adapters/gateway/agent-state.ts'
import { createBrokerClient } from '../adapters/gateway/broker-client.ts'
import { createJsonLogger, type LogLevel } from '../adapters/runtime/json-logger.ts'
import { cryptoRandom, systemClock } from '../adapters/runtime/web-runtime.ts'
import { openWireGuardInterface, type WireGuardBackend } from '../adapters/wireguard/open-interface.ts'
import { isKeygateError } from '../core/errors.ts'

const USAGE = `usage: keygate gateway run --broker URL --interface IFACE [--token TOKEN] [--state-dir DIR]
                           [--backend auto|uapi|wg] [--listen-port PORT] [--log-level info|debug]

  --broker      the broker's base URL (KEYGATE_URL of the server)
  --token       one-time enrollment token from \`keygate gateway add NAME\` (first run only; also KEYGATE_GATEWAY_TOKEN)
  --interface   the WireGuard interface this agent owns (its peer set is replaced by the broker's)
  --state-dir   where the credential and cursor are kept (default /var/lib/keygate/gateway-IFACE)
  --backend     uapi: the userspace socket in /var/run/wireguard; wg: the wg tool (kernel); auto: uapi if present
`

export async function runGatewayCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: argv,
      options: {
        broker: { type: 'string' },
        token: { type: 'string' },
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
  if (problems.length > 0 || broker === undefined || iface === undefined) {
    process.stderr.write(`keygate gateway run: ${problems.join('; ')}\n\n${USAGE}`)
    return 2
  }

  const logger = createJsonLogger((line) => process.stdout.write(`${line}\n`), logLevel as LogLevel)
  let agent: Awaited<ReturnType<typeof runGatewayAgent>>
  try {
    agent = await runGatewayAgent(
      {
        token: (values.token as string | undefined) ?? process.env.KEYGATE_GATEWAY_TOKEN ?? null,
        listenPort,
      },
      {
        wg: await openWireGuardInterface(iface, backend as WireGuardBackend),
        broker: createBrokerClient(broker),
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
