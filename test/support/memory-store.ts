// An in-memory Store for unit tests of the broker's use cases (src/core/broker): the same answers as the
// SQL store for what those use cases rely on — one live lease per public key, the live-lease limit, the
// pool's size, idempotency keys written with the act they guard (and IDEMPOTENCY_KEY_REUSED for a key
// already held), revoke/update answering null for an ended lease, feed entries appended per touched
// gateway with versions that only grow, the sweep's `lease.expired` events. Everything it was told is
// kept in plain arrays (`audit`, `feeds`, `sessions`, …) for tests to assert on. Methods no use case under
// unit test calls throw, so a test cannot pass by accident on a stub.
import { KeygateError } from '../../src/core/errors.ts'
import type {
  AuditEvent,
  Gateway,
  GatewayGrant,
  Identity,
  Lease,
  ScimGroup,
  ScimUser,
  SessionClaims,
} from '../../src/core/model.ts'
import type {
  GatewayFeedPage,
  IdempotencyRecord,
  NewAuditEvent,
  NewSession,
  PeerChange,
  SessionRecord,
  Store,
} from '../../src/core/ports.ts'

export interface MemorySession extends SessionRecord {
  claims: SessionClaims
}

export interface FeedEntry {
  version: number
  change: PeerChange
}

export interface MemoryStore extends Store {
  /** One gateway's feed (behind readGatewayFeeds), and the gateway behind one credential (behind
   *  findGatewaysByCredentials): unit tests replace them to count or shape the reads. */
  readGatewayFeed(gatewayName: string, since: number, limit: number, now: number): Promise<GatewayFeedPage>
  findGatewayByCredential(credentialHash: string): Promise<Gateway | null>
  identities: Map<string, Identity>
  leases: Map<string, Lease>
  presharedKeys: Map<string, string>
  /** Audit events in the order written, with the time they were written at. */
  audit: AuditEvent[]
  /** Each gateway's feed, oldest first. */
  feeds: Map<string, FeedEntry[]>
  idempotencyKeys: Map<string, IdempotencyRecord & { leaseId: string }>
  sessions: Map<string, MemorySession>
  gateways: Map<string, Gateway & { credentialHash: string | null }>
  enrollments: Map<string, { gatewayName: string; expiresAt: number; used: boolean }>
  scimUsers: Map<string, ScimUser>
  scimGroups: Map<string, ScimGroup>
  scimTokens: Map<string, string>
  loginStates: Map<string, number>
  logoutTokens: Map<string, number>
  gatewayStatus: Map<string, { appliedVersion: number; peerCount: number; enforcement?: string }>
  /** The next write of these methods throws this error instead (once), as a database might. */
  failNext: Partial<Record<'issueLease' | 'revokeLease' | 'updateLease', unknown>>
  /** Adds a lease as if issued earlier, without audit or feed (test setup). */
  seedLease(lease: Partial<Lease> & Pick<Lease, 'id' | 'identityId'>, presharedKeyCiphertext?: string): Lease
  seedIdentity(identity: Partial<Identity> & Pick<Identity, 'id'>): Identity
  seedGateway(gateway: Partial<Gateway> & Pick<Gateway, 'name'>, credentialHash?: string | null): Gateway
}

function notInMemoryStore(name: string): never {
  throw new Error(`the memory store does not implement ${name}`)
}

const copyLease = (lease: Lease): Lease => ({
  ...lease,
  grants: lease.grants.map((g) => ({ gateway: g.gateway, routes: [...g.routes] })),
  matchedGrants: [...lease.matchedGrants],
  auth: { ...lease.auth },
})

const isLive = (lease: Lease, now: number) => lease.revokedAt === null && lease.expiresAt > now

export function createMemoryStore(): MemoryStore {
  const identities = new Map<string, Identity>()
  const leases = new Map<string, Lease>()
  const ended = new Set<string>()
  const presharedKeys = new Map<string, string>()
  const audit: AuditEvent[] = []
  const feeds = new Map<string, FeedEntry[]>()
  const versions = new Map<string, number>()
  const idempotencyKeys = new Map<string, IdempotencyRecord & { leaseId: string }>()
  const sessions = new Map<string, MemorySession>()
  const gateways = new Map<string, Gateway & { credentialHash: string | null }>()
  const enrollments = new Map<string, { gatewayName: string; expiresAt: number; used: boolean }>()
  const scimUsers = new Map<string, ScimUser>()
  const scimGroups = new Map<string, ScimGroup>()
  const scimTokens = new Map<string, string>()
  const loginStates = new Map<string, number>()
  const usedLoginStates = new Map<string, number>()
  const logoutTokens = new Map<string, number>()
  const gatewayStatus = new Map<string, { appliedVersion: number; peerCount: number; enforcement?: string }>()
  const failNext: MemoryStore['failNext'] = {}
  let ids = 0
  let addresses = 0
  const newId = (prefix: string) => `${prefix}-${++ids}`

  function takeFailure(method: keyof MemoryStore['failNext']): void {
    if (!(method in failNext)) return
    const error = failNext[method]
    delete failNext[method]
    throw error
  }

  function writeAudit(
    event: NewAuditEvent,
    now: number,
    fallback: { identityId?: string; leaseId?: string },
  ) {
    audit.push({
      ...event,
      id: newId('audit'),
      at: now,
      identityId: event.identityId ?? fallback.identityId ?? null,
      leaseId: event.leaseId ?? fallback.leaseId ?? null,
    })
  }

  function append(gateway: string, change: PeerChange): void {
    const version = (versions.get(gateway) ?? 0) + 1
    versions.set(gateway, version)
    const feed = feeds.get(gateway) ?? []
    feed.push({ version, change })
    feeds.set(gateway, feed)
  }

  function upsertOf(lease: Lease, grant: GatewayGrant): PeerChange {
    return {
      kind: 'upsert',
      leaseId: lease.id,
      publicKey: lease.publicKey,
      presharedKeyCiphertext: presharedKeys.get(lease.id) ?? '',
      allowedIps: [`${lease.addressV4}/32`, ...(lease.addressV6 === null ? [] : [`${lease.addressV6}/128`])],
      routes: [...grant.routes],
      expiresAt: lease.expiresAt,
    }
  }

  function storeKey(idempotency: IdempotencyRecord | undefined, leaseId: string, now: number): void {
    if (idempotency === undefined) return
    const id = `${idempotency.owner} ${idempotency.key}`
    const held = idempotencyKeys.get(id)
    if (held !== undefined && held.expiresAt > now) {
      throw new KeygateError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used concurrently')
    }
    idempotencyKeys.set(id, { ...idempotency, leaseId })
  }

  function keyIsFree(idempotency: IdempotencyRecord | undefined, now: number): void {
    if (idempotency === undefined) return
    const held = idempotencyKeys.get(`${idempotency.owner} ${idempotency.key}`)
    if (held !== undefined && held.expiresAt > now) {
      throw new KeygateError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used concurrently')
    }
  }

  function activeLease(id: string, now: number): Lease | null {
    const lease = leases.get(id)
    return lease === undefined || ended.has(id) || !isLive(lease, now) ? null : lease
  }

  const store: MemoryStore = {
    identities,
    leases,
    presharedKeys,
    audit,
    feeds,
    idempotencyKeys,
    sessions,
    gateways,
    enrollments,
    scimUsers,
    scimGroups,
    scimTokens,
    loginStates,
    logoutTokens,
    gatewayStatus,
    failNext,

    seedLease(partial, presharedKeyCiphertext = `sealed-hex:${'ab'.repeat(32)}`) {
      const lease: Lease = {
        publicKey: `key-of-${partial.id}`,
        name: null,
        addressV4: `100.96.0.${++addresses}`,
        addressV6: null,
        grants: [],
        createdAt: 0,
        expiresAt: Number.MAX_SAFE_INTEGER,
        revokedAt: null,
        revokedReason: null,
        auth: { verdict: 'mfa', amr: ['pwd', 'otp'], acr: null, acrs: [], authTime: null, stepUp: null },
        policyHash: 'seeded',
        matchedGrants: [],
        sessionId: null,
        ...partial,
      }
      leases.set(lease.id, lease)
      presharedKeys.set(lease.id, presharedKeyCiphertext)
      return copyLease(lease)
    },
    seedIdentity(partial) {
      const identity: Identity = {
        idpId: 'test',
        issuer: 'https://idp.example',
        subject: `sub-${partial.id}`,
        email: null,
        emailVerified: false,
        name: null,
        groups: [],
        createdAt: 0,
        lastLoginAt: 0,
        suspendedAt: null,
        ...partial,
      }
      identities.set(identity.id, identity)
      return { ...identity, groups: [...identity.groups] }
    },
    seedGateway(partial, credentialHash = null) {
      const gateway: Gateway = {
        id: `gw-id-${partial.name}`,
        publicKey: null,
        addressV4: null,
        addressV6: null,
        enrolledAt: null,
        lastSeenAt: null,
        appliedVersion: null,
        peerCount: null,
        enforcement: null,
        ...partial,
      }
      gateways.set(gateway.name, { ...gateway, credentialHash })
      return { ...gateway }
    },

    async upsertIdentity(input, now) {
      const existing = [...identities.values()].find(
        (i) => i.issuer === input.issuer && i.subject === input.subject,
      )
      const identity: Identity = {
        id: existing?.id ?? newId('identity'),
        createdAt: existing?.createdAt ?? now,
        suspendedAt: existing?.suspendedAt ?? null,
        lastLoginAt: now,
        ...input,
        groups: [...input.groups],
      }
      identities.set(identity.id, identity)
      return { ...identity, groups: [...identity.groups] }
    },
    async getIdentity(id) {
      const identity = identities.get(id)
      return identity === undefined ? null : { ...identity, groups: [...identity.groups] }
    },

    async issueLease(input, now) {
      takeFailure('issueLease')
      const live = [...leases.values()].filter((l) => !ended.has(l.id) && isLive(l, now))
      if (live.some((l) => l.publicKey === input.publicKey)) {
        throw new KeygateError('PUBLIC_KEY_IN_USE', 'This public key already has a live lease')
      }
      const held = live.filter((l) => l.identityId === input.identityId).length
      const limit = Math.max(1, Math.floor(input.maxLiveLeases))
      if (held >= limit) {
        throw new KeygateError('LEASE_LIMIT_REACHED', `This account already holds ${held} live leases`, {
          details: { limit },
        })
      }
      if (input.pool.size !== undefined && live.length >= input.pool.size) {
        throw new KeygateError('ADDRESS_POOL_EXHAUSTED', 'no free address')
      }
      keyIsFree(input.idempotency, now)
      const n = ++addresses
      const lease: Lease = {
        id: newId('lease'),
        identityId: input.identityId,
        publicKey: input.publicKey,
        name: input.name,
        addressV4: `${input.pool.ipv4.split('.').slice(0, 3).join('.')}.${n}`,
        addressV6: input.pool.ipv6 === null ? null : `${input.pool.ipv6.split('/')[0]}${n}`,
        grants: input.grants,
        createdAt: now,
        expiresAt: input.expiresAt,
        revokedAt: null,
        revokedReason: null,
        auth: input.auth,
        policyHash: input.policyHash,
        matchedGrants: input.matchedGrants,
        sessionId: input.sessionId ?? null,
      }
      leases.set(lease.id, copyLease(lease))
      presharedKeys.set(lease.id, input.presharedKeyCiphertext)
      storeKey(input.idempotency, lease.id, now)
      writeAudit(input.audit, now, { leaseId: lease.id })
      for (const grant of lease.grants) append(grant.gateway, upsertOf(lease, grant))
      return copyLease(lease)
    },
    async getLease(id) {
      const lease = leases.get(id)
      return lease === undefined ? null : copyLease(lease)
    },
    async presharedKeyOf(leaseId) {
      return presharedKeys.get(leaseId) ?? null
    },
    async findIdempotencyKey(owner, key, now) {
      const held = idempotencyKeys.get(`${owner} ${key}`)
      return held === undefined || held.expiresAt <= now
        ? null
        : { fingerprint: held.fingerprint, leaseId: held.leaseId }
    },
    async findLiveLeaseByPublicKey(publicKey, now) {
      const lease = [...leases.values()].find((l) => l.publicKey === publicKey && isLive(l, now))
      return lease === undefined ? null : copyLease(lease)
    },
    async listLeases(filter, now) {
      return [...leases.values()]
        .filter((l) => filter.identityId === undefined || l.identityId === filter.identityId)
        .filter((l) => filter.gateway === undefined || l.grants.some((g) => g.gateway === filter.gateway))
        .filter((l) => filter.state === undefined || (filter.state === 'active') === isLive(l, now))
        .sort((a, b) => b.createdAt - a.createdAt)
        .map(copyLease)
    },
    async revokeLease(id, reason, event, now, idempotency) {
      takeFailure('revokeLease')
      const lease = activeLease(id, now)
      if (lease === null) return null
      keyIsFree(idempotency, now)
      lease.revokedAt = now
      lease.revokedReason = reason
      ended.add(id)
      storeKey(idempotency, id, now)
      writeAudit(event, now, { identityId: lease.identityId, leaseId: id })
      for (const grant of lease.grants)
        append(grant.gateway, { kind: 'remove', leaseId: id, publicKey: lease.publicKey })
      return copyLease(lease)
    },
    async updateLease(id, change, event, now, idempotency) {
      takeFailure('updateLease')
      const lease = activeLease(id, now)
      if (lease === null) return null
      keyIsFree(idempotency, now)
      const before = lease.grants.map((g) => g.gateway)
      if (change.expiresAt !== undefined) lease.expiresAt = change.expiresAt
      if (change.grants !== undefined) lease.grants = change.grants
      if (change.matchedGrants !== undefined) lease.matchedGrants = change.matchedGrants
      if (change.auth !== undefined) lease.auth = change.auth
      if (change.policyHash !== undefined) lease.policyHash = change.policyHash
      storeKey(idempotency, id, now)
      writeAudit(event, now, { identityId: lease.identityId, leaseId: id })
      for (const grant of lease.grants) append(grant.gateway, upsertOf(lease, grant))
      for (const gateway of before) {
        if (!lease.grants.some((g) => g.gateway === gateway))
          append(gateway, { kind: 'remove', leaseId: id, publicKey: lease.publicKey })
      }
      return copyLease(lease)
    },
    async sweepExpired(now) {
      const touched = new Set<string>()
      let count = 0
      for (const lease of leases.values()) {
        if (ended.has(lease.id) || lease.revokedAt !== null || lease.expiresAt > now) continue
        ended.add(lease.id)
        count += 1
        writeAudit({ ...auditOf('lease.expired'), identityId: lease.identityId, leaseId: lease.id }, now, {})
        for (const grant of lease.grants) {
          append(grant.gateway, { kind: 'remove', leaseId: lease.id, publicKey: lease.publicKey })
          touched.add(grant.gateway)
        }
      }
      return { ended: count, gateways: [...touched] }
    },

    async appendAudit(event, now) {
      writeAudit(event, now, {})
    },
    async listAudit(filter) {
      return audit
        .filter((e) => filter.identityId === undefined || e.identityId === filter.identityId)
        .filter((e) => filter.type === undefined || e.type === filter.type)
        .filter((e) => filter.typePrefix === undefined || e.type.startsWith(filter.typePrefix))
        .slice(-filter.limit)
        .reverse()
    },

    async isLoginStateUsed(key, now) {
      const until = usedLoginStates.get(key)
      return until !== undefined && until > now
    },
    async saveLoginState(key, expiresAt) {
      loginStates.set(key, expiresAt)
    },
    async consumeLoginState(key, now) {
      const expiresAt = loginStates.get(key)
      loginStates.delete(key)
      return expiresAt !== undefined && expiresAt > now
    },
    async markLoginStateUsed(key, expiresAt) {
      if (usedLoginStates.has(key)) return false
      usedLoginStates.set(key, expiresAt)
      return true
    },

    async createSession(input: NewSession) {
      sessions.set(input.id, {
        id: input.id,
        identityId: input.identityId,
        expiresAt: input.expiresAt,
        endedAt: null,
        idpSid: input.idpSid ?? null,
        refreshTokenCiphertext: input.refreshTokenCiphertext ?? null,
        claims: input.claims,
      })
    },
    async isSessionLive(id, now) {
      const s = sessions.get(id)
      return s !== undefined && s.endedAt === null && s.expiresAt > now
    },
    async readSession(id, now) {
      const s = sessions.get(id)
      if (s === undefined || s.endedAt !== null || s.expiresAt <= now) return null
      return { ...s.claims, id: s.id, expiresAt: s.expiresAt }
    },
    async updateSessionAuth(id, auth) {
      const s = sessions.get(id)
      if (s !== undefined) s.claims = { ...s.claims, auth }
    },
    async endSession(id, now) {
      const s = sessions.get(id)
      if (s !== undefined && s.endedAt === null) s.endedAt = now
    },
    async getSession(id) {
      const s = sessions.get(id)
      if (s === undefined) return null
      const { claims: _claims, ...record } = s
      return record
    },
    async setSessionRefreshToken(id, refreshTokenCiphertext) {
      const s = sessions.get(id)
      if (s !== undefined) s.refreshTokenCiphertext = refreshTokenCiphertext
    },
    async endSessions(match, now) {
      const endedNow: Array<{ id: string; identityId: string }> = []
      for (const s of sessions.values()) {
        if (s.endedAt !== null || s.expiresAt <= now) continue
        let matches: boolean
        if ('identityId' in match) {
          matches =
            s.identityId === match.identityId && (match.idpSid === undefined || s.idpSid === match.idpSid)
        } else if (match.subject === null && match.idpSid === null) {
          matches = false
        } else {
          const identity = identities.get(s.identityId)
          matches =
            identity?.issuer === match.issuer &&
            (match.subject === null || identity.subject === match.subject) &&
            (match.idpSid === null || s.idpSid === match.idpSid)
        }
        if (!matches) continue
        s.endedAt = now
        endedNow.push({ id: s.id, identityId: s.identityId })
      }
      return endedNow
    },
    async findIdentity(issuer, subject) {
      const identity = [...identities.values()].find((i) => i.issuer === issuer && i.subject === subject)
      return identity === undefined ? null : { ...identity }
    },
    async setIdentitySuspended(id, suspended, now) {
      const identity = identities.get(id)
      if (identity === undefined) return null
      identity.suspendedAt = suspended ? now : null
      return { ...identity }
    },

    async setScimToken(idpId, tokenHash) {
      for (const [hash, idp] of scimTokens) if (idp === idpId) scimTokens.delete(hash)
      scimTokens.set(tokenHash, idpId)
    },
    async findScimTokenIdp(tokenHash) {
      return scimTokens.get(tokenHash) ?? null
    },
    createScimUser: () => notInMemoryStore('createScimUser'),
    async getScimUser(idpId, id) {
      const user = scimUsers.get(id)
      return user === undefined || user.idpId !== idpId ? null : { ...user }
    },
    listScimUsers: () => notInMemoryStore('listScimUsers'),
    replaceScimUser: () => notInMemoryStore('replaceScimUser'),
    deleteScimUser: () => notInMemoryStore('deleteScimUser'),
    async linkScimUser(identity, verifiedEmail) {
      const users = [...scimUsers.values()].filter((u) => u.idpId === identity.idpId)
      const linked = users.find((u) => u.identityId === identity.id)
      if (linked !== undefined) return { ...linked }
      const found = users.find(
        (u) =>
          u.identityId === null &&
          (u.externalId === identity.subject || (verifiedEmail !== null && u.userName === verifiedEmail)),
      )
      if (found === undefined) return null
      found.identityId = identity.id
      return { ...found }
    },
    createScimGroup: () => notInMemoryStore('createScimGroup'),
    async getScimGroup(idpId, id) {
      const group = scimGroups.get(id)
      return group === undefined || group.idpId !== idpId ? null : { ...group }
    },
    async listScimGroups(idpId, filter) {
      return [...scimGroups.values()]
        .filter((g) => g.idpId === idpId)
        .filter((g) => filter.displayName === undefined || g.displayName === filter.displayName)
        .filter((g) => filter.memberId === undefined || g.members.includes(filter.memberId))
        .map((g) => ({ ...g, members: [...g.members] }))
    },
    replaceScimGroup: () => notInMemoryStore('replaceScimGroup'),
    deleteScimGroup: () => notInMemoryStore('deleteScimGroup'),
    async setIdentityGroups(id, groups) {
      const identity = identities.get(id)
      if (identity !== undefined) identity.groups = [...groups]
    },

    async rememberLogoutToken(key, expiresAt, now) {
      const seen = logoutTokens.get(key)
      if (seen !== undefined && seen > now) return false
      logoutTokens.set(key, expiresAt)
      return true
    },

    async removeGateway(name) {
      const gateway = gateways.get(name)
      if (gateway === undefined) return null
      gateways.delete(name)
      feeds.delete(name)
      const { credentialHash: _hash, ...removed } = gateway
      return removed
    },

    async pruneAudit() {
      return notInMemoryStore('pruneAudit')
    },
    holdAudit: () => notInMemoryStore('holdAudit'),

    async createEnrollment(input) {
      enrollments.set(input.tokenHash, {
        gatewayName: input.gatewayName,
        expiresAt: input.expiresAt,
        used: false,
      })
    },
    async enrollGateway(input, now) {
      const enrollment = enrollments.get(input.tokenHash)
      if (enrollment === undefined || enrollment.used || enrollment.expiresAt <= now) {
        throw new KeygateError('ENROLLMENT_TOKEN_INVALID', 'Unknown, used or expired enrollment token')
      }
      enrollment.used = true
      const n = ++addresses
      const gateway: Gateway = {
        id: newId('gateway'),
        name: enrollment.gatewayName,
        publicKey: input.publicKey,
        addressV4: `${input.pool.ipv4.split('.').slice(0, 3).join('.')}.${n}`,
        addressV6: input.pool.ipv6 === null ? null : `${input.pool.ipv6.split('/')[0]}${n}`,
        enrolledAt: now,
        lastSeenAt: null,
        appliedVersion: null,
        peerCount: null,
        enforcement: null,
      }
      gateways.set(gateway.name, { ...gateway, credentialHash: input.credentialHash })
      writeAudit({ ...auditOf('gateway.enrolled'), gatewayId: gateway.name }, now, {})
      return { ...gateway }
    },
    async findGatewayByCredential(credentialHash) {
      const gateway = [...gateways.values()].find((g) => g.credentialHash === credentialHash)
      if (gateway === undefined) return null
      const { credentialHash: _hash, ...found } = gateway
      return found
    },
    async findGatewaysByCredentials(credentialHashes) {
      return Promise.all(credentialHashes.map((hash) => store.findGatewayByCredential(hash)))
    },
    async getGateway(name) {
      const gateway = gateways.get(name)
      if (gateway === undefined) return null
      const { credentialHash: _hash, ...found } = gateway
      return found
    },
    async listGateways() {
      return [...gateways.values()].map(({ credentialHash: _hash, ...g }) => g)
    },
    async readGatewayFeed(gatewayName, since, limit, now): Promise<GatewayFeedPage> {
      const feed = feeds.get(gatewayName) ?? []
      const version = versions.get(gatewayName) ?? 0
      if (since === 0 || since > version) {
        const changes = [...leases.values()]
          .filter((l) => !ended.has(l.id) && isLive(l, now))
          .flatMap((l) => l.grants.filter((g) => g.gateway === gatewayName).map((g) => upsertOf(l, g)))
        return { version, reset: true, changes }
      }
      const page = feed.filter((e) => e.version > since).slice(0, limit)
      return {
        version: page.length === 0 ? since : page[page.length - 1]!.version,
        reset: false,
        changes: page.map((e) => e.change),
      }
    },
    async readGatewayFeeds(requests, limit, now) {
      return Promise.all(
        requests.map(({ gateway, since, gatewayId }) =>
          gatewayId !== undefined && gateways.get(gateway)?.id !== gatewayId
            ? null
            : store.readGatewayFeed(gateway, since, limit, now),
        ),
      )
    },
    async gatewayFeedVersion(gatewayName) {
      return versions.get(gatewayName) ?? 0
    },
    async recordGatewayStatus(gatewayName, status, now) {
      gatewayStatus.set(gatewayName, {
        appliedVersion: status.appliedVersion,
        peerCount: status.peerCount,
        ...(status.enforcement === undefined ? {} : { enforcement: status.enforcement }),
      })
      const gateway = gateways.get(gatewayName)
      if (gateway !== undefined) {
        gateway.lastSeenAt = now
        gateway.appliedVersion = status.appliedVersion
        gateway.peerCount = status.peerCount
        gateway.enforcement = status.enforcement ?? null
      }
    },

    resealSecrets: () => notInMemoryStore('resealSecrets'),
    async close() {},
  }
  return store
}

function auditOf(type: NewAuditEvent['type']): NewAuditEvent {
  return { type, identityId: null, leaseId: null, gatewayId: null, actor: null, policyHash: null, data: {} }
}
