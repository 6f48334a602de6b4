// Identities, sessions, login states and the audit log on a real database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isKeygateError } from '../../../src/core/errors.ts'
import type { AuditEventType } from '../../../src/core/model.ts'
import type { NewAuditEvent, Store } from '../../../src/core/ports.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-db.ts'
import { signIn, T0 } from './fixtures.ts'

let db: TestDatabase
let store: Store

beforeAll(async () => {
  db = await createTestDatabase()
  store = db.store
})
afterAll(async () => {
  await db?.close()
})

const base = {
  idpId: 'okta',
  issuer: 'https://a.example.com',
  subject: 'sub-1',
  email: 'x@example.com',
  emailVerified: true,
  name: 'X',
  groups: ['eng'],
}

describe('identities', () => {
  it('keys people on issuer and subject, never on email', async () => {
    const first = await store.upsertIdentity(base, T0)
    const again = await store.upsertIdentity(
      { ...base, email: 'renamed@example.com', name: 'Renamed', groups: ['ops'], emailVerified: false },
      T0 + 1000,
    )
    expect(again).toMatchObject({
      id: first.id,
      email: 'renamed@example.com',
      name: 'Renamed',
      groups: ['ops'],
      emailVerified: false,
      createdAt: T0,
      lastLoginAt: T0 + 1000,
    })
    const otherIssuer = await store.upsertIdentity({ ...base, issuer: 'https://b.example.com' }, T0)
    const sameEmailOtherSubject = await store.upsertIdentity({ ...base, subject: 'sub-2' }, T0)
    expect(new Set([first.id, otherIssuer.id, sameEmailOtherSubject.id]).size).toBe(3)
    expect(await store.getIdentity(first.id)).toEqual(again)
    expect(await store.getIdentity('00000000-0000-4000-8000-000000000000')).toBeNull()
    expect(await store.getIdentity('garbage')).toBeNull()
  })

  it('upserts concurrently into one row', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.upsertIdentity({ ...base, subject: 'racy', name: `n${i}` }, T0 + i),
      ),
    )
    expect(new Set(results.map((r) => r.id)).size).toBe(1)
  })
})

describe('login states', () => {
  it('are consumed exactly once, and only before they expire', async () => {
    await store.saveLoginState('state-a', T0 + 1000)
    const results = await Promise.all(Array.from({ length: 5 }, () => store.consumeLoginState('state-a', T0)))
    expect(results.filter(Boolean)).toHaveLength(1)
    expect(await store.consumeLoginState('state-a', T0)).toBe(false)
    await store.saveLoginState('state-b', T0 + 1000)
    expect(await store.consumeLoginState('state-b', T0 + 1000)).toBe(false)
    expect(await store.consumeLoginState('never-saved', T0)).toBe(false)
  })

  it('are marked used exactly once under a race, and read as used until they expire', async () => {
    expect(await store.isLoginStateUsed('state-c', T0)).toBe(false)
    const results = await Promise.all(
      Array.from({ length: 5 }, () => store.markLoginStateUsed('state-c', T0 + 1000)),
    )
    expect(results.filter(Boolean)).toHaveLength(1)
    expect(await store.isLoginStateUsed('state-c', T0 + 999)).toBe(true)
    expect(await store.isLoginStateUsed('state-c', T0 + 1000)).toBe(false)
  })
})

describe('sessions', () => {
  it('live until they end or expire', async () => {
    const who = await signIn(store, 'sam')
    const claims = {
      identityId: who.id,
      idpId: 'test',
      issuer: who.issuer,
      subject: who.subject,
      email: who.email,
      // Claims stay server-side: a long group list is no problem here (the cookie holds the id only).
      groups: Array.from({ length: 300 }, (_, i) => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`),
      auth: { verdict: 'mfa' as const, amr: ['pwd', 'otp'], acr: null, acrs: [], authTime: 1, stepUp: null },
    }
    await store.createSession({ id: 'session-1', identityId: who.id, expiresAt: T0 + 1000, claims }, T0)
    expect(await store.isSessionLive('session-1', T0 + 1)).toBe(true)
    expect(await store.readSession('session-1', T0 + 1)).toEqual({
      ...claims,
      id: 'session-1',
      expiresAt: T0 + 1000,
    })
    await store.updateSessionAuth('session-1', { ...claims.auth, stepUp: 'totp' })
    expect((await store.readSession('session-1', T0 + 1))?.auth.stepUp).toBe('totp')
    expect(await store.readSession('session-1', T0 + 1000)).toBeNull()
    expect(await store.isSessionLive('session-1', T0 + 1000)).toBe(false)
    await store.endSession('session-1', T0 + 2)
    expect(await store.isSessionLive('session-1', T0 + 3)).toBe(false)
    expect(await store.readSession('session-1', T0 + 3)).toBeNull()
    expect(await store.isSessionLive('unknown', T0)).toBe(false)
  })
})

describe('audit log', () => {
  const event = (type: AuditEventType, identityId: string | null): NewAuditEvent => ({
    type,
    identityId,
    leaseId: null,
    gatewayId: null,
    actor: 'tester',
    policyHash: null,
    data: { n: 1, nested: { ok: true } },
  })

  it('lists newest first with filters and a cursor that pages through ties', async () => {
    const who = await signIn(store, 'audrey')
    // 25 events, several per millisecond, so the cursor must order ties by id.
    for (let i = 0; i < 25; i++) {
      await store.appendAudit(
        event(i % 5 === 0 ? 'login.failed' : 'login.succeeded', who.id),
        T0 + Math.floor(i / 3),
      )
    }
    const all = await store.listAudit({ identityId: who.id, limit: 100 })
    expect(all).toHaveLength(25)
    expect(all[0]).toMatchObject({
      actor: 'tester',
      data: { n: 1, nested: { ok: true } },
      identityId: who.id,
    })
    const times = all.map((e) => e.at)
    expect([...times].sort((a, b) => b - a)).toEqual(times)

    const paged = []
    let before: string | undefined
    for (;;) {
      const page = await store.listAudit({ identityId: who.id, limit: 4, ...(before ? { before } : {}) })
      paged.push(...page)
      if (page.length < 4) break
      before = page.at(-1)!.id
    }
    expect(paged.map((e) => e.id)).toEqual(all.map((e) => e.id))

    expect(await store.listAudit({ identityId: who.id, type: 'login.failed', limit: 100 })).toHaveLength(5)
    const older = await store.listAudit({ identityId: who.id, before: String(T0 + 2), limit: 100 })
    expect(older.every((e) => e.at < T0 + 2)).toBe(true)
    expect(older).toHaveLength(6)
    const error = await store.listAudit({ before: 'nonsense', limit: 1 }).catch((e: unknown) => e)
    expect(isKeygateError(error, 'INVALID_REQUEST')).toBe(true)
  })

  it('filters by a type prefix (its LIKE wildcards taken literally) and by email, about or by that person', async () => {
    const erin = await signIn(store, 'Erin.Audit')
    const other = await signIn(store, 'frank-audit')
    await store.appendAudit(event('lease.issued', erin.id), T0)
    await store.appendAudit(event('lease.revoked', erin.id), T0 + 1)
    // A type outside today's registry (as an older release's rows may hold): the prefix must not match it.
    await store.appendAudit(event('leasex.other' as AuditEventType, erin.id), T0 + 2)
    await store.appendAudit(event('login.succeeded', erin.id), T0 + 3)
    await store.appendAudit({ ...event('lease.revoked', other.id), actor: 'erin.audit@example.com' }, T0 + 4)
    await store.appendAudit(event('lease.revoked', other.id), T0 + 5)

    const types = (events: Array<{ type: string }>) => events.map((e) => e.type)
    const mine = { email: 'ERIN.AUDIT@example.com', limit: 100 }
    expect(types(await store.listAudit(mine))).toEqual([
      'lease.revoked',
      'login.succeeded',
      'leasex.other',
      'lease.revoked',
      'lease.issued',
    ])
    expect(types(await store.listAudit({ ...mine, typePrefix: 'lease.' }))).toEqual([
      'lease.revoked',
      'lease.revoked',
      'lease.issued',
    ])
    expect(await store.listAudit({ ...mine, typePrefix: 'lease_' })).toEqual([])
    expect(await store.listAudit({ ...mine, typePrefix: '%' })).toEqual([])
    expect(await store.listAudit({ email: 'nobody@example.com', limit: 10 })).toEqual([])
  })
})
