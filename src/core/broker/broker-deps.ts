/**
 * What the broker's use cases need, injected by the entrypoint. The use cases themselves stay pure:
 * every effect goes through a port, so the same code runs on Node and on Workers.
 */
import type { CompiledPolicy } from '../policy/index.ts'
import type {
  ChangeNotifier,
  Clock,
  IdentityProvider,
  Logger,
  Random,
  SecretSealer,
  Store,
} from '../ports.ts'
import type { GatewayDirectory } from './gateway-directory.ts'

export interface BrokerDeps {
  store: Store
  clock: Clock
  random: Random
  logger: Logger
  sealer: SecretSealer
  /** The live policy; a hot reload swaps what this returns, never mid-request. */
  policy(): CompiledPolicy
  idps: ReadonlyMap<string, IdentityProvider>
  gateways: GatewayDirectory
  notifier: ChangeNotifier
}

/** An authenticated browser or API session, as the HTTP layer decoded it from the session cookie. */
export interface SessionContext {
  sessionId: string
  identityId: string
  idpId: string
  issuer: string
  subject: string
  email: string | null
  groups: string[]
  auth: import('../model.ts').AuthFacts
  expiresAt: number
}
