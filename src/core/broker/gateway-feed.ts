/**
 * The broker's side of the gateway protocol (src/core/sync/protocol.ts): enrollment tokens, enrollment,
 * credential checks, the long-polled change feed and status reports.
 *
 * Credentials and tokens are random 256-bit values; only their SHA-256 is stored, so a database dump
 * does not let anyone act as a gateway. The feed is read from the store every time; the notifier only
 * says when to read again.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { KeygateError } from '../errors.ts'
import type { Gateway } from '../model.ts'
import { encodeBase64 } from '../peers/base64.ts'
import type { GatewayFeedPage } from '../ports.ts'
import {
  buildSyncResponse,
  type EnrollResponse,
  PROTOCOL_VERSION,
  parseEnrollRequest,
  parseStatusRequest,
  parseSyncQuery,
  type SyncResponse,
} from '../sync/protocol.ts'
import type { BrokerDeps } from './broker-deps.ts'
import { randomId } from './sign-in.ts'

export const ENROLLMENT_TOKEN_TTL_MS = 60 * 60_000
/** Changes per sync response; a gateway further behind gets `more: true` and asks again at once. */
export const FEED_PAGE_LIMIT = 2_000

export function hashSecret(secret: string): string {
  return bytesToHex(sha256(new TextEncoder().encode(secret)))
}

export async function createEnrollmentToken(
  deps: Pick<BrokerDeps, 'store' | 'clock' | 'random' | 'policy'>,
  gatewayName: string,
  actor: string,
): Promise<{ token: string; expiresAt: number }> {
  if (!deps.policy().gateways.has(gatewayName)) {
    throw new KeygateError(
      'GATEWAY_UNKNOWN',
      `Gateway "${gatewayName}" is not declared in the policy's "gateways"`,
      {
        details: { known: [...deps.policy().gateways.keys()] },
      },
    )
  }
  const token = `kge_${randomId(deps, 32)}`
  const now = deps.clock.now()
  const expiresAt = now + ENROLLMENT_TOKEN_TTL_MS
  await deps.store.createEnrollment({ gatewayName, tokenHash: hashSecret(token), expiresAt }, now)
  await deps.store.appendAudit(
    {
      type: 'gateway.enrollment_created',
      identityId: null,
      leaseId: null,
      gatewayId: gatewayName,
      actor,
      policyHash: null,
      data: { expiresAt },
    },
    now,
  )
  return { token, expiresAt }
}

export async function enrollGateway(
  deps: BrokerDeps,
  token: string | null,
  body: unknown,
): Promise<EnrollResponse> {
  if (token === null)
    throw new KeygateError('ENROLLMENT_TOKEN_INVALID', 'Send the one-time enrollment token as a Bearer token')
  const request = parseEnrollRequest(body)
  const credential = `kgc_${randomId(deps, 32)}`
  const policy = deps.policy()
  const now = deps.clock.now()
  const gateway = await deps.store.enrollGateway(
    {
      tokenHash: hashSecret(token),
      publicKey: request.publicKey,
      credentialHash: hashSecret(credential),
      pool: { ipv4: policy.network.ipv4, ipv6: policy.network.ipv6 },
    },
    now,
  )
  // The store writes the `gateway.enrolled` audit event in the enrollment's transaction.
  deps.gateways.invalidate()
  deps.logger.info('gateway.enrolled', { gateway: gateway.name })
  return {
    protocolVersion: PROTOCOL_VERSION,
    gateway: gateway.name,
    credential,
    addressV4: gateway.addressV4,
    addressV6: gateway.addressV6,
  }
}

export async function authenticateGateway(deps: BrokerDeps, credential: string | null): Promise<Gateway> {
  const gateway = credential === null ? null : await deps.gateways.byCredential(hashSecret(credential))
  if (gateway === null)
    throw new KeygateError('GATEWAY_CREDENTIAL_INVALID', 'Unknown or revoked gateway credential')
  return gateway
}

/** Answers at once when the gateway is behind; otherwise waits up to `wait` seconds for a change. */
export async function syncGateway(
  deps: BrokerDeps,
  gateway: Gateway,
  query: { since?: string | null; wait?: string | null },
): Promise<SyncResponse> {
  const { since, waitSeconds } = parseSyncQuery(query)
  const read = () => deps.store.readGatewayFeed(gateway.name, since, FEED_PAGE_LIMIT, deps.clock.now())
  const deadline = deps.clock.now() + waitSeconds * 1000
  let page: GatewayFeedPage
  // Subscribing before each read closes the race with a commit that lands between the read and the
  // wait, at one read per wake-up. A wake-up may be spurious (another replica's echo of a change this
  // one already served): then the loop simply waits again, until news or the deadline.
  for (;;) {
    const remaining = deadline - deps.clock.now()
    const wait = remaining > 0 ? deps.notifier.waitForChange(gateway.name, remaining) : null
    page = await read()
    if (wait === null) break
    if (hasNews(page, since)) {
      wait.cancel()
      break
    }
    await wait.changed
  }
  return respond(deps, page)
}

function hasNews(page: GatewayFeedPage, since: number): boolean {
  return page.reset || page.changes.length > 0 || page.version !== since
}

async function respond(deps: BrokerDeps, page: GatewayFeedPage): Promise<SyncResponse> {
  const presharedKeys = new Map<string, string>()
  await Promise.all(
    page.changes.map(async (change) => {
      if (change.kind !== 'upsert' || presharedKeys.has(change.leaseId)) return
      presharedKeys.set(change.leaseId, encodeBase64(await deps.sealer.open(change.presharedKeyCiphertext)))
    }),
  )
  return buildSyncResponse(
    page,
    presharedKeys,
    deps.clock.now(),
    !page.reset && page.changes.length >= FEED_PAGE_LIMIT,
  )
}

export async function recordGatewayStatus(deps: BrokerDeps, gateway: Gateway, body: unknown): Promise<void> {
  const status = parseStatusRequest(body)
  await deps.store.recordGatewayStatus(
    gateway.name,
    {
      appliedVersion: status.appliedVersion,
      peerCount: status.peerCount,
      latestHandshakes: status.latestHandshakes,
    },
    deps.clock.now(),
  )
}
