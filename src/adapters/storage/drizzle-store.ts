/**
 * The Store port on drizzle: assembles the per-concept parts (identities, sessions, leases, gateway feeds,
 * gateways, audit) over one database, whichever driver opened it.
 *
 * Free of Node APIs so that a Workers entry can build a store from a postgres.js client (Hyperdrive) too;
 * opening files and locks is `open-database.ts`'s job.
 */
import type { Store } from '../../core/ports.ts'
import { createAuditStore } from './audit-store.ts'
import type { Db } from './db.ts'
import { createGatewayFeedStore } from './gateway-feed-store.ts'
import { createGatewayStore } from './gateway-store.ts'
import { createIdentityStore } from './identity-store.ts'
import { createLeaseStore } from './lease-store.ts'
import { resealSecrets } from './reseal-secrets.ts'
import { createScimStore } from './scim-store.ts'
import { createSessionStore } from './session-store.ts'
import type { SqlRunner } from './sql-runner.ts'

/** How long feed entries are kept before the sweep may prune them: a gateway offline longer gets a reset. */
export const DEFAULT_FEED_RETENTION_MS = 24 * 60 * 60 * 1000

export interface DrizzleStoreOptions {
  db: Db
  runner: SqlRunner
  /** Releases the driver (and anything the opener holds). */
  close: () => Promise<void>
  feedRetentionMs?: number
  newId?: () => string
}

export function createDrizzleStore(options: DrizzleStoreOptions): Store {
  const { db, runner } = options
  const newId = options.newId ?? (() => crypto.randomUUID())
  const identities = createIdentityStore({ db, newId })
  const sessions = createSessionStore({ db })
  const leases = createLeaseStore({ runner, newId })
  const feeds = createGatewayFeedStore({
    runner,
    retentionMs: options.feedRetentionMs ?? DEFAULT_FEED_RETENTION_MS,
  })
  const gateways = createGatewayStore({ runner, newId })
  const audit = createAuditStore({ db, runner, newId })
  const scim = createScimStore({ db, newId })

  return {
    upsertIdentity: identities.upsertIdentity,
    getIdentity: identities.getIdentity,
    findIdentity: identities.findIdentity,
    setIdentitySuspended: identities.setIdentitySuspended,
    setIdentityGroups: identities.setIdentityGroups,

    issueLease: leases.issueLease,
    getLease: leases.getLease,
    findIdempotencyKey: leases.findIdempotencyKey,
    presharedKeyOf: leases.presharedKeyOf,
    findLiveLeaseByPublicKey: leases.findLiveLeaseByPublicKey,
    listLeases: leases.listLeases,
    revokeLease: leases.revokeLease,
    updateLease: leases.updateLease,
    async sweepExpired(now) {
      const swept = await leases.endExpired(now)
      await feeds.pruneFeeds(now)
      await sessions.deleteExpired(now)
      return swept
    },

    appendAudit: audit.appendAudit,
    listAudit: audit.listAudit,
    pruneAudit: audit.pruneAudit,
    holdAudit: audit.holdAudit,

    saveLoginState: sessions.saveLoginState,
    consumeLoginState: sessions.consumeLoginState,
    isLoginStateUsed: sessions.isLoginStateUsed,
    markLoginStateUsed: sessions.markLoginStateUsed,
    createSession: sessions.createSession,
    isSessionLive: sessions.isSessionLive,
    readSession: sessions.readSession,
    updateSessionAuth: sessions.updateSessionAuth,
    endSession: sessions.endSession,
    getSession: sessions.getSession,
    setSessionRefreshToken: sessions.setSessionRefreshToken,
    endSessions: sessions.endSessions,
    rememberLogoutToken: sessions.rememberLogoutToken,

    ...scim,

    createEnrollment: gateways.createEnrollment,
    enrollGateway: gateways.enrollGateway,
    findGatewaysByCredentials: gateways.findGatewaysByCredentials,
    getGateway: gateways.getGateway,
    listGateways: gateways.listGateways,
    readGatewayFeeds: feeds.readGatewayFeeds,
    gatewayFeedVersion: feeds.gatewayFeedVersion,
    recordGatewayStatus: gateways.recordGatewayStatus,
    removeGateway: gateways.removeGateway,

    resealSecrets: (reseal) => resealSecrets(runner, reseal),

    close: options.close,
  }
}
