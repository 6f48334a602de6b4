/**
 * The DeviceStore port on drizzle, over storage/schema-devices.ts; either driver's database works.
 * A token poll locks its authorization row, so two polls racing on one approved device code give one
 * lease collection and one `consumed`.
 */
import { and, eq, gt, isNull } from 'drizzle-orm'
import type { DeviceAuthorization, DevicePoll, DeviceStore } from '../../core/device/device-store.ts'
import type { Db } from './db.ts'
import { leases } from './schema.ts'
import { clientCredentials, deviceAuthorizations } from './schema-devices.ts'

type Row = typeof deviceAuthorizations.$inferSelect

/** RFC 8628 section 3.5: each slow_down adds five seconds to the interval. */
const SLOW_DOWN_STEP_SECONDS = 5
/** A poll this much early is tolerated (clocks, network jitter) before it counts as too fast. */
const POLL_JITTER_MS = 500

function authorizationOf(row: Row): DeviceAuthorization {
  return {
    id: row.id,
    userCode: row.userCode,
    purpose: row.purpose,
    publicKey: row.publicKey,
    deviceName: row.deviceName,
    clientAddress: row.clientAddress,
    leaseId: row.leaseId,
    status: row.status,
    identityId: row.identityId,
    decidedAt: row.decidedAt?.getTime() ?? null,
    denialReason: row.denialReason,
    intervalSeconds: row.intervalSeconds,
    lastPolledAt: row.lastPolledAt?.getTime() ?? null,
    createdAt: row.createdAt.getTime(),
    expiresAt: row.expiresAt.getTime(),
  }
}

function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error; e !== null && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === '23505') return true
  }
  return false
}

export function createDeviceStore(db: Db): DeviceStore {
  return {
    async createDeviceAuthorization(input, now) {
      try {
        await db.insert(deviceAuthorizations).values({
          ...input,
          status: 'pending',
          createdAt: new Date(now),
          expiresAt: new Date(input.expiresAt),
        })
        return true
      } catch (error) {
        if (isUniqueViolation(error)) return false
        throw error
      }
    },

    async findPendingByUserCode(userCode, now) {
      const [row] = await db
        .select()
        .from(deviceAuthorizations)
        .where(
          and(
            eq(deviceAuthorizations.userCode, userCode),
            eq(deviceAuthorizations.status, 'pending'),
            gt(deviceAuthorizations.expiresAt, new Date(now)),
          ),
        )
      return row === undefined ? null : authorizationOf(row)
    },

    async getDeviceAuthorization(id) {
      const [row] = await db.select().from(deviceAuthorizations).where(eq(deviceAuthorizations.id, id))
      return row === undefined ? null : authorizationOf(row)
    },

    async decideDeviceAuthorization(id, decision, now) {
      const rows = await db
        .update(deviceAuthorizations)
        .set({
          status: decision.status,
          identityId: decision.identityId,
          decidedAt: new Date(now),
          ...(decision.leaseId === undefined ? {} : { leaseId: decision.leaseId }),
          denialReason: decision.denialReason ?? null,
        })
        .where(
          and(
            eq(deviceAuthorizations.id, id),
            eq(deviceAuthorizations.status, 'pending'),
            gt(deviceAuthorizations.expiresAt, new Date(now)),
          ),
        )
        .returning({ id: deviceAuthorizations.id })
      return rows.length === 1
    },

    pollDeviceAuthorization(deviceCodeHash, now) {
      return db.transaction(async (tx): Promise<DevicePoll> => {
        const [row] = await tx
          .select()
          .from(deviceAuthorizations)
          .where(eq(deviceAuthorizations.deviceCodeHash, deviceCodeHash))
          .for('update')
        if (row === undefined) return { kind: 'unknown' }
        const authorization = authorizationOf(row)
        if (authorization.status === 'consumed') return { kind: 'consumed', authorization }
        if (authorization.expiresAt <= now) return { kind: 'expired', authorization }
        const tooSoon =
          authorization.lastPolledAt !== null &&
          now - authorization.lastPolledAt < authorization.intervalSeconds * 1000 - POLL_JITTER_MS
        const changes: Partial<typeof deviceAuthorizations.$inferInsert> = { lastPolledAt: new Date(now) }
        let kind: DevicePoll['kind']
        if (authorization.status === 'denied') kind = 'denied'
        else if (authorization.status === 'approved') {
          kind = 'collected'
          changes.status = 'consumed'
        } else if (tooSoon) {
          kind = 'slow_down'
          changes.intervalSeconds = authorization.intervalSeconds + SLOW_DOWN_STEP_SECONDS
        } else kind = 'pending'
        await tx.update(deviceAuthorizations).set(changes).where(eq(deviceAuthorizations.id, row.id))
        return {
          kind,
          authorization: {
            ...authorization,
            lastPolledAt: now,
            intervalSeconds: changes.intervalSeconds ?? authorization.intervalSeconds,
            status: changes.status ?? authorization.status,
          },
        } as DevicePoll
      })
    },

    async createClientCredential(input, now) {
      await db.insert(clientCredentials).values({ ...input, createdAt: new Date(now) })
    },

    async findClientCredential(tokenHash) {
      const [row] = await db
        .select()
        .from(clientCredentials)
        .where(eq(clientCredentials.tokenHash, tokenHash))
      if (row === undefined) return null
      return {
        leaseId: row.leaseId,
        identityId: row.identityId,
        createdAt: row.createdAt.getTime(),
        revokedAt: row.revokedAt?.getTime() ?? null,
      }
    },

    async revokeClientCredentials(leaseId, now) {
      const rows = await db
        .update(clientCredentials)
        .set({ revokedAt: new Date(now) })
        .where(and(eq(clientCredentials.leaseId, leaseId), isNull(clientCredentials.revokedAt)))
        .returning({ tokenHash: clientCredentials.tokenHash })
      return rows.length
    },

    async leasePresharedKeyCiphertext(leaseId) {
      const [row] = await db
        .select({ ciphertext: leases.presharedKeyCiphertext })
        .from(leases)
        .where(eq(leases.id, leaseId))
      return row?.ciphertext ?? null
    },
  }
}
