/**
 * The terminal client's sign-in, shaped like OAuth 2.0 Device Authorization (RFC 8628): the client asks
 * for a device code and a user code, a person approves the user code in the portal after the usual
 * sign-in, and the client collects the result with the device code.
 *
 * The approval does the real work with the approving browser session, so the person sees a refusal
 * (policy, pool, key in use) on the page: for a new device it issues the lease for the client's public
 * key; for a lease whose sign-in is too old to renew it renews that lease (owner only). Collecting hands
 * the client a fresh client credential for that lease (only its hash is stored) and, for a new lease,
 * the preshared key. A device code is single-use and expires; every step is audited.
 */
import { auditEvent } from '../audit-event.ts'
import type { BrokerDeps, SessionContext } from '../broker/broker-deps.ts'
import { hashSecret } from '../broker/gateway-feed.ts'
import { type IssueLeaseRequest, issueLease } from '../broker/issue-lease.ts'
import { renewOwnLease } from '../broker/manage-leases.ts'
import { auditAuth, randomId } from '../broker/sign-in.ts'
import { isKeygateError, KeygateError } from '../errors.ts'
import { type Lease, leaseState } from '../model.ts'
import { encodeBase64, parseWireGuardPublicKey } from '../peers/keys.ts'
import type { DeviceAuthorization, DeviceStore } from './device-store.ts'
import { describeTunnel, type TunnelDescription } from './tunnel.ts'
import { formatUserCode, generateUserCode, normalizeUserCode } from './user-code.ts'

export const DEVICE_CODE_TTL_MS = 10 * 60_000
/** Seconds between token polls (RFC 8628 `interval`); short, since a person is waiting on the terminal. */
export const DEVICE_POLL_INTERVAL_SECONDS = 1
export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code'
export const VERIFICATION_PATH = '/device'
const USER_CODE_ATTEMPTS = 5

export interface DeviceDeps extends BrokerDeps {
  devices: DeviceStore
}

export interface DeviceAuthorizationResponse {
  device_code: string
  user_code: string
  verification_uri: string
  verification_uri_complete: string
  expires_in: number
  interval: number
}

/** The fields RFC 8628 section 3.5 and RFC 6749 section 5.2 name for a token error. */
export type DeviceTokenError =
  | 'authorization_pending'
  | 'slow_down'
  | 'access_denied'
  | 'expired_token'
  | 'invalid_grant'
  | 'invalid_request'
  | 'unsupported_grant_type'

export type DeviceTokenResult =
  | { ok: false; error: DeviceTokenError; description: string; interval?: number }
  | { ok: true; body: DeviceTokenBody }

export interface DeviceTokenBody {
  access_token: string
  token_type: 'Bearer'
  lease: ClientLeaseSummary
  tunnel: TunnelDescription
  /** Base64; present when the lease is new to this client (a renewal keeps the one it has). */
  preshared_key?: string
}

export interface ClientLeaseSummary {
  id: string
  publicKey: string
  name: string | null
  expiresAt: string
}

/** `POST /api/v1/device/authorize`. With `renewal`, the approval renews that lease instead. */
export async function startDeviceAuthorization(
  deps: DeviceDeps,
  input: {
    publicKey: unknown
    name: unknown
    clientAddress: string | null
    baseUrl: string
    renewal?: Lease
  },
): Promise<DeviceAuthorizationResponse> {
  const publicKey = parseWireGuardPublicKey(input.publicKey)
  const name = parseName(input.name)
  if (input.renewal !== undefined && input.renewal.publicKey !== publicKey) {
    throw new KeygateError('INVALID_REQUEST', 'The public key is not the one of the lease to renew')
  }
  const now = deps.clock.now()
  const deviceCode = `kgdc_${randomId(deps, 32)}`
  const id = uuidOf(deps.random.bytes(16))
  let userCode = ''
  for (let attempt = 0; ; attempt++) {
    userCode = generateUserCode(deps.random)
    const created = await deps.devices.createDeviceAuthorization(
      {
        id,
        deviceCodeHash: hashSecret(deviceCode),
        userCode,
        purpose: input.renewal === undefined ? 'issue' : 'renew',
        publicKey,
        deviceName: name ?? input.renewal?.name ?? null,
        clientAddress: input.clientAddress,
        leaseId: input.renewal?.id ?? null,
        intervalSeconds: DEVICE_POLL_INTERVAL_SECONDS,
        expiresAt: now + DEVICE_CODE_TTL_MS,
      },
      now,
    )
    if (created) break
    if (attempt >= USER_CODE_ATTEMPTS) throw new KeygateError('INTERNAL', 'Could not draw a free user code')
  }
  await deps.store.appendAudit(
    auditEvent('device.authorization_started', {
      identityId: input.renewal?.identityId ?? null,
      leaseId: input.renewal?.id ?? null,
      data: { authorization: id, publicKey, name, clientAddress: input.clientAddress },
    }),
    now,
  )
  const verificationUri = `${input.baseUrl}${VERIFICATION_PATH}`
  return {
    device_code: deviceCode,
    user_code: formatUserCode(userCode),
    verification_uri: verificationUri,
    verification_uri_complete: `${verificationUri}?user_code=${formatUserCode(userCode)}`,
    expires_in: Math.round(DEVICE_CODE_TTL_MS / 1000),
    interval: DEVICE_POLL_INTERVAL_SECONDS,
  }
}

/** The pending authorization a person's user code names (for the approval page), or null. */
export async function findPendingAuthorization(
  deps: DeviceDeps,
  session: SessionContext,
  typed: unknown,
): Promise<DeviceAuthorization | null> {
  const userCode = normalizeUserCode(typed)
  const now = deps.clock.now()
  const found = userCode === null ? null : await deps.devices.findPendingByUserCode(userCode, now)
  if (found === null) {
    await deps.store.appendAudit(
      auditEvent('device.user_code_rejected', {
        identityId: session.identityId,
        actor: session.email,
        data: { wellFormed: userCode !== null },
      }),
      now,
    )
  }
  return found
}

/** Approves: issues the lease (or renews the one named) with the approving session, then marks it. */
export async function approveDevice(
  deps: DeviceDeps,
  session: SessionContext,
  authorizationId: string,
): Promise<{ authorization: DeviceAuthorization; lease: Lease }> {
  const authorization = await pendingById(deps, authorizationId)
  let lease: Lease
  try {
    if (authorization.purpose === 'renew') {
      await requireNewerSignIn(deps, session, authorization.leaseId ?? '')
      lease = await renewOwnLease(deps, session, authorization.leaseId ?? '')
    } else {
      const request: IssueLeaseRequest = {
        publicKey: authorization.publicKey,
        name: authorization.deviceName,
      }
      lease = (await issueLease(deps, session, request)).lease
    }
  } catch (error) {
    // A refusal the person can act on (step-up, fresher sign-in) leaves the request pending for a retry.
    if (isKeygateError(error) && !RETRYABLE_REFUSALS.has(error.code)) {
      await decide(deps, session, authorization, 'denied', undefined, error.code)
    }
    throw error
  }
  const decided = await deps.devices.decideDeviceAuthorization(
    authorization.id,
    { status: 'approved', identityId: session.identityId, leaseId: lease.id },
    deps.clock.now(),
  )
  if (!decided) throw new KeygateError('NOT_FOUND', 'This sign-in request is no longer pending')
  await deps.store.appendAudit(
    auditEvent('device.approved', {
      identityId: session.identityId,
      leaseId: lease.id,
      actor: session.email,
      data: { authorization: authorization.id, purpose: authorization.purpose, ...auditAuth(session.auth) },
    }),
    deps.clock.now(),
  )
  return { authorization, lease }
}

/**
 * A device asks again because the sign-in behind its lease is running out; approving it with that same
 * sign-in would move nothing. Only a newer sign-in than the lease's own renews it.
 */
export async function requireNewerSignIn(
  deps: DeviceDeps,
  session: SessionContext,
  leaseId: string,
): Promise<void> {
  const lease = await deps.store.getLease(leaseId)
  if (lease === null || lease.identityId !== session.identityId) {
    throw new KeygateError('NOT_FOUND', `No lease "${leaseId}" of yours exists`)
  }
  if (!isNewerSignIn(session.auth.authTime, lease.auth.authTime)) {
    const message = 'Keeping this device connected needs a newer sign-in than the one it has'
    throw new KeygateError('AUTH_TOO_OLD', message, { reasons: [{ code: 'AUTH_TOO_OLD', message }] })
  }
}

export function isNewerSignIn(session: number | null, lease: number | null): boolean {
  return session !== null && (lease === null || session > lease)
}

const RETRYABLE_REFUSALS = new Set(['STEP_UP_REQUIRED', 'MFA_REQUIRED', 'AUTH_TOO_OLD', 'RATE_LIMITED'])

export async function refuseDevice(
  deps: DeviceDeps,
  session: SessionContext,
  authorizationId: string,
): Promise<DeviceAuthorization> {
  const authorization = await pendingById(deps, authorizationId)
  await decide(deps, session, authorization, 'denied', undefined, 'refused')
  return authorization
}

async function decide(
  deps: DeviceDeps,
  session: SessionContext,
  authorization: DeviceAuthorization,
  status: 'denied',
  leaseId: string | undefined,
  reason: string,
): Promise<void> {
  const now = deps.clock.now()
  const done = await deps.devices.decideDeviceAuthorization(
    authorization.id,
    { status, identityId: session.identityId, denialReason: reason, ...(leaseId ? { leaseId } : {}) },
    now,
  )
  if (!done) throw new KeygateError('NOT_FOUND', 'This sign-in request is no longer pending')
  await deps.store.appendAudit(
    auditEvent('device.refused', {
      identityId: session.identityId,
      leaseId: authorization.leaseId,
      actor: session.email,
      data: { authorization: authorization.id, reason },
    }),
    now,
  )
}

async function pendingById(deps: DeviceDeps, id: string): Promise<DeviceAuthorization> {
  const authorization = /^[0-9a-f-]{36}$/.test(id) ? await deps.devices.getDeviceAuthorization(id) : null
  if (
    authorization === null ||
    authorization.status !== 'pending' ||
    authorization.expiresAt <= deps.clock.now()
  ) {
    throw new KeygateError(
      'NOT_FOUND',
      'This sign-in request is no longer pending; start again on the device',
    )
  }
  return authorization
}

/** `POST /api/v1/device/token`: RFC 8628 section 3.4/3.5. */
export async function pollDeviceToken(
  deps: DeviceDeps,
  form: { grant_type?: unknown; device_code?: unknown },
): Promise<DeviceTokenResult> {
  if (form.grant_type !== DEVICE_CODE_GRANT_TYPE) {
    return {
      ok: false,
      error: form.grant_type === undefined ? 'invalid_request' : 'unsupported_grant_type',
      description: `grant_type must be ${DEVICE_CODE_GRANT_TYPE}`,
    }
  }
  if (
    typeof form.device_code !== 'string' ||
    form.device_code.length === 0 ||
    form.device_code.length > 128
  ) {
    return { ok: false, error: 'invalid_request', description: 'device_code is missing' }
  }
  const now = deps.clock.now()
  const poll = await deps.devices.pollDeviceAuthorization(hashSecret(form.device_code), now)
  switch (poll.kind) {
    case 'unknown':
      return { ok: false, error: 'invalid_grant', description: 'Unknown device code' }
    case 'consumed':
      await deps.store.appendAudit(
        auditEvent('device.code_reused', {
          identityId: poll.authorization.identityId,
          leaseId: poll.authorization.leaseId,
          data: { authorization: poll.authorization.id },
        }),
        now,
      )
      return { ok: false, error: 'invalid_grant', description: 'This device code has already been used' }
    case 'expired':
      return { ok: false, error: 'expired_token', description: 'The device code expired; start again' }
    case 'slow_down':
      return {
        ok: false,
        error: 'slow_down',
        description: `Poll at most every ${poll.authorization.intervalSeconds} s`,
        interval: poll.authorization.intervalSeconds,
      }
    case 'pending':
      return { ok: false, error: 'authorization_pending', description: 'Waiting for approval in the portal' }
    case 'denied':
      return {
        ok: false,
        error: 'access_denied',
        description:
          poll.authorization.denialReason === 'refused'
            ? 'The sign-in was refused in the portal'
            : `The sign-in was refused: ${poll.authorization.denialReason ?? 'denied'}`,
      }
    case 'collected':
      return { ok: true, body: await collect(deps, poll.authorization) }
  }
}

async function collect(deps: DeviceDeps, authorization: DeviceAuthorization): Promise<DeviceTokenBody> {
  const now = deps.clock.now()
  const lease = authorization.leaseId === null ? null : await deps.store.getLease(authorization.leaseId)
  if (lease === null || leaseState(lease, now) !== 'active') {
    throw new KeygateError('LEASE_NOT_ACTIVE', 'The approved lease has already ended')
  }
  // One live credential per lease: a fresh sign-in replaces the one the client had.
  await deps.devices.revokeClientCredentials(lease.id, now)
  const credential = `kgd_${randomId(deps, 32)}`
  await deps.devices.createClientCredential(
    { tokenHash: hashSecret(credential), leaseId: lease.id, identityId: lease.identityId },
    now,
  )
  await deps.store.appendAudit(
    auditEvent('device.token_issued', {
      identityId: lease.identityId,
      leaseId: lease.id,
      data: { authorization: authorization.id, purpose: authorization.purpose },
    }),
    now,
  )
  const body: DeviceTokenBody = {
    access_token: credential,
    token_type: 'Bearer',
    lease: summarize(lease),
    tunnel: await describeTunnel(deps.gateways, deps.policy(), lease),
  }
  if (authorization.purpose === 'issue') {
    const sealed = await deps.devices.leasePresharedKeyCiphertext(lease.id)
    if (sealed === null) throw new KeygateError('INTERNAL', 'The lease has no preshared key')
    body.preshared_key = encodeBase64(await deps.sealer.open(sealed))
  }
  return body
}

export function summarize(lease: Lease): ClientLeaseSummary {
  return {
    id: lease.id,
    publicKey: lease.publicKey,
    name: lease.name,
    expiresAt: new Date(lease.expiresAt).toISOString(),
  }
}

function parseName(value: unknown): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string' || value.length > 64 || !/^[\p{L}\p{N} ._@'()+-]*$/u.test(value)) {
    throw new KeygateError(
      'INVALID_REQUEST',
      '"name" must be at most 64 letters, digits, spaces and . _ @ \' ( ) + -',
    )
  }
  return value.trim() === '' ? null : value.trim()
}

/** An RFC 9562 version 4 UUID from the Random port (core never reaches for a runtime's generator). */
function uuidOf(bytes: Uint8Array): string {
  const b = Uint8Array.from(bytes)
  b[6] = (b[6]! & 0x0f) | 0x40
  b[8] = (b[8]! & 0x3f) | 0x80
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
