/**
 * What the broker's use cases need, injected by the entrypoint. The use cases themselves stay pure:
 * every effect goes through a port, so the same code runs on Node and on Workers.
 */
import type { SessionClaims } from '../model.ts'
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
import type { GatewayFeedReader } from './gateway-feed-reads.ts'

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
  /** Gateways' feed reads for their syncs (coalesced on Node, one by one on Workers). */
  feeds: GatewayFeedReader
  /** The longest a gateway's sync is held, whatever its `wait` asks (Workers: a request's budget). */
  maxSyncWaitMs?: number
}

/** An authenticated browser or API session: the cookie's session id and the claims stored with it. */
export interface SessionContext extends SessionClaims {
  sessionId: string
  expiresAt: number
}
