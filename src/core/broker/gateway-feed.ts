/**
 * The broker's side of the gateway protocol (src/core/sync/protocol.ts): enrollment tokens, enrollment,
 * credential checks, the long-polled change feed and status reports.
 *
 * Credentials and tokens are random 256-bit values; only their SHA-256 is stored, so a database dump
 * does not let anyone act as a gateway. The feed is read from the store every time (gateway-feed-reads.ts
 * coalesces the reads of polls woken together); the notifier only says when to read again.
 */

import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { auditEvent } from '../audit-event.ts'
import { KeygateError } from '../errors.ts'
import type { Gateway } from '../model.ts'
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
import { FEED_PAGE_LIMIT, type FeedRead } from './gateway-feed-reads.ts'
import { randomId } from './sign-in.ts'

export const ENROLLMENT_TOKEN_TTL_MS = 60 * 60_000

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
    auditEvent('gateway.enrollment_created', { gatewayId: gatewayName, actor, data: { expiresAt } }),
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
  // Clients whose leases were granted this gateway wait on its name (their lease watch): it now has a
  // peer to offer them, so they add it at once rather than at their next poll.
  deps.notifier.publish([gateway.name])
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
  query: { since?: string | null; wait?: string | null; protocol?: string | null },
): Promise<SyncResponse> {
  const { since, waitSeconds } = parseSyncQuery(query)
  // This is the one place a sync's deadline is decided: the agent's `wait`, capped by the runtime's
  // limit (Workers). Notifiers only wake the loop earlier.
  const waitMs = Math.min(waitSeconds * 1000, deps.maxSyncWaitMs ?? Number.POSITIVE_INFINITY)
  const deadline = deps.clock.now() + waitMs
  let read: FeedRead | null
  // Subscribing before each read closes the race with a commit that lands between the read and the
  // wait, at one read per wake-up (coalesced with the other polls the same wake-up settled:
  // gateway-feed-reads.ts). A wake-up may be spurious (a "wake all", a poll while LISTEN is down):
  // then the loop simply waits again, until news or the deadline.
  for (;;) {
    const remaining = deadline - deps.clock.now()
    const wait = remaining > 0 ? deps.notifier.waitForChange(gateway.name, remaining, since) : null
    read = await deps.feeds.read(gateway, since)
    // A gateway removed since it authenticated (a removal wakes its poll) gets nothing more: the read
    // checks, in its own statement, that this gateway is still the one enrolled under the name.
    if (read === null) {
      wait?.cancel()
      throw new KeygateError('GATEWAY_CREDENTIAL_INVALID', 'This gateway was removed')
    }
    if (wait === null) break
    if (hasNews(read.page, since)) {
      wait.cancel()
      break
    }
    if ((await wait.changed) === 'shutdown') {
      // The broker is stopping: answer "nothing new since `since`" without another read, so a
      // thousand held polls cost the shutdown no queries. Whatever did change, the agent gets from
      // the next broker it asks, from this same cursor.
      read = { page: { version: since, reset: false, changes: [] }, presharedKeys: new Map() }
      break
    }
  }
  return respond(deps, read)
}

/**
 * `keygate gateway remove NAME` and the console: the credential stops working at once (the row and its
 * hash are gone; a waiting long poll is woken and refused), unused enrollment tokens are spent, the
 * overlay address returns to the pool and the feed is dropped. Leases keep their grants: the gateway may
 * be added again, and it then starts from a snapshot.
 */
export async function removeGateway(deps: BrokerDeps, name: string, actor: string): Promise<Gateway> {
  const now = deps.clock.now()
  const removed = await deps.store.removeGateway(name, now)
  if (removed === null) throw new KeygateError('GATEWAY_UNKNOWN', `No gateway named "${name}" was added`)
  deps.gateways.invalidate()
  deps.notifier.publish([name])
  await deps.store.appendAudit(
    auditEvent('gateway.removed', {
      gatewayId: name,
      actor,
      data: { publicKey: removed.publicKey, addressV4: removed.addressV4, addressV6: removed.addressV6 },
    }),
    now,
  )
  deps.logger.info('gateway.removed', { gateway: name })
  return removed
}

function hasNews(page: GatewayFeedPage, since: number): boolean {
  return page.reset || page.changes.length > 0 || page.version !== since
}

function respond(deps: BrokerDeps, { page, presharedKeys }: FeedRead): SyncResponse {
  const network = deps.policy().network
  return buildSyncResponse(
    page,
    presharedKeys,
    deps.clock.now(),
    { ipv4: network.ipv4, ipv6: network.ipv6 },
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
      enforcement: status.enforcement,
    },
    deps.clock.now(),
  )
}
