/**
 * The persistence the terminal client's sign-in needs: device authorizations (RFC 8628) and the client
 * credentials that renew and read one lease. A port like Store, implemented on drizzle by
 * adapters/storage/device-store.ts. Secrets (device codes, credentials) arrive here hashed.
 */

export type DevicePurpose = 'issue' | 'renew'
export type DeviceStatus = 'pending' | 'approved' | 'denied' | 'consumed'

export interface DeviceAuthorization {
  id: string
  userCode: string
  purpose: DevicePurpose
  publicKey: string
  deviceName: string | null
  clientAddress: string | null
  leaseId: string | null
  status: DeviceStatus
  identityId: string | null
  decidedAt: number | null
  denialReason: string | null
  intervalSeconds: number
  lastPolledAt: number | null
  createdAt: number
  expiresAt: number
}

export interface NewDeviceAuthorization {
  id: string
  deviceCodeHash: string
  userCode: string
  purpose: DevicePurpose
  publicKey: string
  deviceName: string | null
  clientAddress: string | null
  leaseId: string | null
  intervalSeconds: number
  expiresAt: number
}

/** What a token request finds, decided in one transaction so two polls cannot both collect a lease. */
export type DevicePoll =
  | { kind: 'unknown' }
  | { kind: 'expired'; authorization: DeviceAuthorization }
  /** Polled faster than the interval: the interval has been raised by 5 s (RFC 8628 section 3.5). */
  | { kind: 'slow_down'; authorization: DeviceAuthorization }
  | { kind: 'pending'; authorization: DeviceAuthorization }
  | { kind: 'denied'; authorization: DeviceAuthorization }
  /** Approved and now consumed by this very poll. */
  | { kind: 'collected'; authorization: DeviceAuthorization }
  /** Collected before: a device code is single-use. */
  | { kind: 'consumed'; authorization: DeviceAuthorization }

export interface ClientCredentialRecord {
  leaseId: string
  identityId: string
  createdAt: number
  revokedAt: number | null
}

export interface DeviceStore {
  /** False when the user code collides with a pending one (the caller draws another). */
  createDeviceAuthorization(input: NewDeviceAuthorization, now: number): Promise<boolean>
  /** A pending, unexpired authorization by its user code. */
  findPendingByUserCode(userCode: string, now: number): Promise<DeviceAuthorization | null>
  getDeviceAuthorization(id: string): Promise<DeviceAuthorization | null>
  /** Moves a pending, unexpired authorization to approved or denied; false when it is no longer pending. */
  decideDeviceAuthorization(
    id: string,
    decision: { status: 'approved' | 'denied'; identityId: string; leaseId?: string; denialReason?: string },
    now: number,
  ): Promise<boolean>
  pollDeviceAuthorization(deviceCodeHash: string, now: number): Promise<DevicePoll>

  createClientCredential(
    input: { tokenHash: string; leaseId: string; identityId: string },
    now: number,
  ): Promise<void>
  findClientCredential(tokenHash: string): Promise<ClientCredentialRecord | null>
  /** Revokes every credential of a lease; returns how many were live. */
  revokeClientCredentials(leaseId: string, now: number): Promise<number>
  /** The lease's preshared key as stored (SecretSealer ciphertext), for the client that collects it. */
  leasePresharedKeyCiphertext(leaseId: string): Promise<string | null>
}
