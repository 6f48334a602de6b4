/**
 * Minting a lease: the one path from a signed-in session to a WireGuard peer on the gateways.
 *
 * Order matters for the invariants: the request is validated and the policy decides before anything is
 * stored, so bad input and denials store nothing but their audit event; the preshared key is sealed
 * before it reaches the store; the store allocates the address, writes the lease, its feed changes and
 * its audit event in one transaction.
 *
 * With an `Idempotency-Key` the key is stored in that same transaction (idempotency.ts), so a retry after
 * a commit whose answer was lost finds the lease and gets the same answer again (rebuilt from the lease,
 * whose preshared key is sealed there), never a second lease.
 */
import { auditEvent } from '../audit-event.ts'
import { isKeygateError, KeygateError, type Reason } from '../errors.ts'
import type { Lease, Subject } from '../model.ts'
import { parseDeviceName } from '../peers/device-name.ts'
import { encodeBase64, parseWireGuardPublicKey } from '../peers/keys.ts'
import { renderClientConfig } from '../peers/wg-config.ts'
import { type CompiledPolicy, type Decision, evaluatePolicy } from '../policy/index.ts'
import type { BrokerDeps, SessionContext } from './broker-deps.ts'
import {
  answerOfConcurrentTwin,
  idempotencyRecord,
  type KeyedRequest,
  keyedRequest,
  leaseActedOnBefore,
} from './idempotency.ts'
import { auditAuth } from './sign-in.ts'
import { subjectFromFacts } from './subject.ts'

export const MAX_REQUESTED_GATEWAYS = 64

export interface IssueLeaseRequest {
  publicKey: unknown
  name?: unknown
  gateways?: unknown
  /** The `Idempotency-Key` header, if sent. */
  idempotencyKey?: unknown
}

export interface LeaseGatewayView {
  name: string
  endpoint: string
  routes: string[]
  /** false until the gateway has enrolled; its [Peer] is then missing from the config. */
  enrolled: boolean
}

export interface IssuedLease {
  lease: Lease
  gateways: LeaseGatewayView[]
  /** wg-quick text with a placeholder where the client puts its private key. */
  config: string
}

export async function issueLease(
  deps: BrokerDeps,
  session: SessionContext,
  request: IssueLeaseRequest,
): Promise<IssuedLease> {
  const publicKey = parseWireGuardPublicKey(request.publicKey)
  const name = parseDeviceName(request.name)
  const requestedGateways = parseRequestedGateways(request.gateways)
  const keyed = keyedRequest(session.identityId, request.idempotencyKey, {
    publicKey,
    name,
    gateways: requestedGateways,
  })
  const earlier = await replayIssuance(deps, keyed)
  if (earlier !== null) return earlier

  const policy = deps.policy()
  const now = deps.clock.now()
  const subject = subjectOf(session)
  const decision = evaluatePolicy(policy, { subject, gateways: requestedGateways ?? undefined }, now)
  if (!decision.allow) {
    await deps.store.appendAudit(
      auditEvent('lease.denied', {
        identityId: session.identityId,
        actor: session.email,
        policyHash: policy.hash,
        data: { code: decision.code, reasons: decision.reasons, ...auditAuth(session.auth) },
      }),
      now,
    )
    throw denialError(decision)
  }
  // A lease no granted gateway can carry would hand out a config without a [Peer]: refuse it, naming the
  // gateways so the user can tell an admin which to bring up.
  const coverage = await gatewayCoverage(deps, decision.grants)
  if (coverage.enrolled.length === 0) throw noGatewayError(coverage.missing)

  const presharedKey = deps.random.bytes(32)
  const presharedKeyCiphertext = await deps.sealer.seal(presharedKey)
  const lease = await deps.store
    .issueLease(
      {
        identityId: session.identityId,
        publicKey,
        name,
        pool: { ipv4: policy.network.ipv4, ipv6: policy.network.ipv6 },
        grants: decision.grants,
        presharedKeyCiphertext,
        expiresAt: decision.expiresAt,
        auth: session.auth,
        policyHash: policy.hash,
        matchedGrants: decision.matchedGrants,
        maxLiveLeases: policy.maxLeasesPerUser,
        sessionId: session.sessionId,
        ...(keyed === null ? {} : { idempotency: idempotencyRecord(keyed, now) }),
        audit: auditEvent('lease.issued', {
          identityId: session.identityId,
          actor: session.email,
          policyHash: policy.hash,
          data: {
            publicKey,
            grants: decision.grants,
            matchedGrants: decision.matchedGrants,
            ...auditAuth(session.auth),
          },
        }),
      },
      now,
    )
    // A concurrent request with the same key may have won: its lease then holds the public key (or the
    // key row), so the refusal we got is the race's, and its lease is the answer.
    .catch((error: unknown) => answerOfConcurrentTwin(keyed, error, () => replayIssuance(deps, keyed)))
    .catch((error: unknown) => explainRefusal(deps, session, publicKey, error))
  if ('config' in lease) return lease
  deps.notifier.publish(lease.grants.map((g) => g.gateway))
  deps.logger.info('lease.issued', {
    leaseId: lease.id,
    identityId: session.identityId,
    gateways: lease.grants.length,
  })
  return { lease, ...(await renderLeaseConfig(deps, policy, lease, encodeBase64(presharedKey))) }
}

/** The first answer to a key this identity used before; another request under the same key is refused. */
async function replayIssuance(deps: BrokerDeps, keyed: KeyedRequest | null): Promise<IssuedLease | null> {
  const leaseId = await leaseActedOnBefore(deps.store, keyed, deps.clock.now())
  const lease = leaseId === null ? null : await deps.store.getLease(leaseId)
  return lease === null ? null : issuedLeaseOf(deps, lease)
}

/** A lease with its client config, as issuance answers; the owner can fetch it again. */
export async function issuedLeaseOf(deps: BrokerDeps, lease: Lease): Promise<IssuedLease> {
  const ciphertext = await deps.store.presharedKeyOf(lease.id)
  if (ciphertext === null) throw new KeygateError('NOT_FOUND', `No lease "${lease.id}" exists`)
  const presharedKey = await deps.sealer.open(ciphertext)
  return { lease, ...(await renderLeaseConfig(deps, deps.policy(), lease, encodeBase64(presharedKey))) }
}

/** The client's config for a lease: one [Peer] per granted, enrolled gateway. */
export async function renderLeaseConfig(
  deps: Pick<BrokerDeps, 'gateways'>,
  policy: CompiledPolicy,
  lease: Lease,
  presharedKey: string,
): Promise<{ gateways: LeaseGatewayView[]; config: string }> {
  const gateways: LeaseGatewayView[] = []
  const peers = []
  for (const grant of lease.grants) {
    const declared = policy.gateways.get(grant.gateway)
    const enrolled = await deps.gateways.get(grant.gateway)
    const endpoint = declared?.endpoint ?? ''
    gateways.push({
      name: grant.gateway,
      endpoint,
      routes: grant.routes,
      enrolled: enrolled?.publicKey != null,
    })
    if (enrolled?.publicKey == null || declared === undefined) continue
    const overlay = [
      enrolled.addressV4 && `${enrolled.addressV4}/32`,
      enrolled.addressV6 && `${enrolled.addressV6}/128`,
    ]
    peers.push({
      publicKey: enrolled.publicKey,
      presharedKey,
      endpoint,
      allowedIps: [...grant.routes, ...overlay.filter((ip): ip is string => typeof ip === 'string')],
      persistentKeepalive: 25,
    })
  }
  const addresses = [`${lease.addressV4}/32`, ...(lease.addressV6 === null ? [] : [`${lease.addressV6}/128`])]
  const config = renderClientConfig({
    addresses,
    dns: policy.network.dns,
    peers,
    name: lease.name ?? undefined,
  })
  return { gateways, config }
}

/** Which of the granted gateways have enrolled (their [Peer] is in a config) and which have not yet. */
export async function gatewayCoverage(
  deps: Pick<BrokerDeps, 'gateways'>,
  grants: ReadonlyArray<{ gateway: string }>,
): Promise<{ enrolled: string[]; missing: string[] }> {
  const enrolled: string[] = []
  const missing: string[] = []
  for (const { gateway } of grants) {
    const known = await deps.gateways.get(gateway)
    ;(known?.publicKey != null ? enrolled : missing).push(gateway)
  }
  return { enrolled, missing }
}

export function noGatewayError(missing: string[]): KeygateError {
  return new KeygateError(
    'NO_GATEWAY_ENROLLED',
    `No gateway for your access is online yet (${missing.join(', ') || 'none granted'}); ask your admin to bring one up`,
    { details: { gateways: missing } },
  )
}

/** A session's subject; its facts were made by `subjectFactsOf` at sign-in (see subject.ts). */
export function subjectOf(session: SessionContext): Subject {
  return subjectFromFacts(session, session.auth)
}

/**
 * A denial becomes the refusal DESIGN.md names, one code per situation, the same in the API, on the
 * pages and in the reasons: AUTH_TOO_OLD when only the sign-in's age (or a missing auth_time) stands in
 * the way, STEP_UP_REQUIRED when a stronger sign-in the policy lets Keygate ask for would do (RFC 9470),
 * MFA_REQUIRED when only the IdP's MFA will, POLICY_DENIED when no sign-in helps.
 */
export function denialError(decision: Extract<Decision, { allow: false }>): KeygateError {
  const reasons: Reason[] = decision.reasons
  if (
    decision.code === 'ASSURANCE_UNMET' &&
    reasons.length > 0 &&
    reasons.every((r) => r.code === 'AUTH_TOO_OLD' || r.code === 'AUTH_TIME_MISSING')
  ) {
    return new KeygateError('AUTH_TOO_OLD', 'Your sign-in is too old for this access; sign in again', {
      reasons,
      details: decision.stepUp === null ? {} : { stepUp: decision.stepUp },
    })
  }
  if (decision.code === 'ASSURANCE_UNMET' && decision.stepUp !== null) {
    return new KeygateError('STEP_UP_REQUIRED', 'A stronger or fresher sign-in is required for this access', {
      reasons,
      details: { stepUp: decision.stepUp },
    })
  }
  if (decision.code === 'ASSURANCE_UNMET') {
    return new KeygateError(
      'MFA_REQUIRED',
      'This access requires a sign-in with multi-factor authentication',
      {
        reasons,
      },
    )
  }
  return new KeygateError('POLICY_DENIED', 'The policy does not allow this access', {
    reasons,
    details: { decision: decision.code },
  })
}

function parseRequestedGateways(value: unknown): string[] | null {
  if (value === undefined || value === null) return null
  if (
    !Array.isArray(value) ||
    value.length > MAX_REQUESTED_GATEWAYS ||
    !value.every((g) => typeof g === 'string')
  ) {
    throw new KeygateError(
      'INVALID_REQUEST',
      `"gateways" must be an array of at most ${MAX_REQUESTED_GATEWAYS} gateway names`,
    )
  }
  return value as string[]
}

/**
 * The store refuses in the issuing statement; this names what the user can do about it, looked up only on
 * these rare paths. A gateway holds one peer per public key: a second live lease on the key would have its
 * peer removed when the first one ends, so the lease to renew is named when it is the user's own. At the
 * lease limit, the user's live leases are named, soonest to expire first, as the ones to revoke.
 */
async function explainRefusal(
  deps: BrokerDeps,
  session: SessionContext,
  publicKey: string,
  error: unknown,
): Promise<never> {
  if (isKeygateError(error, 'LEASE_LIMIT_REACHED')) {
    const now = deps.clock.now()
    const live = (await deps.store.listLeases({ identityId: session.identityId, state: 'active' }, now))
      .sort((a, b) => a.expiresAt - b.expiresAt)
      .map((l) => ({ id: l.id, name: l.name, expiresAt: new Date(l.expiresAt).toISOString() }))
    throw new KeygateError(
      'LEASE_LIMIT_REACHED',
      `You already hold ${live.length} live leases, the most the policy allows; revoke one (${live
        .slice(0, 3)
        .map((l) => l.name ?? l.id)
        .join(', ')}${live.length > 3 ? ', …' : ''}) or let it expire`,
      { details: { ...error.details, leases: live } },
    )
  }
  if (!isKeygateError(error, 'PUBLIC_KEY_IN_USE')) throw error
  const holder = await deps.store.findLiveLeaseByPublicKey(publicKey, deps.clock.now())
  const own = holder !== null && holder.identityId === session.identityId
  throw new KeygateError(
    'PUBLIC_KEY_IN_USE',
    own
      ? `This key already has a live lease (${holder.id}): renew it, or revoke it first`
      : 'This key already has a live lease; make a new key pair for this device',
    { details: own ? { leaseId: holder.id } : {} },
  )
}
