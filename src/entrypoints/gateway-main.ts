/**
 * The stand-alone gateway agent, `dist/keygate-gateway.mjs` (scripts/build.mjs bundles it with every
 * dependency): `node keygate-gateway.mjs --broker URL --interface IFACE …`, the same flags as
 * `keygate gateway run`. A gateway host needs this file and Node 22+, nothing else.
 */
import { runGatewayCommand } from './gateway-agent.ts'
import { VERSION } from './version.ts'

const argv = process.argv.slice(2)
if (argv[0] === 'run') argv.shift()
if (argv.includes('--version')) {
  process.stdout.write(`keygate-gateway ${VERSION}\n`)
} else {
  runGatewayCommand(argv).then(
    (code) => {
      process.exitCode = code
    },
    (error: unknown) => {
      process.stderr.write(
        `keygate-gateway: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      )
      process.exitCode = 1
    },
  )
}
