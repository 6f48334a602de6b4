/**
 * A user's (or an admin's) handling of existing leases: listing, revoking, renewing.
 *
 * Ownership is checked here, not in the HTTP layer, so every entrypoint gets the same answer:
 * a lease that is not yours is NOT_FOUND (not FORBIDDEN), so ids of others' leases leak nothing.
 * Renewal and revocation take an `Idempotency-Key` as issuance does (idempotency.ts): a retry of one
 * that committed answers with the lease as it is now, and does not renew or revoke again.
 */
import { auditEvent } from '../audit-event.ts'
import { KeygateError } from '../errors.ts'
import { type Lease, leaseState } from '../model.ts'
import { evaluatePolicy } from '../policy/index.ts'
import type { BrokerDeps, SessionContext } from './broker-deps.ts'
import {
  answerOfConcurrentTwin,
  idempotencyRecord,
  type KeyedRequest,
  keyedRequest,
  leaseActedOnBefore,
} from './idempotency.ts'
import { denialError, type IssuedLease, issuedLeaseOf, subjectOf } from './issue-lease.ts'
import { auditAuth } from './sign-in.ts'

export interface LeaseView {
  id: string
  name: string | null
  publicKey: string
  addresses: string[]
  gateways: Lease['grants']
  state: ReturnType<typeof leaseState>
  createdAt: string
  expiresAt: string
  revokedAt: string | null
  revokedReason: string | null
  verdict: string
  stepUp: string | null
}

export function viewLease(lease: Lease, now: number): LeaseView {
  return {
    id: lease.id,
    name: lease.name,
    publicKey: lease.publicKey,
    addresses: [lease.addressV4, ...(lease.addressV6 === null ? [] : [lease.addressV6])],
    gateways: lease.grants,
    state: leaseState(lease, now),
    createdAt: new Date(lease.createdAt).toISOString(),
    expiresAt: new Date(lease.expiresAt).toISOString(),
    revokedAt: lease.revokedAt === null ? null : new Date(lease.revokedAt).toISOString(),
    revokedReason: lease.revokedReason,
    verdict: lease.auth.verdict,
    stepUp: lease.auth.stepUp,
  }
}

export async function listOwnLeases(deps: BrokerDeps, session: SessionContext): Promise<Lease[]> {
  return deps.store.listLeases({ identityId: session.identityId }, deps.clock.now())
}

/** An `Idempotency-Key` header as sent, and whose key it is. */
export interface IdempotencyKeyOf {
  owner: string
  key: unknown
}

/**
 * What a revocation did. Revoking is idempotent: a lease that had already ended (revoked, expired) is
 * the answer as it is, with `alreadyEnded`, so a repeated click or a retried request without a key is a
 * success that says so, not an error. (A retry with its Idempotency-Key gets the first answer again.)
 */
export interface RevokeOutcome {
  lease: Lease
  alreadyEnded: boolean
}

export async function revokeOwnLease(
  deps: BrokerDeps,
  session: SessionContext,
  leaseId: string,
  idempotencyKey?: unknown,
): Promise<RevokeOutcome> {
  const keyed = keyedRevocation({ owner: session.identityId, key: idempotencyKey }, leaseId)
  const earlier = await leaseOfEarlierRequest(deps, keyed)
  if (earlier !== null) return { lease: earlier, alreadyEnded: false }
  return revokeLeaseAs(
    deps,
    await findOwnLease(deps, session, leaseId),
    session.email,
    'revoked by its owner',
    keyed,
  )
}

function keyedRevocation(idempotency: IdempotencyKeyOf | undefined, leaseId: string): KeyedRequest | null {
  if (idempotency === undefined) return null
  return keyedRequest(idempotency.owner, idempotency.key, { operation: 'revoke', leaseId })
}

/** The lease an earlier request under the same key acted on, as it is now; null for a new key. */
async function leaseOfEarlierRequest(deps: BrokerDeps, keyed: KeyedRequest | null): Promise<Lease | null> {
  const leaseId = await leaseActedOnBefore(deps.store, keyed, deps.clock.now())
  return leaseId === null ? null : deps.store.getLease(leaseId)
}

/** The owner's lease with its client config again (the answer issuance gave); NOT_FOUND for others. */
export async function ownLeaseConfig(
  deps: BrokerDeps,
  session: SessionContext,
  leaseId: string,
): Promise<IssuedLease> {
  return issuedLeaseOf(deps, await findOwnLease(deps, session, leaseId))
}

async function findOwnLease(deps: BrokerDeps, session: SessionContext, leaseId: string): Promise<Lease> {
  const lease = await deps.store.getLease(leaseId)
  if (lease === null || lease.identityId !== session.identityId) {
    throw new KeygateError('NOT_FOUND', `No lease "${leaseId}" of yours exists`)
  }
  return lease
}

export async function revokeLeaseAsAdmin(
  deps: BrokerDeps,
  adminActor: string,
  leaseId: string,
  idempotency?: IdempotencyKeyOf,
): Promise<RevokeOutcome> {
  const keyed = keyedRevocation(idempotency, leaseId)
  const earlier = await leaseOfEarlierRequest(deps, keyed)
  if (earlier !== null) return { lease: earlier, alreadyEnded: false }
  const lease = await deps.store.getLease(leaseId)
  if (lease === null) throw new KeygateError('NOT_FOUND', `No lease "${leaseId}" exists`)
  const revoked = await revokeLeaseAs(deps, lease, adminActor, 'revoked by an administrator', keyed)
  if (revoked.alreadyEnded) return revoked
  // An admin revokes a lease because the device or the session is not trusted: the session that minted
  // it must not mint the next one (a stolen cookie would otherwise keep going until the session expires).
  if (lease.sessionId !== null) {
    const now = deps.clock.now()
    await deps.store.endSession(lease.sessionId, now)
    await deps.store.appendAudit(
      auditEvent('session.ended', {
        identityId: lease.identityId,
        leaseId: lease.id,
        actor: adminActor,
        data: { reason: 'an administrator revoked a lease this session made' },
      }),
      now,
    )
  }
  return revoked
}

async function revokeLeaseAs(
  deps: BrokerDeps,
  lease: Lease,
  actor: string | null,
  reason: string,
  keyed: KeyedRequest | null = null,
): Promise<RevokeOutcome> {
  const now = deps.clock.now()
  if (leaseState(lease, now) !== 'active') {
    // A twin request under the same key may be what ended it: then its answer is this one's too.
    const twin = await leaseOfEarlierRequest(deps, keyed)
    return twin === null ? { lease, alreadyEnded: true } : { lease: twin, alreadyEnded: false }
  }
  let revoked: Lease | null
  try {
    revoked = await deps.store.revokeLease(
      lease.id,
      reason,
      auditEvent('lease.revoked', {
        identityId: lease.identityId,
        leaseId: lease.id,
        actor,
        policyHash: deps.policy().hash,
        data: { reason, gateways: lease.grants.map((g) => g.gateway) },
      }),
      now,
      idempotencyRecord(keyed, now),
    )
  } catch (error) {
    // A twin request under the same key stored its key first: its revocation is the answer.
    const twin = await answerOfConcurrentTwin(keyed, error, () => leaseOfEarlierRequest(deps, keyed))
    return { lease: twin, alreadyEnded: false }
  }
  if (revoked === null) {
    // Nothing left to revoke: a twin request under the same key may be what revoked it; otherwise it
    // ended between the read and the write (another revocation, the sweep), the same answer as above.
    const twin = await leaseOfEarlierRequest(deps, keyed)
    if (twin !== null) return { lease: twin, alreadyEnded: false }
    return { lease: (await deps.store.getLease(lease.id)) ?? lease, alreadyEnded: true }
  }
  deps.notifier.publish(lease.grants.map((g) => g.gateway))
  deps.logger.info('lease.revoked', { leaseId: lease.id, reason })
  return { lease: revoked, alreadyEnded: false }
}

/**
 * Renewal keeps the key and the address and moves only the expiry (and routes, if the policy changed),
 * so the WireGuard session carries on. The session's sign-in must satisfy the policy now, so a renewal
 * after the auth age ran out is a step-up demand, never a silent extension.
 */
export async function renewOwnLease(
  deps: BrokerDeps,
  session: SessionContext,
  leaseId: string,
  idempotencyKey?: unknown,
): Promise<Lease> {
  const keyed = keyedRequest(session.identityId, idempotencyKey, { operation: 'renew', leaseId })
  const earlier = await leaseOfEarlierRequest(deps, keyed)
  if (earlier !== null) return earlier
  const lease = await findOwnLease(deps, session, leaseId)
  const now = deps.clock.now()
  if (leaseState(lease, now) !== 'active') {
    throw new KeygateError('LEASE_NOT_ACTIVE', `Lease "${lease.id}" has ended; request a new one`)
  }
  await recheckWithIdp(deps, session, lease)
  const policy = deps.policy()
  const decision = evaluatePolicy(
    policy,
    { subject: subjectOf(session), gateways: lease.grants.map((g) => g.gateway) },
    now,
  )
  if (!decision.allow) throw denialError(decision)
  // Renewal never shortens: the audit event records this same value, the one stored.
  const expiresAt = Math.max(decision.expiresAt, lease.expiresAt)
  let renewed: Lease | null
  try {
    renewed = await deps.store.updateLease(
      lease.id,
      {
        expiresAt,
        matchedGrants: decision.matchedGrants,
        grants: decision.grants,
        auth: session.auth,
        policyHash: policy.hash,
      },
      auditEvent('lease.renewed', {
        identityId: lease.identityId,
        leaseId: lease.id,
        actor: session.email,
        policyHash: policy.hash,
        data: { previousExpiresAt: lease.expiresAt, expiresAt: expiresAt, ...auditAuth(session.auth) },
      }),
      now,
      idempotencyRecord(keyed, now),
    )
  } catch (error) {
    // A twin request under the same key renewed first (its key row refused ours): its renewal is the answer.
    return answerOfConcurrentTwin(keyed, error, () => leaseOfEarlierRequest(deps, keyed))
  }
  if (renewed === null)
    throw new KeygateError('LEASE_NOT_ACTIVE', `Lease "${lease.id}" has ended; request a new one`)
  deps.notifier.publish([...new Set([...lease.grants, ...renewed.grants].map((g) => g.gateway))])
  return renewed
}

/**
 * Where the sign-in came with a refresh token, a renewal first asks the IdP whether it still stands. An
 * IdP that refuses (user disabled, grant or session revoked) ends the lease and the session: access must
 * not outlive the IdP's say-so. An IdP that cannot be reached refuses the renewal (IDP_UNAVAILABLE) and
 * leaves the lease to run out on its own.
 */
async function recheckWithIdp(deps: BrokerDeps, session: SessionContext, lease: Lease): Promise<void> {
  const record = await deps.store.getSession(session.sessionId)
  if (record === null || record.refreshTokenCiphertext === null) return
  const idp = deps.idps.get(session.idpId)
  if (idp === undefined) return
  const refreshToken = new TextDecoder().decode(await deps.sealer.open(record.refreshTokenCiphertext))
  const answer = await idp.refresh(refreshToken)
  if (answer.ok) {
    if (answer.refreshToken !== null && answer.refreshToken !== refreshToken) {
      await deps.store.setSessionRefreshToken(session.sessionId, await deps.sealer.seal(answer.refreshToken))
    }
    return
  }
  const reason = `the identity provider refused to refresh the sign-in (${answer.reason})`
  await endAccessForRefusal(deps, session, lease, reason)
  throw new KeygateError(
    'UNAUTHENTICATED',
    'The identity provider no longer accepts this sign-in; sign in again',
    {
      reasons: [{ code: 'IDP_REFRESH_REFUSED', message: reason }],
    },
  )
}

async function endAccessForRefusal(
  deps: BrokerDeps,
  session: SessionContext,
  lease: Lease,
  reason: string,
): Promise<void> {
  const now = deps.clock.now()
  await deps.store.revokeLease(
    lease.id,
    reason,
    auditEvent('lease.revoked', {
      identityId: lease.identityId,
      leaseId: lease.id,
      actor: 'idp',
      policyHash: deps.policy().hash,
      data: { reason, gateways: lease.grants.map((g) => g.gateway) },
    }),
    now,
  )
  deps.notifier.publish(lease.grants.map((g) => g.gateway))
  await deps.store.endSession(session.sessionId, now)
  await deps.store.appendAudit(
    auditEvent('session.ended', {
      identityId: lease.identityId,
      leaseId: lease.id,
      actor: 'idp',
      data: { reason },
    }),
    now,
  )
}
