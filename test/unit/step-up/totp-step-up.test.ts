// TOTP step-up use cases (totp-step-up.ts) over in-memory fakes: what an enrolment stores and shows, how
// long it stays open, what confirming and verifying accept, store and audit, and each refusal.
import { describe, expect, it } from 'vitest'
import {
  beginTotpEnrolment,
  confirmTotpEnrolment,
  type FactorStore,
  hashCode,
  issueEnrolmentCode,
  pendingTotpEnrolment,
  type StepUpSession,
  TOTP_ENROLMENT_TTL_MS,
  totpStepAt,
  verifyTotp,
} from '../../../src/core/step-up/index.ts'
import { refusal } from '../../support/refusal.ts'
import { createFakeDeps, type FakeDeps, sessionOf } from './fakes.ts'

const BOB = '00000000-0000-4000-8000-0000000000b0'

/** A six-digit code that matches none of the secrets' steps around now. */
function wrongCode(deps: FakeDeps, ...secrets: string[]): string {
  const right = new Set(
    secrets.flatMap((secret) => [-30_000, 0, 30_000].map((d) => deps.totp.codeAt(secret, deps.now.ms + d))),
  )
  return ['000000', '111111', '222222', '333333', '444444', '555555', '666666'].find((c) => !right.has(c))!
}

async function enrolled(deps: FakeDeps, session: StepUpSession = sessionOf(deps)) {
  const enrolment = await beginTotpEnrolment(deps, session)
  await confirmTotpEnrolment(
    deps,
    session,
    enrolment.factorId,
    deps.totp.codeAt(enrolment.secret, deps.now.ms),
  )
  deps.audit.length = 0
  deps.auditAt.length = 0
  return enrolment
}

async function issueCode(deps: FakeDeps, identityId = BOB): Promise<string> {
  const store = { ...deps.store, getIdentity: async (id: string) => ({ id }) as never }
  const { code } = await issueEnrolmentCode({ ...deps, store }, 'root', identityId)
  return code
}

describe('beginTotpEnrolment', () => {
  it('stores an unconfirmed factor with the secret sealed, and shows the secret and its URI once', async () => {
    const deps = createFakeDeps({ issuerName: 'Acme VPN' })
    const session = sessionOf(deps)
    const enrolment = await beginTotpEnrolment(deps, session)
    expect(enrolment).toEqual({
      factorId: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      secret: 'S1',
      uri: 'otpauth://totp/Acme VPN:user@example.com?secret=S1',
    })
    expect(await deps.factors.getTotpFactor(enrolment.factorId)).toEqual({
      id: enrolment.factorId,
      identityId: 'identity-1',
      label: 'Authenticator app',
      secretCiphertext: 'sealed:S1',
      anchored: true,
      confirmedAt: null,
      lastUsedStep: null,
      createdAt: deps.now.ms,
    })
    expect(deps.audit).toEqual([])
  })

  it('names the account by subject when the session has no email; a password-only enrolment is not anchored', async () => {
    const deps = createFakeDeps({ firstFactor: 'password' })
    const session = { ...sessionOf(deps, { verdict: 'single' }), email: null }
    const enrolment = await beginTotpEnrolment(deps, session)
    expect(enrolment.uri).toBe('otpauth://totp/Keygate:sub-1?secret=S1')
    expect((await deps.factors.getTotpFactor(enrolment.factorId))?.anchored).toBe(false)
  })

  it('an enrolment made after a step-up with an anchored factor is anchored too', async () => {
    const deps = createFakeDeps({ firstFactor: 'password' })
    const session = sessionOf(deps, { verdict: 'single', stepUp: 'webauthn:hwk@idp-mfa' })
    const enrolment = await beginTotpEnrolment(deps, session)
    expect((await deps.factors.getTotpFactor(enrolment.factorId))?.anchored).toBe(true)
  })

  it('refuses, audited, when the session may not enrol, and stores nothing', async () => {
    const deps = createFakeDeps()
    const session = sessionOf(deps, { verdict: 'single' })
    expect((await refusal(beginTotpEnrolment(deps, session))).code).toBe('ENROLMENT_CODE_REQUIRED')
    expect(await deps.factors.listTotpFactors('identity-1')).toEqual([])
    expect(deps.audit.map((e) => [e.type, e.data])).toEqual([
      ['step_up.enrol_refused', { method: 'totp', code: 'ENROLMENT_CODE_REQUIRED' }],
    ])
  })

  it('a reload continues the newest unfinished enrolment while it is open (10 minutes, to the millisecond)', async () => {
    const deps = createFakeDeps()
    const older = await beginTotpEnrolment(deps, sessionOf(deps))
    deps.now.ms += 1000
    // A second one (a concurrent first click) made a moment later: the newest is the one continued.
    await deps.factors.createTotpFactor(
      { id: 'newer', identityId: 'identity-1', label: 'x', secretCiphertext: 'sealed:S7', anchored: true },
      deps.now.ms,
    )
    deps.now.ms += TOTP_ENROLMENT_TTL_MS
    expect(TOTP_ENROLMENT_TTL_MS).toBe(10 * 60_000)
    // (A session signed in a minute ago, as the enrolment needs a fresh sign-in.)
    const again = await beginTotpEnrolment(deps, sessionOf(deps))
    expect(again).toEqual({
      factorId: 'newer',
      secret: 'S7',
      uri: 'otpauth://totp/Keygate:user@example.com?secret=S7',
    })
    // The older one is past its 10 minutes, but is removed only when a new enrolment is made.
    expect((await deps.factors.listTotpFactors('identity-1')).map((f) => f.id)).toEqual([
      older.factorId,
      'newer',
    ])
    // A millisecond later both are abandoned: a new secret, and the abandoned ones go.
    deps.now.ms += 1
    const fresh = await beginTotpEnrolment(deps, sessionOf(deps))
    expect(fresh.secret).toBe('S2')
    expect((await deps.factors.listTotpFactors('identity-1')).map((f) => f.id)).toEqual([fresh.factorId])
  })

  it('of two open enrolments, a reload continues the newer, whichever the store lists first', async () => {
    const deps = createFakeDeps()
    for (const [id, ago] of [
      ['middle', 2000],
      ['newest', 1000],
      ['oldest', 3000],
    ] as const) {
      await deps.factors.createTotpFactor(
        { id, identityId: 'identity-1', label: 'x', secretCiphertext: `sealed:${id}`, anchored: true },
        deps.now.ms - ago,
      )
    }
    expect((await beginTotpEnrolment(deps, sessionOf(deps))).factorId).toBe('newest')
  })

  it('a new enrolment removes only abandoned enrolments: not confirmed factors, not another identity’s', async () => {
    const deps = createFakeDeps()
    const { factorId: confirmed } = await enrolled(deps)
    const other = sessionOf(deps, { identityId: 'identity-2' })
    const theirs = await beginTotpEnrolment(deps, other)
    deps.now.ms += 11 * 60_000
    const session = sessionOf(deps, { stepUp: 'totp' })
    const mine = await beginTotpEnrolment(deps, session)
    expect((await deps.factors.listTotpFactors('identity-1')).map((f) => f.id)).toEqual([
      confirmed,
      mine.factorId,
    ])
    expect((await deps.factors.listTotpFactors('identity-2')).map((f) => f.id)).toEqual([theirs.factorId])
  })
})

describe('pendingTotpEnrolment', () => {
  it('shows an open enrolment of this identity again, and nothing for anything else', async () => {
    const deps = createFakeDeps()
    const session = sessionOf(deps)
    const enrolment = await beginTotpEnrolment(deps, session)
    expect(await pendingTotpEnrolment(deps, session, enrolment.factorId)).toEqual(enrolment)
    expect(
      await pendingTotpEnrolment(deps, sessionOf(deps, { identityId: 'identity-2' }), enrolment.factorId),
    ).toBe(null)
    expect(await pendingTotpEnrolment(deps, session, 'no-such-factor')).toBeNull()
    deps.now.ms += TOTP_ENROLMENT_TTL_MS
    expect(await pendingTotpEnrolment(deps, session, enrolment.factorId)).toEqual(enrolment)
    deps.now.ms += 1
    expect(await pendingTotpEnrolment(deps, session, enrolment.factorId)).toBeNull()
  })

  it('a confirmed factor is not pending', async () => {
    const deps = createFakeDeps()
    const { factorId } = await enrolled(deps)
    expect(await pendingTotpEnrolment(deps, sessionOf(deps), factorId)).toBeNull()
  })
})

describe('confirmTotpEnrolment', () => {
  it('the first right code confirms the factor, records its step, audits the enrolment and steps the session up', async () => {
    const deps = createFakeDeps()
    const session = sessionOf(deps)
    const enrolment = await beginTotpEnrolment(deps, session)
    deps.now.ms += 45_000
    const auth = await confirmTotpEnrolment(
      deps,
      session,
      enrolment.factorId,
      deps.totp.codeAt(enrolment.secret, deps.now.ms).replace(/^(...)/, '$1 '),
    )
    expect(auth).toEqual({ ...session.auth, stepUp: 'totp@idp-mfa' })
    expect(await deps.factors.getTotpFactor(enrolment.factorId)).toMatchObject({
      confirmedAt: deps.now.ms,
      lastUsedStep: totpStepAt(deps.now.ms),
    })
    expect(deps.audit.map((e) => [e.type, e.data])).toEqual([
      [
        'step_up.enrolled',
        { method: 'totp', factorId: enrolment.factorId, anchored: true, authTime: session.auth.authTime },
      ],
      ['step_up.succeeded', { method: 'totp', amr: 'otp', anchored: true, factorId: enrolment.factorId }],
    ])
    // The attempt it took is released: a success is not a failure.
    expect(deps.factors.attempts.size).toBe(0)
  })

  it('an unknown, foreign, expired or finished enrolment is NOT_FOUND, before any attempt is taken', async () => {
    const deps = createFakeDeps()
    const session = sessionOf(deps)
    const enrolment = await beginTotpEnrolment(deps, session)
    const code = () => deps.totp.codeAt(enrolment.secret, deps.now.ms)
    const notFound = async (s: StepUpSession, id: string) => {
      const error = await refusal(confirmTotpEnrolment(deps, s, id, code()))
      return [error.code, error.message]
    }
    const expected = ['NOT_FOUND', 'This enrolment has expired or was finished already; start again.']
    expect(await notFound(session, 'nope')).toEqual(expected)
    expect(await notFound(sessionOf(deps, { identityId: 'identity-2' }), enrolment.factorId)).toEqual(
      expected,
    )
    deps.now.ms += TOTP_ENROLMENT_TTL_MS + 1
    expect(await notFound(sessionOf(deps), enrolment.factorId)).toEqual(expected)
    expect([deps.factors.attempts.size, deps.totp.checks]).toEqual([0, 0])

    const done = await enrolled(deps)
    deps.now.ms += 30_000
    expect(await notFound(sessionOf(deps), done.factorId)).toEqual(expected)
  })

  it('checks the enrolment rule again: a sign-in that aged meanwhile is refused and nothing is confirmed', async () => {
    const deps = createFakeDeps()
    const session = sessionOf(deps)
    const enrolment = await beginTotpEnrolment(deps, session)
    deps.now.ms += 10 * 60_000
    const error = await refusal(
      confirmTotpEnrolment(
        deps,
        session,
        enrolment.factorId,
        deps.totp.codeAt(enrolment.secret, deps.now.ms),
      ),
    )
    expect(error.code).toBe('AUTH_TOO_OLD')
    expect(deps.audit.map((e) => [e.type, e.data])).toEqual([
      ['step_up.enrol_refused', { method: 'totp', code: 'AUTH_TOO_OLD' }],
    ])
    expect((await deps.factors.getTotpFactor(enrolment.factorId))?.confirmedAt).toBeNull()
    expect(deps.totp.checks).toBe(0)
  })

  it.each([
    ['malformed', '12345', 'Enter the 6-digit code your authenticator app shows.'],
    ['malformed', 123456, 'Enter the 6-digit code your authenticator app shows.'],
    ['wrong', null, 'That code is not right. Check the app and try the current code.'],
  ] as const)(
    'a %s code (%s) is refused, audited, counted, and leaves the factor unconfirmed',
    async (why, given, message) => {
      const deps = createFakeDeps()
      const session = sessionOf(deps)
      const enrolment = await beginTotpEnrolment(deps, session)
      const code = given ?? wrongCode(deps, enrolment.secret)
      const error = await refusal(confirmTotpEnrolment(deps, session, enrolment.factorId, code))
      expect([error.code, error.message]).toEqual(['FACTOR_INVALID', message])
      expect(deps.audit.map((e) => [e.type, e.data])).toEqual([['step_up.failed', { method: 'totp', why }]])
      expect(deps.factors.attempts.size).toBe(1)
      expect(await deps.factors.getTotpFactor(enrolment.factorId)).toMatchObject({
        confirmedAt: null,
        lastUsedStep: null,
      })
    },
  )

  it('after five failures it refuses without checking the code, even the right one', async () => {
    const deps = createFakeDeps()
    const session = sessionOf(deps)
    const enrolment = await beginTotpEnrolment(deps, session)
    for (let i = 0; i < 5; i++)
      await refusal(
        confirmTotpEnrolment(deps, session, enrolment.factorId, wrongCode(deps, enrolment.secret)),
      )
    const checks = deps.totp.checks
    const error = await refusal(
      confirmTotpEnrolment(
        deps,
        session,
        enrolment.factorId,
        deps.totp.codeAt(enrolment.secret, deps.now.ms),
      ),
    )
    expect(error.code).toBe('RATE_LIMITED')
    expect(deps.totp.checks).toBe(checks)
    expect(deps.audit.at(-1)).toMatchObject({ type: 'step_up.rate_limited', data: { method: 'totp' } })
    expect((await deps.factors.getTotpFactor(enrolment.factorId))?.confirmedAt).toBeNull()
  })

  it('consumes the enrolment code only with the right code', async () => {
    const deps = createFakeDeps()
    const code = await issueCode(deps)
    const bob = sessionOf(deps, { verdict: 'single', identityId: BOB })
    const enrolment = await beginTotpEnrolment(deps, bob, code)
    await refusal(confirmTotpEnrolment(deps, bob, enrolment.factorId, 'abcdef', code))
    await refusal(
      confirmTotpEnrolment(deps, bob, enrolment.factorId, wrongCode(deps, enrolment.secret), code),
    )
    expect(await deps.factors.hasEnrolmentCode(BOB, hashCode(code), deps.now.ms)).toBe(true)
    const auth = await confirmTotpEnrolment(
      deps,
      bob,
      enrolment.factorId,
      deps.totp.codeAt(enrolment.secret, deps.now.ms),
      code,
    )
    expect(auth.stepUp).toBe('totp')
    expect(await deps.factors.hasEnrolmentCode(BOB, hashCode(code), deps.now.ms)).toBe(false)
    expect(deps.audit.map((e) => e.type).slice(-3)).toEqual([
      'step_up.enrolment_code_used',
      'step_up.enrolled',
      'step_up.succeeded',
    ])
    expect(deps.audit.at(-3)?.data).toEqual({ method: 'totp' })
  })

  it('a code consumed by a concurrent enrolment leaves this factor unconfirmed', async () => {
    const deps = createFakeDeps()
    const code = await issueCode(deps)
    const bob = sessionOf(deps, { verdict: 'single', identityId: BOB })
    const enrolment = await beginTotpEnrolment(deps, bob, code)
    // The other enrolment wins the code while this one's attempt is being reserved.
    const reserve = deps.factors.reserveAttempt.bind(deps.factors)
    deps.factors.reserveAttempt = async (...args) => {
      await deps.factors.consumeEnrolmentCode(BOB, hashCode(code), deps.now.ms)
      return reserve(...args)
    }
    const error = await refusal(
      confirmTotpEnrolment(
        deps,
        bob,
        enrolment.factorId,
        deps.totp.codeAt(enrolment.secret, deps.now.ms),
        code,
      ),
    )
    expect([error.code, error.message]).toEqual([
      'ENROLMENT_CODE_REQUIRED',
      'That enrolment code was used already. Ask your administrator for a new one.',
    ])
    expect(await deps.factors.getTotpFactor(enrolment.factorId)).toMatchObject({
      confirmedAt: null,
      lastUsedStep: null,
    })
    expect(deps.audit.map((e) => e.type)).not.toContain('step_up.enrolled')
  })

  it('when a concurrent request confirmed the factor first, the code is a replay and the enrolment code stays unused', async () => {
    const deps = createFakeDeps()
    const code = await issueCode(deps)
    const bob = sessionOf(deps, { verdict: 'single', identityId: BOB })
    const enrolment = await beginTotpEnrolment(deps, bob, code)
    const right = deps.totp.codeAt(enrolment.secret, deps.now.ms)
    // The factor as it is after the pending check: the other request accepted this very step.
    const step = totpStepAt(deps.now.ms)
    const factors: FactorStore = deps.factors
    const get = factors.getTotpFactor.bind(factors)
    let reads = 0
    deps.factors.getTotpFactor = async (id) => {
      const factor = await get(id)
      return ++reads === 1 || factor === null ? factor : { ...factor, lastUsedStep: step }
    }
    const error = await refusal(confirmTotpEnrolment(deps, bob, enrolment.factorId, right, code))
    expect([error.code, error.message]).toEqual([
      'FACTOR_INVALID',
      'That code was already used. Wait for the next code and enter it.',
    ])
    expect(await deps.factors.hasEnrolmentCode(BOB, hashCode(code), deps.now.ms)).toBe(true)
  })

  it('a factor removed while the code was checked is refused without using the enrolment code', async () => {
    const deps = createFakeDeps()
    const code = await issueCode(deps)
    const bob = sessionOf(deps, { verdict: 'single', identityId: BOB })
    const enrolment = await beginTotpEnrolment(deps, bob, code)
    const get = deps.factors.getTotpFactor.bind(deps.factors)
    let reads = 0
    deps.factors.getTotpFactor = async (id) => (++reads === 1 ? get(id) : null)
    const error = await refusal(
      confirmTotpEnrolment(
        deps,
        bob,
        enrolment.factorId,
        deps.totp.codeAt(enrolment.secret, deps.now.ms),
        code,
      ),
    )
    expect(error.code).toBe('FACTOR_INVALID')
    expect(deps.audit.at(-1)?.data).toEqual({ method: 'totp', why: 'replayed' })
    expect(await deps.factors.hasEnrolmentCode(BOB, hashCode(code), deps.now.ms)).toBe(true)
  })

  it('two confirmations of one factor at once: one wins, the other is a replay', async () => {
    const deps = createFakeDeps()
    const session = sessionOf(deps)
    const enrolment = await beginTotpEnrolment(deps, session)
    const right = deps.totp.codeAt(enrolment.secret, deps.now.ms)
    const outcomes = await Promise.allSettled([
      confirmTotpEnrolment(deps, session, enrolment.factorId, right),
      confirmTotpEnrolment(deps, session, enrolment.factorId, right),
    ])
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected'])
    expect(deps.audit.filter((e) => e.type === 'step_up.enrolled')).toHaveLength(1)
    expect(deps.audit.filter((e) => e.type === 'step_up.failed').map((e) => e.data.why)).toEqual(['replayed'])
  })
})

describe('verifyTotp', () => {
  it('a right code steps the session up, records its step, audits and releases its attempt', async () => {
    const deps = createFakeDeps()
    const { factorId, secret } = await enrolled(deps)
    deps.now.ms += 60_000
    const session = sessionOf(deps, { verdict: 'single' })
    const auth = await verifyTotp(deps, session, deps.totp.codeAt(secret, deps.now.ms))
    expect(auth).toEqual({ ...session.auth, stepUp: 'totp@idp-mfa' })
    expect((await deps.factors.getTotpFactor(factorId))?.lastUsedStep).toBe(totpStepAt(deps.now.ms))
    expect(deps.audit.map((e) => [e.type, e.data])).toEqual([
      ['step_up.succeeded', { method: 'totp', amr: 'otp', anchored: true, factorId }],
    ])
    expect(deps.factors.attempts.size).toBe(0)
  })

  it('with no confirmed app it is NOT_FOUND, and takes no attempt', async () => {
    const deps = createFakeDeps()
    await beginTotpEnrolment(deps, sessionOf(deps))
    const error = await refusal(verifyTotp(deps, sessionOf(deps), '123456'))
    expect([error.code, error.message]).toEqual(['NOT_FOUND', 'You have no authenticator app enrolled.'])
    expect(deps.factors.attempts.size).toBe(0)
  })

  it.each([
    ['malformed', 'twelve', 'Enter the 6-digit code your authenticator app shows.'],
    ['malformed', undefined, 'Enter the 6-digit code your authenticator app shows.'],
    ['wrong', null, 'That code is not right. Check the app and try the current code.'],
  ] as const)('a %s code (%s) is refused, audited, and stays counted', async (why, given, message) => {
    const deps = createFakeDeps()
    const { secret, factorId } = await enrolled(deps)
    deps.now.ms += 60_000
    const before = await deps.factors.getTotpFactor(factorId)
    const error = await refusal(
      verifyTotp(deps, sessionOf(deps), given === null ? wrongCode(deps, secret) : given),
    )
    expect([error.code, error.message]).toEqual(['FACTOR_INVALID', message])
    expect(deps.audit.map((e) => [e.type, e.data])).toEqual([['step_up.failed', { method: 'totp', why }]])
    expect(deps.factors.attempts.size).toBe(1)
    expect(await deps.factors.getTotpFactor(factorId)).toEqual(before)
  })

  it('after five failures it refuses the right code too, audited, without checking it', async () => {
    const deps = createFakeDeps()
    const { secret } = await enrolled(deps)
    deps.now.ms += 60_000
    for (let i = 0; i < 5; i++) await refusal(verifyTotp(deps, sessionOf(deps), wrongCode(deps, secret)))
    const checks = deps.totp.checks
    const error = await refusal(verifyTotp(deps, sessionOf(deps), deps.totp.codeAt(secret, deps.now.ms)))
    expect(error.code).toBe('RATE_LIMITED')
    expect(deps.totp.checks).toBe(checks)
    expect(deps.audit.at(-1)).toMatchObject({ type: 'step_up.rate_limited', data: { method: 'totp' } })
  })

  it('a code is accepted once; an older one after a newer one is a replay', async () => {
    const deps = createFakeDeps()
    const { secret } = await enrolled(deps)
    deps.now.ms += 60_000
    const session = sessionOf(deps)
    const current = deps.totp.codeAt(secret, deps.now.ms)
    const next = deps.totp.codeAt(secret, deps.now.ms + 30_000)
    await verifyTotp(deps, session, next)
    for (const code of [next, current]) {
      const error = await refusal(verifyTotp(deps, session, code))
      expect(error.message).toBe('That code was already used. Wait for the next code and enter it.')
    }
    expect(deps.factors.attempts.size).toBe(2)
  })

  it('with several apps, the code is checked against the one it matches, which is the one recorded', async () => {
    const deps = createFakeDeps({ firstFactor: 'password' })
    const first = await enrolled(deps, sessionOf(deps, { verdict: 'single' }))
    const second = await enrolled(deps, sessionOf(deps, { verdict: 'mfa', stepUp: 'totp' }))
    deps.now.ms += 60_000
    const auth = await verifyTotp(deps, sessionOf(deps), deps.totp.codeAt(second.secret, deps.now.ms))
    expect(auth.stepUp).toBe('totp@idp-mfa')
    expect(deps.audit.at(-1)?.data).toMatchObject({ factorId: second.factorId, anchored: true })
    expect((await deps.factors.getTotpFactor(second.factorId))?.lastUsedStep).toBe(totpStepAt(deps.now.ms))
    expect((await deps.factors.getTotpFactor(first.factorId))?.lastUsedStep).toBe(
      totpStepAt(deps.now.ms - 60_000),
    )
    // The first app's code steps up with the first app.
    deps.now.ms += 30_000
    const again = await verifyTotp(deps, sessionOf(deps), deps.totp.codeAt(first.secret, deps.now.ms))
    expect(again.stepUp).toBe('totp')
    expect(deps.audit.at(-1)?.data).toMatchObject({ factorId: first.factorId, anchored: false })
  })

  it('with several apps, a code that matches none is wrong; a malformed one is not checked at all', async () => {
    const deps = createFakeDeps({ firstFactor: 'password' })
    const first = await enrolled(deps, sessionOf(deps))
    const second = await enrolled(deps, sessionOf(deps, { stepUp: 'totp' }))
    deps.now.ms += 60_000
    const checks = deps.totp.checks
    expect((await refusal(verifyTotp(deps, sessionOf(deps), 'abc'))).message).toMatch(/6-digit/)
    expect(deps.totp.checks).toBe(checks)
    await refusal(verifyTotp(deps, sessionOf(deps), wrongCode(deps, first.secret, second.secret)))
    expect(deps.audit.at(-1)?.data).toEqual({ method: 'totp', why: 'wrong' })
  })

  it('with one app, the code is checked once', async () => {
    const deps = createFakeDeps()
    const { secret } = await enrolled(deps)
    deps.now.ms += 60_000
    const checks = deps.totp.checks
    await verifyTotp(deps, sessionOf(deps), deps.totp.codeAt(secret, deps.now.ms))
    expect(deps.totp.checks - checks).toBe(1)
  })

  it('another identity’s app does not count', async () => {
    const deps = createFakeDeps()
    const { secret } = await enrolled(deps)
    const error = await refusal(
      verifyTotp(deps, sessionOf(deps, { identityId: 'identity-2' }), deps.totp.codeAt(secret, deps.now.ms)),
    )
    expect(error.code).toBe('NOT_FOUND')
  })
})
