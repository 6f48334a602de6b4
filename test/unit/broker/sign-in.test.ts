// Sign-in over in-memory ports and a fake IdP: the pending login's checks and single use, the freshness
// of auth_time, SCIM's last word, groups overage, and what a completed sign-in stores (identity, session
// with its claims, the audit event) — and that anonymous failures write nothing.
import { beforeEach, describe, expect, it } from 'vitest'
import {
  auditAuth,
  beginSignIn,
  completeSignIn,
  endSession,
  findIdentityProvider,
  LOGIN_STATE_TTL_MS,
  randomId,
  SESSION_TTL_MS,
} from '../../../src/core/broker/sign-in.ts'
import type { ScimUser } from '../../../src/core/model.ts'
import type { PendingLogin } from '../../../src/core/ports.ts'
import { createFakeBrokerDeps, type FakeBrokerDeps } from '../../support/fake-broker-deps.ts'
import {
  createFakeIdentityProvider,
  type FakeIdentityProvider,
} from '../../support/fake-identity-provider.ts'
import { refusal } from '../../support/refusal.ts'

let deps: FakeBrokerDeps
let idp: FakeIdentityProvider
let now: number

function pending(overrides: Partial<PendingLogin> = {}): PendingLogin {
  return {
    idpId: 'test',
    state: 'state-1',
    nonce: 'n',
    codeVerifier: 'v',
    maxAgeSeconds: 3600,
    stepUp: false,
    returnTo: '/portal',
    ...overrides,
  }
}

const callback = (state = 'state-1') => new URL(`https://keygate.example/auth/callback?code=c&state=${state}`)

function scimUser(fields: Partial<ScimUser>): ScimUser {
  return {
    id: 'scim-1',
    idpId: 'test',
    userName: 'alice@example.com',
    externalId: null,
    active: true,
    resource: {},
    identityId: null,
    createdAt: 0,
    updatedAt: 0,
    ...fields,
  }
}

beforeEach(() => {
  deps = createFakeBrokerDeps()
  now = deps.clock.now()
  idp = createFakeIdentityProvider('test', Math.floor(now / 1000))
  deps.idps.set('test', idp)
})

describe('beginSignIn', () => {
  it('asks the IdP with the policy’s login age and keeps where to return', async () => {
    const begun = await beginSignIn(deps, {
      idpId: 'test',
      redirectUri: 'https://k/cb',
      returnTo: '/leases',
      stepUp: false,
    })
    expect(idp.calls.startLogin).toEqual([
      { redirectUri: 'https://k/cb', maxAgeSeconds: 12 * 3600, stepUp: false },
    ])
    expect(begun.url).toBe('https://idp.example/authorize?state=state-1')
    expect(begun.pending.returnTo).toBe('/leases')
    expect(begun.expiresAt).toBe(now + LOGIN_STATE_TTL_MS)
    expect(LOGIN_STATE_TTL_MS).toBe(600_000)
    expect(deps.store.audit).toEqual([])
  })

  it('a step-up demand’s tighter age overrides the policy’s', async () => {
    await beginSignIn(deps, {
      idpId: 'test',
      redirectUri: 'r',
      returnTo: '/',
      stepUp: true,
      maxAgeSeconds: 60,
    })
    expect(idp.calls.startLogin[0]).toEqual({ redirectUri: 'r', maxAgeSeconds: 60, stepUp: true })
  })

  it('an unknown IdP is UNKNOWN_IDP naming those configured', async () => {
    const error = await refusal(
      beginSignIn(deps, { idpId: 'nope', redirectUri: 'r', returnTo: '/', stepUp: false }),
    )
    expect(error.code).toBe('UNKNOWN_IDP')
    expect(error.message).toBe('No identity provider "nope" is configured')
    expect(error.details).toEqual({ known: ['test'] })
    expect(() => findIdentityProvider(deps, 'test')).not.toThrow()
  })
})

describe('completeSignIn', () => {
  it('stores the identity, a session carrying its facts, and login.succeeded', async () => {
    idp.login.refreshToken = 'rt-1'
    const done = await completeSignIn(deps, { idpId: 'test', callbackUrl: callback(), pending: pending() })
    expect(done.identity).toMatchObject({
      idpId: 'test',
      issuer: 'https://idp.example',
      subject: 'sub-alice',
      email: 'alice@example.com',
      emailVerified: true,
      groups: ['engineering'],
      lastLoginAt: now,
    })
    expect(done.auth).toEqual(idp.login.auth)
    expect(done.sessionExpiresAt).toBe(now + SESSION_TTL_MS)
    expect(SESSION_TTL_MS).toBe(12 * 3_600_000)
    expect(done.returnTo).toBe('/portal')
    expect(done.sessionId).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(deps.store.sessions.get(done.sessionId)).toEqual({
      id: done.sessionId,
      identityId: done.identity.id,
      expiresAt: now + SESSION_TTL_MS,
      endedAt: null,
      idpSid: 'idp-sid-1',
      refreshTokenCiphertext: 'sealed:rt-1',
      claims: {
        identityId: done.identity.id,
        idpId: 'test',
        issuer: 'https://idp.example',
        subject: 'sub-alice',
        email: 'alice@example.com',
        groups: ['engineering'],
        auth: idp.login.auth,
      },
    })
    expect(await deps.store.isLoginStateUsed('state-1', now)).toBe(true)
    expect(deps.store.audit).toEqual([
      {
        id: expect.any(String),
        at: now,
        type: 'login.succeeded',
        identityId: done.identity.id,
        leaseId: null,
        gatewayId: null,
        actor: 'alice@example.com',
        policyHash: deps.policy().hash,
        data: { idp: 'test', ...auditAuth(idp.login.auth) },
      },
    ])
    expect(deps.logs).toEqual([
      {
        level: 'info',
        event: 'login.succeeded',
        fields: { idp: 'test', identityId: done.identity.id, verdict: 'mfa' },
      },
    ])
  })

  it('an unverified email is stored but never put in the session’s claims; no sid or refresh token, none kept', async () => {
    idp.login = { ...idp.login, emailVerified: false, sid: undefined, refreshToken: undefined }
    const done = await completeSignIn(deps, { idpId: 'test', callbackUrl: callback(), pending: pending() })
    const session = deps.store.sessions.get(done.sessionId)!
    expect(session.claims.email).toBeNull()
    expect(session.idpSid).toBeNull()
    expect(session.refreshTokenCiphertext).toBeNull()
    expect(deps.store.identities.get(done.identity.id)?.email).toBe('alice@example.com')
  })

  it('anonymous failures (no pending login, another IdP’s, a wrong state, a used state) write nothing', async () => {
    await completeSignIn(deps, { idpId: 'test', callbackUrl: callback(), pending: pending() })
    deps.store.audit.length = 0
    deps.logs.length = 0
    const cases: Array<[PendingLogin | null, URL, string]> = [
      [null, callback(), 'No sign-in is in progress in this browser for this IdP; start again'],
      [
        pending({ idpId: 'other' }),
        callback(),
        'No sign-in is in progress in this browser for this IdP; start again',
      ],
      [
        pending({ state: 'state-2' }),
        callback('state-9'),
        'The state returned by the IdP does not match this browser’s sign-in',
      ],
      [pending(), callback(), 'This sign-in response was already used or has expired; start again'],
    ]
    for (const [p, url, message] of cases) {
      const error = await refusal(completeSignIn(deps, { idpId: 'test', callbackUrl: url, pending: p }))
      expect(error.code).toBe('LOGIN_STATE_INVALID')
      expect(error.message).toBe(message)
    }
    expect(idp.calls.completeLogin).toBe(1)
    expect(deps.store.audit).toEqual([])
    expect(deps.logs).toEqual(
      cases.map(() => ({
        level: 'warn',
        event: 'login.failed',
        fields: { idp: 'test', code: 'LOGIN_STATE_INVALID' },
      })),
    )
  })

  it('a state marked used by a concurrent callback after the IdP answered is refused too', async () => {
    deps.store.markLoginStateUsed = async () => false
    const error = await refusal(
      completeSignIn(deps, { idpId: 'test', callbackUrl: callback(), pending: pending() }),
    )
    expect(error.message).toBe('This sign-in response was already used or has expired; start again')
    expect(deps.store.sessions.size).toBe(0)
  })

  it('an IdP failure is logged with its code, or INTERNAL for anything else', async () => {
    idp.completeLogin = async () => {
      throw new Error('boom')
    }
    await expect(
      completeSignIn(deps, { idpId: 'test', callbackUrl: callback(), pending: pending() }),
    ).rejects.toThrow('boom')
    expect(deps.logs).toEqual([
      { level: 'warn', event: 'login.failed', fields: { idp: 'test', code: 'INTERNAL' } },
    ])
    expect(deps.store.audit).toEqual([])
  })

  it('a sign-in older than the pending login’s max age: AUTH_TOO_OLD, audited as login.failed', async () => {
    idp.login.auth.authTime = Math.floor(now / 1000) - 3631
    const error = await refusal(
      completeSignIn(deps, { idpId: 'test', callbackUrl: callback(), pending: pending() }),
    )
    expect(error.code).toBe('AUTH_TOO_OLD')
    expect(error.reasons?.map((r) => r.code)).toEqual(['AUTH_TOO_OLD'])
    expect(deps.store.sessions.size).toBe(0)
    expect(deps.store.audit).toEqual([
      {
        id: expect.any(String),
        at: now,
        type: 'login.failed',
        identityId: null,
        leaseId: null,
        gatewayId: null,
        actor: null,
        policyHash: deps.policy().hash,
        data: {
          idp: 'test',
          issuer: 'https://idp.example',
          subject: 'sub-alice',
          code: 'AUTH_TOO_OLD',
          message: error.message,
        },
      },
    ])
    expect(deps.logs.at(-1)).toEqual({
      level: 'warn',
      event: 'login.failed',
      fields: { idp: 'test', code: 'AUTH_TOO_OLD' },
    })

    idp.login.auth.authTime = null
    const missing = await refusal(
      completeSignIn(deps, {
        idpId: 'test',
        callbackUrl: callback('state-2'),
        pending: pending({ state: 'state-2' }),
      }),
    )
    expect(missing.code).toBe('AUTH_TIME_MISSING')
  })

  it('a failure of the store after the IdP vouched is audited as INTERNAL', async () => {
    deps.store.upsertIdentity = async () => {
      throw new Error('disk full')
    }
    await expect(
      completeSignIn(deps, { idpId: 'test', callbackUrl: callback(), pending: pending() }),
    ).rejects.toThrow('disk full')
    expect(deps.store.audit).toMatchObject([
      { type: 'login.failed', data: { code: 'INTERNAL', message: 'disk full' } },
    ])
    expect(deps.logs.at(-1)).toEqual({
      level: 'warn',
      event: 'login.failed',
      fields: { idp: 'test', code: 'INTERNAL' },
    })
  })

  it('a suspended identity, or a SCIM user deactivated, is refused with the reason', async () => {
    const first = await completeSignIn(deps, { idpId: 'test', callbackUrl: callback(), pending: pending() })
    deps.store.identities.get(first.identity.id)!.suspendedAt = now
    const suspended = await refusal(
      completeSignIn(deps, { idpId: 'test', callbackUrl: callback('s2'), pending: pending({ state: 's2' }) }),
    )
    expect(suspended.code).toBe('IDENTITY_SUSPENDED')
    expect(suspended.message).toBe('This account may not sign in to Keygate')
    expect(suspended.reasons).toEqual([
      { code: 'IDENTITY_SUSPENDED', message: 'an administrator suspended this identity' },
    ])
    expect(deps.store.audit.at(-1)?.data.code).toBe('IDENTITY_SUSPENDED')

    deps.store.identities.get(first.identity.id)!.suspendedAt = null
    deps.store.scimUsers.set('scim-1', scimUser({ userName: 'alice@example.com', active: false }))
    const deprovisioned = await refusal(
      completeSignIn(deps, { idpId: 'test', callbackUrl: callback('s3'), pending: pending({ state: 's3' }) }),
    )
    expect(deprovisioned.reasons?.[0]?.code).toBe('IDENTITY_DEPROVISIONED')
    expect(deps.store.scimUsers.get('scim-1')?.identityId).toBe(first.identity.id)
  })

  it('SCIM links by userName only when the email is verified', async () => {
    deps.store.scimUsers.set('scim-1', scimUser({ userName: 'alice@example.com', active: false }))
    idp.login.emailVerified = false
    await completeSignIn(deps, { idpId: 'test', callbackUrl: callback(), pending: pending() })
    expect(deps.store.scimUsers.get('scim-1')?.identityId).toBeNull()
  })

  it('a group overage without SCIM, or a malformed groups claim: GROUPS_INCOMPLETE, no session', async () => {
    idp.login = { ...idp.login, groupsComplete: false, groupsIncomplete: 'overage' }
    const overage = await refusal(
      completeSignIn(deps, { idpId: 'test', callbackUrl: callback(), pending: pending() }),
    )
    expect(overage.code).toBe('GROUPS_INCOMPLETE')
    expect(overage.message).toMatch(/^The IdP sent only part of this user’s groups \(a group overage\)/)
    expect(overage.reasons).toEqual([
      { code: 'GROUPS_INCOMPLETE', message: 'the ID token signalled more groups than it carried' },
    ])

    deps.store.scimUsers.set('scim-1', scimUser({ externalId: 'sub-alice' }))
    idp.login = { ...idp.login, groupsIncomplete: 'malformed' }
    const malformed = await refusal(
      completeSignIn(deps, { idpId: 'test', callbackUrl: callback('s2'), pending: pending({ state: 's2' }) }),
    )
    expect(malformed.message).toMatch(/^The IdP sent a groups claim that is not a list of group names/)
    expect(malformed.reasons?.[0]?.message).toBe(
      'the ID token’s groups claim is neither a string nor an array of strings',
    )
    expect(deps.store.sessions.size).toBe(0)
  })

  it('a group overage with a SCIM user: SCIM’s groups stand in for the token’s, and the event says so', async () => {
    deps.store.scimUsers.set('scim-1', scimUser({ externalId: 'sub-alice' }))
    deps.store.scimGroups.set('g1', {
      id: 'g1',
      idpId: 'test',
      displayName: 'ops',
      externalId: 'ops-id',
      members: ['scim-1'],
      createdAt: 0,
      updatedAt: 0,
    })
    deps.store.scimGroups.set('g2', {
      id: 'g2',
      idpId: 'test',
      displayName: 'other',
      externalId: null,
      members: [],
      createdAt: 0,
      updatedAt: 0,
    })
    idp.login = { ...idp.login, groupsComplete: false, groupsIncomplete: 'overage' }
    const done = await completeSignIn(deps, { idpId: 'test', callbackUrl: callback(), pending: pending() })
    expect(done.identity.groups).toEqual(['ops', 'ops-id'])
    expect(deps.store.identities.get(done.identity.id)?.groups).toEqual(['ops', 'ops-id'])
    expect(deps.store.sessions.get(done.sessionId)?.claims.groups).toEqual(['ops', 'ops-id'])
    expect(deps.store.audit.at(-1)?.data).toMatchObject({ groupsFrom: 'scim' })
  })

  it('endSession ends the session with a logout event', async () => {
    const done = await completeSignIn(deps, { idpId: 'test', callbackUrl: callback(), pending: pending() })
    deps.clock.advance(1000)
    await endSession(deps, done.sessionId, done.identity.id)
    expect(deps.store.sessions.get(done.sessionId)?.endedAt).toBe(now + 1000)
    expect(deps.store.audit.at(-1)).toMatchObject({
      type: 'logout',
      identityId: done.identity.id,
      at: now + 1000,
    })
  })

  it('randomId is base64url without padding, of the bytes asked for', () => {
    deps.random = { bytes: (n) => new Uint8Array(n).fill(0xfb) }
    expect(randomId(deps, 3)).toBe('-_v7')
    expect(randomId(deps, 1)).toBe('-w')
    expect(randomId(deps)).toHaveLength(22)
  })
})
