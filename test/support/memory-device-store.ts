// A DeviceStore in memory, for unit tests of core/device's use cases, with the drizzle store's answers
// (adapters/storage/device-store.ts): a user code unique among pending requests, decisions only on a pending
// unexpired request, a poll that consumes an approved request once and answers slow_down (raising the
// interval by 5 s) when polled faster than the interval less 0.5 s. The lease's preshared key is read from
// the memory store it is given, as the SQL store reads the lease row.
import type {
  ClientCredentialRecord,
  DeviceAuthorization,
  DevicePoll,
  DeviceStore,
} from '../../src/core/device/device-store.ts'
import type { MemoryStore } from './memory-store.ts'

export interface MemoryDeviceStore extends DeviceStore {
  /** Authorizations by id, with the hash of their device code. */
  authorizations: Map<string, DeviceAuthorization & { deviceCodeHash: string }>
  credentials: Map<string, ClientCredentialRecord>
}

export function createMemoryDeviceStore(store: Pick<MemoryStore, 'presharedKeys'>): MemoryDeviceStore {
  const authorizations: MemoryDeviceStore['authorizations'] = new Map()
  const credentials = new Map<string, ClientCredentialRecord>()
  const copy = ({ deviceCodeHash: _, ...a }: DeviceAuthorization & { deviceCodeHash: string }) => ({ ...a })
  const open = (a: DeviceAuthorization, now: number) => a.status === 'pending' && a.expiresAt > now
  return {
    authorizations,
    credentials,
    async createDeviceAuthorization(input, now) {
      for (const a of authorizations.values())
        if (a.userCode === input.userCode && a.status === 'pending') return false
      authorizations.set(input.id, {
        ...input,
        status: 'pending',
        identityId: null,
        decidedAt: null,
        denialReason: null,
        lastPolledAt: null,
        createdAt: now,
      })
      return true
    },
    async findPendingByUserCode(userCode, now) {
      for (const a of authorizations.values()) if (a.userCode === userCode && open(a, now)) return copy(a)
      return null
    },
    async getDeviceAuthorization(id) {
      const a = authorizations.get(id)
      return a === undefined ? null : copy(a)
    },
    async decideDeviceAuthorization(id, decision, now) {
      const a = authorizations.get(id)
      if (a === undefined || !open(a, now)) return false
      Object.assign(a, {
        status: decision.status,
        identityId: decision.identityId,
        decidedAt: now,
        denialReason: decision.denialReason ?? null,
        ...(decision.leaseId === undefined ? {} : { leaseId: decision.leaseId }),
      })
      return true
    },
    async pollDeviceAuthorization(deviceCodeHash, now): Promise<DevicePoll> {
      const a = [...authorizations.values()].find((x) => x.deviceCodeHash === deviceCodeHash)
      if (a === undefined) return { kind: 'unknown' }
      if (a.status === 'consumed') return { kind: 'consumed', authorization: copy(a) }
      if (a.expiresAt <= now) return { kind: 'expired', authorization: copy(a) }
      const tooSoon = a.lastPolledAt !== null && now - a.lastPolledAt < a.intervalSeconds * 1000 - 500
      a.lastPolledAt = now
      let kind: DevicePoll['kind']
      if (a.status === 'denied') kind = 'denied'
      else if (a.status === 'approved') {
        kind = 'collected'
        a.status = 'consumed'
      } else if (tooSoon) {
        kind = 'slow_down'
        a.intervalSeconds += 5
      } else kind = 'pending'
      return { kind, authorization: copy(a) } as DevicePoll
    },
    async createClientCredential(input, now) {
      credentials.set(input.tokenHash, {
        leaseId: input.leaseId,
        identityId: input.identityId,
        createdAt: now,
        revokedAt: null,
      })
    },
    async findClientCredential(tokenHash) {
      const c = credentials.get(tokenHash)
      return c === undefined ? null : { ...c }
    },
    async revokeClientCredentials(leaseId, now) {
      let live = 0
      for (const c of credentials.values())
        if (c.leaseId === leaseId && c.revokedAt === null) {
          c.revokedAt = now
          live++
        }
      return live
    },
    async leasePresharedKeyCiphertext(leaseId) {
      return store.presharedKeys.get(leaseId) ?? null
    },
  }
}
