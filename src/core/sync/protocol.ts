/**
 * The gateway protocol: the JSON the agent and the broker exchange, and strict readers for both sides.
 *
 * docs/gateways.md describes the same wire format for people implementing either end; keep the two in step.
 * Every request and response carries `protocolVersion`. A broker answers agents of any version it still
 * supports; an agent refuses a response whose version it does not know.
 *
 * History:
 * - 1: enroll (public key only, one-time token as bearer), long-poll sync (`since`/`wait`, `reset` snapshots,
 *      per-key deltas, expiries in epoch milliseconds, `serverTime`, `more`), status (applied version, peer
 *      count, latest handshakes).
 * - 2: each upsert carries `routes`, the destination prefixes the lease is granted through this gateway, and
 *      each sync response the policy's overlay `network`; the agent enforces both with its packet filter.
 *      The agent names its version in the sync query (`protocol=2`); status reports `enforcement`.
 *
 * Neither side fails open across versions: a v2 broker refuses v1 requests (426 GATEWAY_PROTOCOL_UNSUPPORTED,
 * so an old agent adds no new peer and keeps removing its peers at their expiry), and a v2 agent refuses a
 * v1 answer (it has no routes to enforce) and adds nothing until the broker is upgraded.
 */
import { KeygateError } from '../errors.ts'
import {
  canonicalCidr,
  cidrContains,
  cidrsIntersect,
  formatCidr,
  type ParsedCidr,
  parseCidr,
} from '../peers/ip-syntax.ts'
import { isWireGuardKey, parseWireGuardPublicKey } from '../peers/keys.ts'
import type { GatewayFeedPage } from '../ports.ts'

export const PROTOCOL_VERSION = 2

export const ENROLL_PATH = '/api/v1/gateways/enroll'
export const SYNC_PATH = '/api/v1/gateways/sync'
export const STATUS_PATH = '/api/v1/gateways/status'

/** Long-poll bounds, in seconds: the agent asks for DEFAULT_WAIT; the broker caps at MAX_WAIT. */
export const DEFAULT_SYNC_WAIT_SECONDS = 25
export const MAX_SYNC_WAIT_SECONDS = 60

/** `POST /api/v1/gateways/enroll` with `Authorization: Bearer <one-time enrollment token>`. */
export interface EnrollRequest {
  protocolVersion: number
  /** The interface's public key. The private key never leaves the gateway. */
  publicKey: string
}

/** 200 to an enroll request. */
export interface EnrollResponse {
  protocolVersion: number
  /** The gateway's name in the policy file. */
  gateway: string
  /** Long-lived bearer credential for sync and status; the broker stores only its hash. */
  credential: string
  /** The gateway's overlay addresses (no prefix), or null. */
  addressV4: string | null
  addressV6: string | null
}

/** One peer the gateway must hold until `expiresAt`. */
export interface SyncUpsert {
  publicKey: string
  /** Base64, decrypted by the broker for this gateway only. */
  presharedKey: string
  /** The lease's overlay addresses: one /32 and at most one /128, inside `SyncResponse.network`. */
  allowedIps: string[]
  /** Destination prefixes the lease is granted through this gateway (the union of its granted routes). */
  routes: string[]
  /** Milliseconds since the Unix epoch (an integer), like every time in Keygate's model. */
  expiresAt: number
}

/** The policy's overlay network, where lease and gateway addresses come from. */
export interface OverlayNetwork {
  ipv4: string
  ipv6: string | null
}

/** 200 to `GET /api/v1/gateways/sync?since=V&wait=S`. */
export interface SyncResponse {
  protocolVersion: number
  /** The feed version the gateway holds after applying this response; its next `since`. */
  version: number
  /** True: `upserts` is the whole peer set; drop every peer not in it. `removals` is then empty. */
  reset: boolean
  /** Each public key appears at most once across `upserts` and `removals` (the last change per key wins). */
  upserts: SyncUpsert[]
  removals: string[]
  /** The broker's clock (epoch ms) when it answered, so the agent can detect a clock that lags. */
  serverTime: number
  /** True when more changes follow `version`: ask again at once. Never true on a reset. */
  more: boolean
  network: OverlayNetwork
}

/** How a gateway enforces grants: its packet filter, or nothing (started with enforcement turned off). */
export type Enforcement = 'nftables' | 'off'

/** `POST /api/v1/gateways/status`, answered with 204. */
export interface StatusRequest {
  protocolVersion: number
  appliedVersion: number
  peerCount: number
  /** Public key -> epoch ms of its latest handshake; peers without one are left out. */
  latestHandshakes: Record<string, number>
  enforcement: Enforcement
}

/** A gateway's peer count is stored as a 32-bit integer; anything above is a broken or hostile agent. */
export const MAX_PEER_COUNT = 2_147_483_647

function atMost(value: number, max: number, what: string): number {
  if (value > max) throw bad(`${what} must be at most ${max}`)
  return value
}

function bad(message: string): KeygateError {
  return new KeygateError('INVALID_REQUEST', message)
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad(`${what} must be a JSON object`)
  return value as Record<string, unknown>
}

function version(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw bad(`${what} must be a non-negative integer`)
  return value
}

/** A version mismatch is its own code, so either side can tell "upgrade the other end" from bad input. */
export function unsupportedProtocol(what: string, theirs: unknown): KeygateError {
  const upgrade =
    typeof theirs === 'number' && theirs < PROTOCOL_VERSION
      ? 'the other side is older: upgrade it'
      : 'upgrade this side'
  return new KeygateError(
    'GATEWAY_PROTOCOL_UNSUPPORTED',
    `${what}: gateway protocol ${String(theirs ?? 'unknown')}, but this side speaks ${PROTOCOL_VERSION}; ${upgrade}`,
    { details: { supported: [PROTOCOL_VERSION] } },
  )
}

function protocolOf(body: Record<string, unknown>, what: string): number {
  const v = body.protocolVersion
  if (v !== PROTOCOL_VERSION) throw unsupportedProtocol(what, v)
  return v
}

/**
 * Broker credentials and enrollment tokens: a short prefix and base64url. Anything else (a newline, a
 * space, a quote) is refused before it reaches an HTTP header or the state directory.
 */
export function isGatewaySecret(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{16,512}$/.test(value)
}

function networkOf(value: unknown): OverlayNetwork {
  const body = record(value, 'sync response network')
  const v4 = typeof body.ipv4 === 'string' ? parseCidr(body.ipv4, { requirePrefix: true }) : null
  if (v4 === null || v4.family !== 4) throw bad('sync response: network.ipv4 must be an IPv4 prefix')
  let ipv6: string | null = null
  if (body.ipv6 !== null && body.ipv6 !== undefined) {
    const v6 = typeof body.ipv6 === 'string' ? parseCidr(body.ipv6, { requirePrefix: true }) : null
    if (v6 === null || v6.family !== 6)
      throw bad('sync response: network.ipv6 must be an IPv6 prefix or null')
    ipv6 = formatCidr(v6)
  }
  return { ipv4: formatCidr(v4), ipv6 }
}

function allowedIpsOf(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length > 1024)
    throw bad(`${what}.allowedIps must be an array of CIDR prefixes`)
  return value.map((entry) => {
    const canonical = typeof entry === 'string' ? canonicalCidr(entry) : null
    if (canonical === null) throw bad(`${what}.allowedIps has an entry that is not a CIDR prefix`)
    return canonical
  })
}

/** The agent's reading of a sync response. Rejects the whole response on any malformed entry. */
export function parseSyncResponse(json: unknown): SyncResponse {
  const body = record(json, 'sync response')
  const protocolVersion = protocolOf(body, 'sync response')
  if (typeof body.reset !== 'boolean') throw bad('sync response: reset must be a boolean')
  if (!Array.isArray(body.upserts) || !Array.isArray(body.removals))
    throw bad('sync response: upserts and removals must be arrays')
  const seen = new Set<string>()
  const once = (key: string) => {
    if (seen.has(key)) throw bad(`sync response: public key ${key} appears more than once`)
    seen.add(key)
  }
  const upserts = body.upserts.map((raw, i): SyncUpsert => {
    const what = `sync response upserts[${i}]`
    const u = record(raw, what)
    const publicKey = parseWireGuardPublicKey(u.publicKey)
    once(publicKey)
    if (!isWireGuardKey(u.presharedKey)) throw bad(`${what}.presharedKey must be a 32-byte base64 key`)
    const expiresAt = u.expiresAt
    if (typeof expiresAt !== 'number' || !Number.isSafeInteger(expiresAt))
      throw bad(`${what}.expiresAt must be epoch milliseconds`)
    const routes = Array.isArray(u.routes) ? allowedIpsOf(u.routes, `${what}.routes`) : null
    if (routes === null) throw bad(`${what}.routes must be an array of CIDR prefixes`)
    return {
      publicKey,
      presharedKey: u.presharedKey,
      allowedIps: allowedIpsOf(u.allowedIps, what),
      routes,
      expiresAt,
    }
  })
  const removals = body.removals.map((raw) => {
    const key = parseWireGuardPublicKey(raw)
    once(key)
    return key as string
  })
  if (body.reset && removals.length > 0) throw bad('sync response: a reset carries no removals')
  const more = body.more === undefined ? false : body.more
  if (typeof more !== 'boolean') throw bad('sync response: more must be a boolean')
  return {
    protocolVersion,
    version: version(body.version, 'sync response version'),
    reset: body.reset,
    upserts,
    removals,
    serverTime: version(body.serverTime, 'sync response serverTime'),
    more: body.reset ? false : more,
    network: networkOf(body.network),
  }
}

/** An upsert the agent will not install, and why (one line for the log). */
export interface RefusedUpsert {
  publicKey: string
  reason: string
}

/**
 * The agent's second look at a well-formed response: it does not trust the broker to keep the invariants
 * the filter relies on. An upsert is refused when its allowed IPs are not one host address per family
 * inside the overlay network (a wider entry would let the peer claim other sources), or when a route
 * touches the overlay network without being the whole overlay prefix, the one way a grant can name
 * peer-to-peer traffic. Refused keys are treated as removed (fail closed); the rest of the page applies.
 */
export function vetUpserts(response: SyncResponse): { accepted: SyncUpsert[]; refused: RefusedUpsert[] } {
  const overlay = [response.network.ipv4, response.network.ipv6]
    .filter((c): c is string => c !== null)
    .map((c) => parseCidr(c) as ParsedCidr)
  const accepted: SyncUpsert[] = []
  const refused: RefusedUpsert[] = []
  for (const upsert of response.upserts) {
    const reason = upsertProblem(upsert, overlay)
    if (reason === null) accepted.push(upsert)
    else refused.push({ publicKey: upsert.publicKey, reason })
  }
  return { accepted, refused }
}

function upsertProblem(upsert: SyncUpsert, overlay: ParsedCidr[]): string | null {
  if (upsert.allowedIps.length === 0) return 'no allowed IPs'
  const families = new Set<number>()
  for (const ip of upsert.allowedIps) {
    const cidr = parseCidr(ip) as ParsedCidr
    const host = cidr.family === 4 ? 32 : 128
    if (cidr.prefix !== host) return `allowed IP ${ip} is not a single /${host} address`
    if (families.has(cidr.family)) return `more than one IPv${cidr.family} allowed IP`
    families.add(cidr.family)
    if (!overlay.some((net) => cidrContains(net, cidr)))
      return `allowed IP ${ip} is outside the overlay network`
  }
  for (const route of upsert.routes) {
    const cidr = parseCidr(route) as ParsedCidr
    const clash = overlay.find((net) => cidrsIntersect(net, cidr))
    if (clash !== undefined && !(clash.prefix === cidr.prefix))
      return `route ${route} overlaps the overlay network ${formatCidr(clash)} without naming it`
  }
  return null
}

function secretOf(value: unknown): string {
  if (!isGatewaySecret(value))
    throw bad('enroll response: credential must be 16-512 characters of A-Z a-z 0-9 _ -')
  return value
}

export function parseEnrollResponse(json: unknown): EnrollResponse {
  const body = record(json, 'enroll response')
  const protocolVersion = protocolOf(body, 'enroll response')
  const text = (v: unknown, what: string, nullable: boolean): string | null => {
    if (nullable && (v === null || v === undefined)) return null
    if (typeof v !== 'string' || v.length === 0 || v.length > 1024)
      throw bad(`enroll response: ${what} must be a string`)
    return v
  }
  return {
    protocolVersion,
    gateway: text(body.gateway, 'gateway', false)!,
    credential: secretOf(body.credential),
    addressV4: text(body.addressV4, 'addressV4', true),
    addressV6: text(body.addressV6, 'addressV6', true),
  }
}

/** The broker's reading of an enroll body: a valid public key (INVALID_PUBLIC_KEY otherwise). */
export function parseEnrollRequest(json: unknown): EnrollRequest {
  const body = record(json, 'enroll request')
  return {
    protocolVersion: protocolOf(body, 'enroll request'),
    publicKey: parseWireGuardPublicKey(body.publicKey),
  }
}

/**
 * The broker's reading of the sync query: `protocol` must name this version (an agent that sends none is a
 * v1 agent, refused so that it never installs a peer without its filter); `since` and `wait` absent mean 0.
 */
export function parseSyncQuery(query: {
  since?: string | null
  wait?: string | null
  protocol?: string | null
}): {
  since: number
  waitSeconds: number
} {
  if (query.protocol !== String(PROTOCOL_VERSION))
    throw unsupportedProtocol('sync request', query.protocol == null ? 1 : Number(query.protocol))
  const int = (v: string | null | undefined, what: string): number => {
    if (v === undefined || v === null || v === '') return 0
    if (!/^\d{1,15}$/.test(v)) throw bad(`${what} must be a non-negative integer`)
    return Number(v)
  }
  return {
    since: int(query.since, 'since'),
    waitSeconds: Math.min(int(query.wait, 'wait'), MAX_SYNC_WAIT_SECONDS),
  }
}

export function parseStatusRequest(json: unknown): StatusRequest {
  const body = record(json, 'status request')
  const handshakes = record(body.latestHandshakes ?? {}, 'status request latestHandshakes')
  const latestHandshakes: Record<string, number> = {}
  for (const [key, at] of Object.entries(handshakes)) {
    if (!isWireGuardKey(key)) throw bad('status request: latestHandshakes keys must be public keys')
    latestHandshakes[key] = version(at, 'status request handshake time')
  }
  const protocolVersion = protocolOf(body, 'status request')
  if (body.enforcement !== 'nftables' && body.enforcement !== 'off')
    throw bad('status request: enforcement must be "nftables" or "off"')
  return {
    protocolVersion,
    appliedVersion: version(body.appliedVersion, 'status request appliedVersion'),
    peerCount: atMost(
      version(body.peerCount, 'status request peerCount'),
      MAX_PEER_COUNT,
      'status request peerCount',
    ),
    latestHandshakes,
    enforcement: body.enforcement,
  }
}

/**
 * The broker's side: a feed page to the response body. Changes are collapsed to the last one per public key,
 * so the response keeps the at-most-once rule whatever the feed holds. `presharedKeys` maps a lease id to its
 * preshared key, already decrypted for this gateway; an upsert whose key is missing there is an error, never
 * a peer without its preshared key.
 */
export function buildSyncResponse(
  page: GatewayFeedPage,
  presharedKeys: ReadonlyMap<string, string>,
  serverTime: number,
  network: OverlayNetwork,
  more = false,
): SyncResponse {
  const last = new Map<string, GatewayFeedPage['changes'][number]>()
  for (const change of page.changes) {
    last.delete(change.publicKey) // keep insertion order = order of the last change
    last.set(change.publicKey, change)
  }
  const upserts: SyncUpsert[] = []
  const removals: string[] = []
  for (const change of last.values()) {
    if (change.kind === 'remove') {
      if (!page.reset) removals.push(change.publicKey)
      continue
    }
    const presharedKey = presharedKeys.get(change.leaseId)
    if (presharedKey === undefined)
      throw new KeygateError('INTERNAL', `no preshared key for lease ${change.leaseId}`)
    upserts.push({
      publicKey: change.publicKey,
      presharedKey,
      allowedIps: change.allowedIps,
      routes: change.routes,
      expiresAt: change.expiresAt,
    })
  }
  return {
    protocolVersion: PROTOCOL_VERSION,
    version: page.version,
    reset: page.reset,
    upserts,
    removals,
    serverTime,
    more: page.reset ? false : more,
    network: { ipv4: network.ipv4, ipv6: network.ipv6 },
  }
}
