/**
 * Minting a lease: the one path from a signed-in session to a WireGuard peer on the gateways.
 *
 * Order matters for the invariants: the request is validated and the policy decides before anything is
 * stored, so bad input and denials store nothing but their audit event; the preshared key is sealed
 * before it reaches the store; the store allocates the address, writes the lease, its feed changes and
 * its audit event in one transaction.
 */
import { isKeygateError, KeygateError, type Reason } from '../errors.ts'
import type { Lease, Subject } from '../model.ts'
import { encodeBase64, parseWireGuardPublicKey } from '../peers/keys.ts'
import { renderClientConfig } from '../peers/wg-config.ts'
import { type CompiledPolicy, type Decision, evaluatePolicy } from '../policy/index.ts'
import type { BrokerDeps, SessionContext } from './broker-deps.ts'
import { auditAuth } from './sign-in.ts'

export const MAX_DEVICE_NAME_LENGTH = 64
export const MAX_REQUESTED_GATEWAYS = 64

export interface IssueLeaseRequest {
  publicKey: unknown
  name?: unknown
  gateways?: unknown
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

  const policy = deps.policy()
  const now = deps.clock.now()
  const subject = subjectOf(session)
  const decision = evaluatePolicy(policy, { subject, gateways: requestedGateways ?? undefined }, now)
  if (!decision.allow) {
    await deps.store.appendAudit(
      {
        type: 'lease.denied',
        identityId: session.identityId,
        leaseId: null,
        gatewayId: null,
        actor: session.email,
        policyHash: policy.hash,
        data: { code: decision.code, reasons: decision.reasons, ...auditAuth(session.auth) },
      },
      now,
    )
    throw denialError(decision)
  }

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
        audit: {
          type: 'lease.issued',
          identityId: session.identityId,
          leaseId: null,
          gatewayId: null,
          actor: session.email,
          policyHash: policy.hash,
          data: {
            publicKey,
            grants: decision.grants,
            matchedGrants: decision.matchedGrants,
            ...auditAuth(session.auth),
          },
        },
      },
      now,
    )
    .catch((error: unknown) => refuseKeyInUse(deps, session, publicKey, error))
  deps.notifier.publish(lease.grants.map((g) => g.gateway))
  deps.logger.info('lease.issued', {
    leaseId: lease.id,
    identityId: session.identityId,
    gateways: lease.grants.length,
  })
  return { lease, ...(await renderLeaseConfig(deps, policy, lease, encodeBase64(presharedKey))) }
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

export function subjectOf(session: SessionContext): Subject {
  return {
    idpId: session.idpId,
    issuer: session.issuer,
    subject: session.subject,
    email: session.email,
    groups: session.groups,
    auth: session.auth,
  }
}

/** A denial becomes the refusal DESIGN.md names: MFA_REQUIRED, STEP_UP_REQUIRED or POLICY_DENIED. */
export function denialError(decision: Extract<Decision, { allow: false }>): KeygateError {
  const reasons: Reason[] = decision.reasons
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

function parseDeviceName(value: unknown): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string') throw new KeygateError('INVALID_REQUEST', '"name" must be a string')
  const name = value.trim()
  if (name.length === 0) return null
  if (name.length > MAX_DEVICE_NAME_LENGTH) {
    throw new KeygateError('INVALID_REQUEST', `"name" must be at most ${MAX_DEVICE_NAME_LENGTH} characters`)
  }
  // Names end up in configs, pages and logs: letters, digits, spaces and a little punctuation only.
  if (!/^[\p{L}\p{N} ._@'()+-]+$/u.test(name)) {
    throw new KeygateError(
      'INVALID_REQUEST',
      '"name" may contain only letters, digits, spaces and . _ @ \' ( ) + -',
    )
  }
  return name
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
 * A gateway holds one peer per public key: a second live lease on the key would have its peer removed
 * when the first one ends. The store refuses it in the issuing statement; this names the lease to
 * renew when it is the user's own (looked up only on this rare path).
 */
async function refuseKeyInUse(
  deps: BrokerDeps,
  session: SessionContext,
  publicKey: string,
  error: unknown,
): Promise<never> {
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
