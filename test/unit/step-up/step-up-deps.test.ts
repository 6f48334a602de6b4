// The steps every step-up use case shares (step-up-deps.ts): the audit event they write, the attempt
// reservation and its refusal, failing and succeeding, and the random ids factors and codes get.
import { describe, expect, it } from 'vitest'
import {
  auditStepUp,
  base64Url,
  DEFAULT_STEP_UP_SETTINGS,
  failStepUp,
  parseStepUp,
  randomStepUpId,
  reserveAttempt,
  succeedStepUp,
} from '../../../src/core/step-up/index.ts'
import { refusal } from '../../support/refusal.ts'
import { createFakeDeps, type FakeDeps, sessionOf } from './fakes.ts'

/** Records what the use case asked the factor store's reservation, then lets the store answer. */
function recordReservations(deps: FakeDeps): unknown[][] {
  const calls: unknown[][] = []
  const reserve = deps.factors.reserveAttempt.bind(deps.factors)
  deps.factors.reserveAttempt = (...args) => {
    calls.push(args)
    return reserve(...args)
  }
  return calls
}

describe('DEFAULT_STEP_UP_SETTINGS', () => {
  it('names Keygate in the app, allows 5 failures in 15 minutes, and counts no key model as hardware', () => {
    expect(DEFAULT_STEP_UP_SETTINGS).toEqual({
      issuerName: 'Keygate',
      attemptLimit: { maxFailures: 5, windowMs: 15 * 60_000 },
      firstFactor: 'idp-mfa-or-code',
      hwkAaguids: [],
    })
  })
})

describe('auditStepUp', () => {
  it('records the identity, the session’s email as actor, the live policy’s hash, the data and the time', async () => {
    const deps = createFakeDeps()
    deps.now.ms += 1234
    await auditStepUp(deps, sessionOf(deps), 'step_up.failed', { method: 'totp', why: 'wrong' })
    expect(deps.audit).toEqual([
      {
        type: 'step_up.failed',
        identityId: 'identity-1',
        leaseId: null,
        gatewayId: null,
        actor: 'user@example.com',
        policyHash: 'policy-hash',
        data: { method: 'totp', why: 'wrong' },
      },
    ])
    expect(deps.auditAt).toEqual([deps.now.ms])
  })

  it('names no actor for a session without an email', async () => {
    const deps = createFakeDeps()
    await auditStepUp(deps, { ...sessionOf(deps), email: null }, 'step_up.rate_limited', {})
    expect(deps.audit[0]?.actor).toBeNull()
  })
})

describe('reserveAttempt', () => {
  it('asks the store for one attempt inside the configured window and returns its id', async () => {
    const deps = createFakeDeps({ attemptLimit: { maxFailures: 3, windowMs: 60_000 } })
    const calls = recordReservations(deps)
    const id = await reserveAttempt(deps, sessionOf(deps), 'totp')
    expect(calls).toEqual([['identity-1', deps.now.ms, deps.now.ms - 60_000, 3]])
    expect([...deps.factors.attempts.entries()]).toEqual([
      [id, { identityId: 'identity-1', at: deps.now.ms }],
    ])
    expect(deps.audit).toEqual([])
  })

  it('refuses once the window holds the limit, saying when the oldest failure ages out', async () => {
    const deps = createFakeDeps()
    const session = sessionOf(deps)
    const start = deps.now.ms
    for (let i = 0; i < 5; i++) {
      await reserveAttempt(deps, session, 'totp')
      deps.now.ms += 60_000
    }
    // Five minutes after the first failure: it ages out ten minutes from now.
    const error = await refusal(reserveAttempt(deps, session, 'webauthn'))
    expect(error.code).toBe('RATE_LIMITED')
    expect(error.message).toBe('Too many wrong codes. Try again in 10 minutes.')
    expect(error.details).toEqual({ retryAfterSeconds: 600 })
    expect(deps.factors.attempts.size).toBe(5)
    expect(deps.audit.map((e) => [e.type, e.data])).toEqual([
      ['step_up.rate_limited', { method: 'webauthn' }],
    ])
    // A second short of the oldest failure's 15 minutes: one minute (rounded up), one second.
    deps.now.ms = start + 15 * 60_000 - 1000
    const last = await refusal(reserveAttempt(deps, session, 'totp'))
    expect(last.message).toBe('Too many wrong codes. Try again in 1 minute.')
    expect(last.details).toEqual({ retryAfterSeconds: 1 })
    // Then the window slides past it and an attempt is taken again.
    deps.now.ms = start + 15 * 60_000
    await expect(reserveAttempt(deps, session, 'totp')).resolves.toEqual(expect.any(String))
  })

  it('rounds a wait of a minute and a bit up to two minutes, and counts per identity', async () => {
    const deps = createFakeDeps({ attemptLimit: { maxFailures: 1, windowMs: 90_500 } })
    await reserveAttempt(deps, sessionOf(deps), 'totp')
    const error = await refusal(reserveAttempt(deps, sessionOf(deps), 'totp'))
    expect([error.message, error.details]).toEqual([
      'Too many wrong codes. Try again in 2 minutes.',
      { retryAfterSeconds: 91 },
    ])
    await expect(
      reserveAttempt(deps, sessionOf(deps, { identityId: 'identity-2' }), 'totp'),
    ).resolves.toEqual(expect.any(String))
  })

  it('a refusal with no failure inside the window (the store’s clock ahead of ours) asks for a second', async () => {
    const deps = createFakeDeps()
    deps.factors.reserveAttempt = async () => ({ reserved: false, failureTimes: [deps.now.ms + 5000] })
    const error = await refusal(reserveAttempt(deps, sessionOf(deps), 'totp'))
    expect([error.code, error.message, error.details]).toEqual([
      'RATE_LIMITED',
      'Too many wrong codes. Try again in 1 minute.',
      { retryAfterSeconds: 1 },
    ])
  })
})

describe('failStepUp', () => {
  it('audits and logs why, and refuses with FACTOR_INVALID in the words given', async () => {
    const deps = createFakeDeps()
    const error = await refusal(failStepUp(deps, sessionOf(deps), 'webauthn', 'counter', 'Not this key.'))
    expect([error.code, error.message]).toEqual(['FACTOR_INVALID', 'Not this key.'])
    expect(deps.audit.map((e) => [e.type, e.data])).toEqual([
      ['step_up.failed', { method: 'webauthn', why: 'counter' }],
    ])
    expect(deps.logs).toEqual([
      {
        level: 'warn',
        event: 'step_up.failed',
        fields: { identityId: 'identity-1', method: 'webauthn', why: 'counter' },
      },
    ])
  })
})

describe('succeedStepUp', () => {
  it('releases the reserved attempt, audits what the factor proved and sets only stepUp', async () => {
    const deps = createFakeDeps()
    const session = sessionOf(deps, { verdict: 'single' })
    const attemptId = await reserveAttempt(deps, session, 'webauthn')
    await reserveAttempt(deps, session, 'webauthn')
    const auth = await succeedStepUp(
      deps,
      session,
      { method: 'webauthn', amr: 'hwk', anchored: true },
      'key-1',
      attemptId,
    )
    expect(auth).toEqual({ ...session.auth, stepUp: 'webauthn:hwk@idp-mfa' })
    expect(parseStepUp(auth.stepUp)).toEqual({ method: 'webauthn', amr: 'hwk', anchored: true })
    expect([...deps.factors.attempts.keys()]).not.toContain(attemptId)
    expect(deps.factors.attempts.size).toBe(1)
    expect(deps.audit.map((e) => [e.type, e.data])).toEqual([
      ['step_up.succeeded', { method: 'webauthn', amr: 'hwk', anchored: true, factorId: 'key-1' }],
    ])
    expect(deps.logs).toEqual([
      { level: 'info', event: 'step_up.succeeded', fields: { identityId: 'identity-1', method: 'webauthn' } },
    ])
  })

  it('without a reserved attempt (a registration) releases nothing', async () => {
    const deps = createFakeDeps()
    const session = sessionOf(deps)
    await reserveAttempt(deps, session, 'totp')
    const released: string[] = []
    deps.factors.releaseAttempt = async (id) => {
      released.push(id)
    }
    const auth = await succeedStepUp(
      deps,
      session,
      { method: 'totp', amr: 'otp', anchored: false },
      'f',
      null,
    )
    expect(auth.stepUp).toBe('totp')
    expect(released).toEqual([])
  })
})

describe('random ids', () => {
  it('are base64url without padding: 16 random bytes unless told otherwise', () => {
    const deps = createFakeDeps()
    const asked: number[] = []
    deps.random = {
      bytes: (n) => {
        asked.push(n)
        return new Uint8Array(n).fill(0xfb)
      },
    }
    expect(randomStepUpId(deps)).toBe('-_v7'.repeat(5).concat('-w'))
    expect(randomStepUpId(deps, 15)).toBe('-_v7'.repeat(5))
    expect(asked).toEqual([16, 15])
  })

  it('base64Url replaces every + and / and drops all the padding', () => {
    expect(base64Url(new Uint8Array([0xfb, 0xff, 0xfb, 0xff]))).toBe('-__7_w')
    expect(base64Url(new Uint8Array([0xfb, 0xef, 0xff, 0xfb, 0xef]))).toBe('--__--8')
  })
})
