// WebAuthn step-up use cases (webauthn-step-up.ts) over in-memory fakes: what registering stores and
// proves, the options each ceremony is given, single-use challenges that expire by the clock, the attempt
// limit, counters, and each refusal.
import { describe, expect, it } from 'vitest'
import {
  hashCode,
  issueEnrolmentCode,
  type StepUpSession,
  verifyWebAuthnAuthentication,
  verifyWebAuthnRegistration,
  webauthnAmrOf,
  webauthnAuthenticationOptions,
  webauthnRegistrationOptions,
} from '../../../src/core/step-up/index.ts'
import { refusal } from '../../support/refusal.ts'
import { createFakeDeps, type FakeDeps, sessionOf } from './fakes.ts'

const BOB = '00000000-0000-4000-8000-0000000000b0'
const AAGUID = 'cb69481e-8ff7-4039-93ec-0a2729a154a8'

async function register(
  deps: FakeDeps,
  session: StepUpSession = sessionOf(deps),
  response: Record<string, unknown> = {},
  label: unknown = 'key',
) {
  await webauthnRegistrationOptions(deps, session)
  return verifyWebAuthnRegistration(
    deps,
    session,
    { id: 'key-1', challenge: deps.webauthn.lastChallenge, ...response },
    label,
  )
}

/** Registers key-1 (counter as given) for identity-1 and forgets the audit trail so far. */
async function registered(deps: FakeDeps, counter = 0) {
  await register(deps, sessionOf(deps), { counter })
  deps.audit.length = 0
}

async function authenticate(deps: FakeDeps, session: StepUpSession, response: Record<string, unknown> = {}) {
  await webauthnAuthenticationOptions(deps, session)
  return verifyWebAuthnAuthentication(deps, session, {
    id: 'key-1',
    challenge: deps.webauthn.lastChallenge,
    ...response,
  })
}

describe('webauthnAmrOf', () => {
  it('is hwk only for a trusted attestation of a listed model, whatever the case of its AAGUID', () => {
    expect(webauthnAmrOf({ aaguid: AAGUID.toUpperCase(), attestationTrusted: true }, [AAGUID])).toBe('hwk')
    expect(webauthnAmrOf({ aaguid: AAGUID, attestationTrusted: false }, [AAGUID])).toBe('swk')
    expect(webauthnAmrOf({ aaguid: AAGUID, attestationTrusted: true }, [])).toBe('swk')
  })
})

describe('webauthnRegistrationOptions', () => {
  it('names the user by identity id and email, lists the keys they have, and keeps the challenge', async () => {
    const deps = createFakeDeps()
    await registered(deps)
    const session = sessionOf(deps, { stepUp: 'webauthn' })
    const options = await webauthnRegistrationOptions(deps, session)
    expect(options).toEqual({ challenge: deps.webauthn.lastChallenge })
    expect(deps.webauthn.lastOptions).toEqual({
      user: {
        id: new TextEncoder().encode('identity-1'),
        name: 'user@example.com',
        displayName: 'user@example.com',
      },
      credentials: [expect.objectContaining({ id: 'key-1', identityId: 'identity-1' })],
    })
  })

  it('names a user without an email by subject', async () => {
    const deps = createFakeDeps()
    await webauthnRegistrationOptions(deps, { ...sessionOf(deps), email: null })
    expect(deps.webauthn.lastOptions?.user).toMatchObject({ name: 'sub-1', displayName: 'sub-1' })
  })

  it('refuses, audited as a WebAuthn enrolment, when the session may not enrol', async () => {
    const deps = createFakeDeps()
    const error = await refusal(webauthnRegistrationOptions(deps, sessionOf(deps, { verdict: 'single' })))
    expect(error.code).toBe('ENROLMENT_CODE_REQUIRED')
    expect(deps.webauthn.lastOptions).toBeNull()
    expect(deps.audit.map((e) => [e.type, e.data])).toEqual([
      ['step_up.enrol_refused', { method: 'webauthn', code: 'ENROLMENT_CODE_REQUIRED' }],
    ])
  })
})

describe('verifyWebAuthnRegistration', () => {
  it('stores the key with what it proves and who enrolled it, audits it, and steps the session up', async () => {
    const deps = createFakeDeps({ hwkAaguids: [AAGUID] })
    const session = sessionOf(deps)
    const auth = await register(
      deps,
      session,
      { counter: 7, aaguid: AAGUID, attestationTrusted: true },
      '  Desk key ',
    )
    expect(auth).toEqual({ ...session.auth, stepUp: 'webauthn:hwk@idp-mfa' })
    expect(await deps.factors.getWebAuthnCredential('key-1')).toEqual({
      id: 'key-1',
      identityId: 'identity-1',
      label: 'Desk key',
      publicKey: new Uint8Array([1]),
      counter: 7,
      transports: [],
      amr: 'hwk',
      anchored: true,
      createdAt: deps.now.ms,
      lastUsedAt: null,
    })
    expect(deps.audit.map((e) => [e.type, e.data])).toEqual([
      [
        'step_up.enrolled',
        {
          method: 'webauthn',
          factorId: 'key-1',
          aaguid: AAGUID,
          attestationTrusted: true,
          amr: 'hwk',
          anchored: true,
          authTime: session.auth.authTime,
        },
      ],
      ['step_up.succeeded', { method: 'webauthn', amr: 'hwk', anchored: true, factorId: 'key-1' }],
    ])
    // Registration takes no attempt of the limit.
    expect(deps.factors.attempts.size).toBe(0)
  })

  it.each([
    [undefined, 'Security key'],
    ['   ', 'Security key'],
    [42, 'Security key'],
    ['x'.repeat(70), 'x'.repeat(64)],
    [` ${'y'.repeat(64)} `, 'y'.repeat(64)],
  ])('a label %j is stored as %j', async (label, stored) => {
    const deps = createFakeDeps()
    await webauthnRegistrationOptions(deps, sessionOf(deps))
    const response = { id: 'key-1', challenge: deps.webauthn.lastChallenge }
    await verifyWebAuthnRegistration(deps, sessionOf(deps), response, label)
    expect((await deps.factors.getWebAuthnCredential('key-1'))?.label).toBe(stored)
  })

  it('a key enrolled in a password-only session proves swk and is not anchored', async () => {
    const deps = createFakeDeps({ firstFactor: 'password' })
    const auth = await register(deps, sessionOf(deps, { verdict: 'single' }))
    expect(auth.stepUp).toBe('webauthn')
    expect(await deps.factors.getWebAuthnCredential('key-1')).toMatchObject({ amr: 'swk', anchored: false })
  })

  it('a response that does not verify is refused and audited, and stores nothing', async () => {
    const deps = createFakeDeps()
    const error = await refusal(register(deps, sessionOf(deps), { valid: false }))
    expect([error.code, error.message]).toEqual([
      'FACTOR_INVALID',
      'The security key’s answer did not verify. Try again.',
    ])
    expect(await deps.factors.getWebAuthnCredential('key-1')).toBeNull()
    expect(deps.audit.map((e) => e.data)).toEqual([{ method: 'webauthn', why: 'registration_invalid' }])
  })

  it('the challenge is this session’s, usable once, for five minutes', async () => {
    const deps = createFakeDeps()
    const session = sessionOf(deps)
    await webauthnRegistrationOptions(deps, session)
    const challenge = deps.webauthn.lastChallenge
    const other = sessionOf(deps, { sessionId: 'session-2' })
    await refusal(verifyWebAuthnRegistration(deps, other, { id: 'key-1', challenge }, 'k'))
    // The other session's try does not spend it; five minutes less a millisecond later it still works.
    deps.now.ms += 5 * 60_000 - 1
    await verifyWebAuthnRegistration(deps, sessionOf(deps), { id: 'key-1', challenge }, 'k')
    const again = await refusal(
      verifyWebAuthnRegistration(
        deps,
        sessionOf(deps, { stepUp: 'webauthn' }),
        { id: 'key-2', challenge },
        'k',
      ),
    )
    expect(again.code).toBe('FACTOR_INVALID')

    const late = createFakeDeps()
    await webauthnRegistrationOptions(late, sessionOf(late))
    late.now.ms += 5 * 60_000
    const expired = await refusal(
      verifyWebAuthnRegistration(
        late,
        sessionOf(late),
        { id: 'key-1', challenge: late.webauthn.lastChallenge },
        'k',
      ),
    )
    expect(expired.code).toBe('FACTOR_INVALID')
  })

  it('a key registered already is refused as such', async () => {
    const deps = createFakeDeps()
    await registered(deps)
    const error = await refusal(register(deps, sessionOf(deps, { stepUp: 'webauthn' })))
    expect([error.code, error.message]).toEqual([
      'INVALID_REQUEST',
      'This security key is registered already.',
    ])
    expect(deps.audit.map((e) => e.type)).toEqual([])
  })

  it('with an enrolment code: consumed when the key is stored, kept when the response fails', async () => {
    const deps = createFakeDeps()
    const store = { ...deps.store, getIdentity: async (id: string) => ({ id }) as never }
    const { code } = await issueEnrolmentCode({ ...deps, store }, 'root', BOB)
    const bob = sessionOf(deps, { verdict: 'single', identityId: BOB })
    await webauthnRegistrationOptions(deps, bob, code)
    await refusal(
      verifyWebAuthnRegistration(
        deps,
        bob,
        { id: 'k', challenge: deps.webauthn.lastChallenge, valid: false },
        'k',
        code,
      ),
    )
    expect(await deps.factors.hasEnrolmentCode(BOB, hashCode(code), deps.now.ms)).toBe(true)
    await webauthnRegistrationOptions(deps, bob, code)
    const auth = await verifyWebAuthnRegistration(
      deps,
      bob,
      { id: 'k', challenge: deps.webauthn.lastChallenge },
      'k',
      code,
    )
    expect(auth.stepUp).toBe('webauthn')
    expect(await deps.factors.hasEnrolmentCode(BOB, hashCode(code), deps.now.ms)).toBe(false)
    expect(deps.audit.find((e) => e.type === 'step_up.enrolment_code_used')?.data).toEqual({
      method: 'webauthn',
    })
    // Without the code the registration would have been refused before the key was checked.
    await webauthnRegistrationOptions(
      deps,
      sessionOf(deps, { verdict: 'single', identityId: BOB, stepUp: 'webauthn' }),
    )
    const verifications = deps.webauthn.verifications
    const other = sessionOf(deps, { verdict: 'single', identityId: '00000000-0000-4000-8000-0000000000c0' })
    expect(
      (await refusal(verifyWebAuthnRegistration(deps, other, { id: 'z', challenge: 'x' }, 'k'))).code,
    ).toBe('ENROLMENT_CODE_REQUIRED')
    expect(deps.webauthn.verifications).toBe(verifications)
    expect(deps.audit.at(-1)).toMatchObject({
      type: 'step_up.enrol_refused',
      data: { method: 'webauthn', code: 'ENROLMENT_CODE_REQUIRED' },
    })
  })
})

describe('webauthnAuthenticationOptions', () => {
  it('lists the identity’s keys with a fresh challenge; with none it is NOT_FOUND', async () => {
    const deps = createFakeDeps()
    const none = await refusal(webauthnAuthenticationOptions(deps, sessionOf(deps)))
    expect([none.code, none.message]).toEqual([
      'NOT_FOUND',
      'You have no security key or passkey registered.',
    ])
    await registered(deps)
    const options = await webauthnAuthenticationOptions(deps, sessionOf(deps))
    expect(options).toEqual({ challenge: deps.webauthn.lastChallenge })
    expect(deps.webauthn.lastOptions?.credentials.map((c) => c.id)).toEqual(['key-1'])
    const first = deps.webauthn.lastChallenge
    await webauthnAuthenticationOptions(deps, sessionOf(deps))
    expect(deps.webauthn.lastChallenge).not.toBe(first)
    expect(deps.webauthn.lastChallenge).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })
})

describe('verifyWebAuthnAuthentication', () => {
  it('a verified assertion steps up with what the key proves, stores its counter and use, releases the attempt', async () => {
    const deps = createFakeDeps()
    await registered(deps, 3)
    deps.now.ms += 60_000
    const session = sessionOf(deps, { verdict: 'single' })
    const auth = await authenticate(deps, session, { counter: 4 })
    expect(auth).toEqual({ ...session.auth, stepUp: 'webauthn@idp-mfa' })
    expect(await deps.factors.getWebAuthnCredential('key-1')).toMatchObject({
      counter: 4,
      lastUsedAt: deps.now.ms,
    })
    expect(deps.audit.map((e) => [e.type, e.data])).toEqual([
      ['step_up.succeeded', { method: 'webauthn', amr: 'swk', anchored: true, factorId: 'key-1' }],
    ])
    expect(deps.factors.attempts.size).toBe(0)
  })

  it.each([
    ['no response', null],
    ['no id', { challenge: 'c' }],
    ['an id that is no string', { id: 7, challenge: 'c' }],
    ['an empty id', { id: '', challenge: 'c' }],
    ['an unknown id', { id: 'key-9', challenge: 'c' }],
  ])('%s is an unknown key: refused, audited, counted, never verified', async (_, response) => {
    const deps = createFakeDeps()
    await registered(deps)
    const error = await refusal(verifyWebAuthnAuthentication(deps, sessionOf(deps), response))
    expect([error.code, error.message]).toEqual([
      'FACTOR_INVALID',
      'This security key is not registered to you.',
    ])
    expect(deps.audit.map((e) => e.data)).toEqual([{ method: 'webauthn', why: 'unknown_credential' }])
    expect(deps.factors.attempts.size).toBe(1)
    expect(deps.webauthn.verifications).toBe(1)
  })

  it('another identity’s key is not yours, even with a challenge of its own', async () => {
    const deps = createFakeDeps()
    await registered(deps)
    const other = sessionOf(deps, { identityId: 'identity-2', sessionId: 'session-2' })
    await webauthnAuthenticationOptions(deps, sessionOf(deps, { sessionId: 'session-2' }))
    const error = await refusal(
      verifyWebAuthnAuthentication(deps, other, {
        id: 'key-1',
        challenge: deps.webauthn.lastChallenge,
        counter: 1,
      }),
    )
    expect(error.message).toBe('This security key is not registered to you.')
    expect(deps.webauthn.verifications).toBe(1)
    expect((await deps.factors.getWebAuthnCredential('key-1'))?.lastUsedAt).toBeNull()
  })

  it('an assertion that does not verify, or whose challenge expired, is refused and counted', async () => {
    const deps = createFakeDeps()
    await registered(deps)
    const session = sessionOf(deps)
    const invalid = await refusal(authenticate(deps, session, { valid: false, counter: 1 }))
    expect([invalid.code, invalid.message]).toEqual([
      'FACTOR_INVALID',
      'The security key’s answer did not verify. Try again.',
    ])
    await webauthnAuthenticationOptions(deps, session)
    const challenge = deps.webauthn.lastChallenge
    deps.now.ms += 5 * 60_000
    await refusal(verifyWebAuthnAuthentication(deps, session, { id: 'key-1', challenge, counter: 1 }))
    expect(deps.audit.map((e) => e.data)).toEqual([
      { method: 'webauthn', why: 'assertion_invalid' },
      { method: 'webauthn', why: 'assertion_invalid' },
    ])
    expect(deps.factors.attempts.size).toBe(2)
    expect((await deps.factors.getWebAuthnCredential('key-1'))?.counter).toBe(0)
  })

  it('a counter that does not go up is a cloned key: audited, refused, and the stored counter kept', async () => {
    const deps = createFakeDeps()
    await registered(deps, 5)
    for (const counter of [5, 4]) {
      const error = await refusal(authenticate(deps, sessionOf(deps), { counter }))
      expect(error.message).toBe(
        'This security key reported a signature counter that did not increase; it may be cloned.',
      )
    }
    expect(deps.audit.map((e) => [e.type, e.data])).toEqual(
      Array(2)
        .fill([
          ['step_up.cloned_credential', { factorId: 'key-1' }],
          ['step_up.failed', { method: 'webauthn', why: 'counter' }],
        ])
        .flat(),
    )
    expect(await deps.factors.getWebAuthnCredential('key-1')).toMatchObject({ counter: 5, lastUsedAt: null })
    expect(deps.factors.attempts.size).toBe(2)
  })

  it('after five failures it refuses without looking at the key', async () => {
    const deps = createFakeDeps()
    await registered(deps)
    const session = sessionOf(deps)
    for (let i = 0; i < 5; i++) await refusal(authenticate(deps, session, { valid: false }))
    const verifications = deps.webauthn.verifications
    const error = await refusal(authenticate(deps, session, { counter: 1 }))
    expect(error.code).toBe('RATE_LIMITED')
    expect(deps.webauthn.verifications).toBe(verifications)
    expect(deps.audit.at(-1)?.type).toBe('step_up.rate_limited')
    expect(deps.audit.at(-1)?.data).toEqual({ method: 'webauthn' })
  })
})
