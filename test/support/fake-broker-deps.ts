// BrokerDeps for unit tests of the broker's use cases: the memory store, a manual clock, a recording
// notifier and logger, a readable sealer ("sealed:" + text), counting random bytes and a compiled policy
// whose swap a test controls. `sessionFor` makes the SessionContext that sign-in would have made.
import type { BrokerDeps, SessionContext } from '../../src/core/broker/broker-deps.ts'
import { createGatewayDirectory } from '../../src/core/broker/gateway-directory.ts'
import { createGatewayFeedReader } from '../../src/core/broker/gateway-feed-reads.ts'
import { subjectFactsOf } from '../../src/core/broker/subject.ts'
import type { AuthFacts, Identity } from '../../src/core/model.ts'
import { type CompiledPolicy, loadPolicy } from '../../src/core/policy/index.ts'
import type { IdentityProvider, LogFields, Logger, SecretSealer } from '../../src/core/ports.ts'
import { createManualClock, type ManualClock } from './manual-clock.ts'
import { createMemoryStore, type MemoryStore } from './memory-store.ts'
import { createRecordingNotifier, type RecordingNotifier } from './recording-notifier.ts'

/** Two gateways, engineers on eu-1 (MFA, 8 h), office staff on eu-1:office, admins everywhere (1 h). */
export const BROKER_TEST_POLICY = `{
  "network": { "ipv4": "100.96.0.0/16", "ipv6": "fd7a:115c:a1e0::/64", "dns": ["10.10.0.53"] },
  "gateways": {
    "eu-1": { "endpoint": "eu-1.vpn.example:51820", "routes": { "prod": ["10.10.0.0/16"], "office": ["192.168.10.0/24"] } },
    "us-1": { "endpoint": "us-1.vpn.example:51820", "routes": { "prod": ["10.20.0.0/16"] } },
  },
  "groups": { "group:eng": ["idp:*:engineering"], "group:admins": ["user:root@example.com"] },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "12h" } },
  "grants": [
    { "src": ["group:eng"], "dst": ["eu-1:prod"], "assurance": "mfa", "ttl": "8h", "onUnmet": "stepUp" },
    { "src": ["group:admins"], "dst": ["eu-1:*", "us-1:*"], "assurance": "mfa", "ttl": "1h" },
  ],
  "deny": [{ "src": ["user:mallory@example.com"] }],
  "admins": ["group:admins"],
  "leases": { "maxPerUser": 3 },
}`

export function compileTestPolicy(source: string): CompiledPolicy {
  const result = loadPolicy(source, 'policies/test.hujson')
  if (!result.ok) throw new Error(result.errors.map((e) => `${e.path} ${e.code} ${e.message}`).join('\n'))
  return result.policy
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error'
  event: string
  fields: LogFields | undefined
}

export interface FakeBrokerDeps extends BrokerDeps {
  store: MemoryStore
  clock: ManualClock
  notifier: RecordingNotifier
  logs: LogEntry[]
  /** Replaces the live policy (what `policy()` answers from now on). */
  setPolicy(policy: CompiledPolicy): void
  idps: Map<string, IdentityProvider>
}

export function createFakeBrokerDeps(options: { policy?: string } = {}): FakeBrokerDeps {
  const store = createMemoryStore()
  const clock = createManualClock()
  const logs: LogEntry[] = []
  const log =
    (level: LogEntry['level']) =>
    (event: string, fields?: LogFields): void => {
      logs.push({ level, event, fields })
    }
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }
  let policy = compileTestPolicy(options.policy ?? BROKER_TEST_POLICY)
  let counter = 0
  const deps: FakeBrokerDeps = {
    store,
    clock,
    logs,
    logger,
    random: { bytes: (n) => new Uint8Array(n).map(() => ++counter & 0xff) },
    sealer: readableSealer(),
    policy: () => policy,
    setPolicy(next) {
      policy = next
    },
    idps: new Map(),
    gateways: createGatewayDirectory(store, clock, 0),
    notifier: createRecordingNotifier(clock),
    // The reader looks the store and the sealer up on each read: tests replace them on `deps`.
    feeds: createGatewayFeedReader(
      {
        get store() {
          return deps.store
        },
        get sealer() {
          return deps.sealer
        },
        get clock() {
          return deps.clock
        },
      },
      { coalesce: true },
    ),
  }
  return deps
}

/** Seals text as "sealed:" + the text, so a test can read what was sealed, and bytes as "sealed-hex:" + their
 *  hex (random bytes are not text); anything else does not open, as with a foreign secret. */
export function readableSealer(): SecretSealer {
  return {
    seal: async (plaintext) =>
      typeof plaintext === 'string'
        ? `sealed:${plaintext}`
        : `sealed-hex:${Buffer.from(plaintext).toString('hex')}`,
    open: async (ciphertext) => {
      if (ciphertext.startsWith('sealed-hex:'))
        return new Uint8Array(Buffer.from(ciphertext.slice('sealed-hex:'.length), 'hex'))
      if (ciphertext.startsWith('sealed:'))
        return new TextEncoder().encode(ciphertext.slice('sealed:'.length))
      throw new Error('not sealed by this sealer')
    },
    reseal: async () => null,
  }
}

export function mfaAuth(nowMs: number, extra: Partial<AuthFacts> = {}): AuthFacts {
  return {
    verdict: 'mfa',
    amr: ['pwd', 'otp'],
    acr: null,
    acrs: [],
    authTime: Math.floor(nowMs / 1000) - 60,
    stepUp: null,
    ...extra,
  }
}

/** The session sign-in would have made for this identity (its email counts only when verified). */
export function sessionFor(
  deps: FakeBrokerDeps,
  identity: Identity,
  options: { auth?: Partial<AuthFacts>; sessionId?: string } = {},
): SessionContext {
  return {
    sessionId: options.sessionId ?? `session-of-${identity.id}`,
    identityId: identity.id,
    ...subjectFactsOf(identity),
    auth: mfaAuth(deps.clock.now(), options.auth),
    expiresAt: deps.clock.now() + 3_600_000,
  }
}
