/**
 * What a client credential can do, and nothing more: read, watch, renew and end the one lease it was
 * issued for. A credential for another lease gets NOT_FOUND (like any lease that is not yours); an
 * unknown or revoked one gets CLIENT_CREDENTIAL_INVALID, and so does any use but reading once its lease
 * has ended: a credential dies with its lease, but the client may still learn why.
 *
 * Renewal uses the facts of the sign-in the lease was issued (or last renewed) with, so the policy's
 * maxAuthAge holds for the client exactly as for the portal: once it runs out, renewal is a step-up
 * demand and the client starts a device sign-in for the same lease. The watch is the client's own feed:
 * it answers when the lease's state changes, woken by the same ChangeNotifier that wakes the gateways
 * (every revocation, renewal and re-route already publishes the lease's gateways).
 */
import { auditEvent } from '../audit-event.ts'
import type { SessionContext } from '../broker/broker-deps.ts'
import { hashSecret } from '../broker/gateway-feed.ts'
import { subjectOf } from '../broker/issue-lease.ts'
import { renewOwnLease } from '../broker/manage-leases.ts'
import { KeygateError } from '../errors.ts'
import { type Lease, leaseState } from '../model.ts'
import { assessPolicy } from '../policy/index.ts'
import type { DeviceDeps } from './device-sign-in.ts'
import { describeTunnel, type TunnelDescription } from './tunnel.ts'

export const MAX_WATCH_SECONDS = 60

export interface ClientLeaseView {
  /** Changes whenever anything below changes; pass it back to watch for the next change. */
  state: string
  lease: {
    id: string
    name: string | null
    publicKey: string
    state: ReturnType<typeof leaseState>
    expiresAt: string
    revokedReason: string | null
    gateways: Lease['grants']
  }
  tunnel: TunnelDescription
  renewal: {
    /** When the sign-in behind the lease becomes too old for the policy (null: never). */
    signInValidUntil: string | null
    /** True when a renewal with the credential alone would be refused: a device sign-in is needed. */
    needsSignIn: boolean
  }
}

export interface AuthenticatedClient {
  lease: Lease
  /** The lease's owner as the policy sees them, with the lease's own sign-in facts. */
  session: SessionContext
}

/** Resolves a credential for the lease named in the path. */
export async function authenticateClient(
  deps: DeviceDeps,
  credential: string,
  leaseId: string,
  options: { allowEnded?: boolean } = {},
): Promise<AuthenticatedClient> {
  const record = await deps.devices.findClientCredential(hashSecret(credential))
  if (record === null) throw invalid('Unknown client credential')
  if (record.leaseId !== leaseId) throw new KeygateError('NOT_FOUND', `No lease "${leaseId}" of yours exists`)
  if (record.revokedAt !== null) throw invalid('This client credential has been revoked')
  const lease = await deps.store.getLease(leaseId)
  if (lease === null) throw new KeygateError('NOT_FOUND', `No lease "${leaseId}" of yours exists`)
  const now = deps.clock.now()
  if (leaseState(lease, now) !== 'active' && options.allowEnded !== true) {
    throw invalid(`The lease has ended (${lease.revokedReason ?? 'expired'}); sign in again`)
  }
  const identity = await deps.store.getIdentity(lease.identityId)
  if (identity === null) throw invalid('The lease has no owner any more')
  return {
    lease,
    session: {
      sessionId: `client:${lease.id}`,
      identityId: identity.id,
      idpId: identity.idpId,
      issuer: identity.issuer,
      subject: identity.subject,
      email: identity.emailVerified ? identity.email : null,
      groups: identity.groups,
      auth: lease.auth,
      expiresAt: lease.expiresAt,
    },
  }
}

function invalid(message: string): KeygateError {
  return new KeygateError('CLIENT_CREDENTIAL_INVALID', message)
}

export async function viewClientLease(
  deps: DeviceDeps,
  client: AuthenticatedClient,
): Promise<ClientLeaseView> {
  const { lease, session } = client
  const now = deps.clock.now()
  const policy = deps.policy()
  const assessment = assessPolicy(
    policy,
    { subject: subjectOf(session), gateways: lease.grants.map((g) => g.gateway) },
    now,
  )
  const deadline = assessment.authDeadline
  const tunnel = await describeTunnel(deps.gateways, policy, lease)
  const view: Omit<ClientLeaseView, 'state'> = {
    lease: {
      id: lease.id,
      name: lease.name,
      publicKey: lease.publicKey,
      state: leaseState(lease, now),
      expiresAt: new Date(lease.expiresAt).toISOString(),
      revokedReason: lease.revokedReason,
      gateways: lease.grants,
    },
    tunnel,
    renewal: {
      signInValidUntil: Number.isFinite(deadline) ? new Date(deadline).toISOString() : null,
      needsSignIn: assessment.satisfied.length === 0 || deadline <= lease.expiresAt,
    },
  }
  // The state covers what the client acts on; renewal advice follows the clock and is not a change.
  const state = hashSecret(JSON.stringify([view.lease, tunnel])).slice(0, 32)
  return { state, ...view }
}

/**
 * The client feed: answers at once when the lease's state differs from `since`, otherwise waits (at
 * most `waitSeconds`) for a wake-up on any of the lease's gateways and answers with what it is then.
 */
export async function watchClientLease(
  deps: DeviceDeps,
  credential: string,
  leaseId: string,
  query: { since?: string | undefined; wait?: string | undefined },
): Promise<ClientLeaseView> {
  const waitSeconds = Math.min(Math.max(Number.parseInt(query.wait ?? '0', 10) || 0, 0), MAX_WATCH_SECONDS)
  // Reading an ended lease is allowed: the client learns why its tunnel must go (renewing is not).
  const first = await authenticateClient(deps, credential, leaseId, { allowEnded: true })
  // Subscribe (at the feed versions read now) before reading the lease, so a change between the read
  // and the wait is not missed.
  const gateways = [...new Set(first.lease.grants.map((g) => g.gateway))]
  const versions = await Promise.all(gateways.map((gateway) => deps.store.gatewayFeedVersion(gateway)))
  const waiters = gateways.map((gateway, i) =>
    deps.notifier.waitForChange(gateway, waitSeconds * 1000, versions[i] ?? 0),
  )
  try {
    // The lease as it is now, read after subscribing: `first` predates the subscription, and a
    // revocation that landed in between would otherwise go unseen until the wait ran out.
    const lease = (await deps.store.getLease(leaseId)) ?? first.lease
    const view = await viewClientLease(deps, { ...first, lease })
    if (waitSeconds === 0 || query.since === undefined || query.since !== view.state) return view
    if (view.lease.state !== 'active') return view
    if (waiters.length > 0) await Promise.race(waiters.map((w) => w.changed))
    return viewClientLease(deps, await authenticateClient(deps, credential, leaseId, { allowEnded: true }))
  } finally {
    for (const waiter of waiters) waiter.cancel()
  }
}

export async function renewClientLease(
  deps: DeviceDeps,
  credential: string,
  leaseId: string,
  idempotencyKey?: unknown,
): Promise<Lease> {
  const client = await authenticateClient(deps, credential, leaseId)
  return renewOwnLease(deps, client.session, leaseId, idempotencyKey)
}

/** `keygate logout`: ends the lease (the gateways drop the peer) and every credential of it. */
export async function endClientLease(deps: DeviceDeps, credential: string, leaseId: string): Promise<void> {
  const client = await authenticateClient(deps, credential, leaseId, { allowEnded: true })
  const now = deps.clock.now()
  if (leaseState(client.lease, now) === 'active') {
    const reason = 'ended by keygate logout'
    await deps.store.revokeLease(
      leaseId,
      reason,
      auditEvent('lease.revoked', {
        identityId: client.lease.identityId,
        leaseId,
        actor: client.session.email,
        policyHash: deps.policy().hash,
        data: { reason, gateways: client.lease.grants.map((g) => g.gateway) },
      }),
      now,
    )
    deps.notifier.publish(client.lease.grants.map((g) => g.gateway))
  }
  await deps.devices.revokeClientCredentials(leaseId, now)
}
