// core/step-up's use cases over in-memory fakes of their ports: the attempt limit (also under concurrent
// calls), TOTP replay, WebAuthn challenges and counters, what a factor proves, and enrolment rules.
import { describe, expect, it } from 'vitest'
import { hashSecret } from '../../../src/core/broker/gateway-feed.ts'
import { isKeygateError } from '../../../src/core/errors.ts'
import {
  beginTotpEnrolment,
  confirmTotpEnrolment,
  issueEnrolmentCode,
  parseStepUp,
  stepUpStatus,
  verifyTotp,
  verifyWebAuthnAuthentication,
  verifyWebAuthnRegistration,
  webauthnAuthenticationOptions,
  webauthnRegistrationOptions,
} from '../../../src/core/step-up/index.ts'
import { createFakeDeps, type FakeDeps, sessionOf } from './fakes.ts'

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'OK'
  } catch (error) {
    if (isKeygateError(error)) return error.code
    throw error
  }
}

/** Enrols and confirms a TOTP app for the session; returns its secret. */
async function enrolTotp(deps: FakeDeps, session = sessionOf(deps)): Promise<string> {
  const enrolment = await beginTotpEnrolment(deps, session)
  await confirmTotpEnrolment(
    deps,
    session,
    enrolment.factorId,
    deps.totp.codeAt(enrolment.secret, deps.now.ms),
  )
  return enrolment.secret
}

const wrong = (deps: FakeDeps, secret: string) => {
  const right = new Set([-30_000, 0, 30_000].map((d) => deps.totp.codeAt(secret, deps.now.ms + d)))
  return ['000000', '111111', '222222', '333333'].find((c) => !right.has(c))!
}

describe('attempt limit', () => {
  it('checks at most 5 wrong codes in 15 minutes, then refuses without checking', async () => {
    const deps = createFakeDeps()
    const secret = await enrolTotp(deps)
    deps.now.ms += 60_000
    const session = sessionOf(deps, { verdict: 'single' })
    const checksBefore = deps.totp.checks
    const outcomes = []
    for (let i = 0; i < 7; i++) outcomes.push(await codeOf(verifyTotp(deps, session, wrong(deps, secret))))
    expect(outcomes).toEqual([...Array(5).fill('FACTOR_INVALID'), 'RATE_LIMITED', 'RATE_LIMITED'])
    expect(deps.totp.checks - checksBefore).toBe(5)
    // The right code is refused too while the window is full; the window slides.
    expect(await codeOf(verifyTotp(deps, session, deps.totp.codeAt(secret, deps.now.ms)))).toBe(
      'RATE_LIMITED',
    )
    deps.now.ms += 15 * 60_000 + 1
    expect(await codeOf(verifyTotp(deps, session, deps.totp.codeAt(secret, deps.now.ms)))).toBe('OK')
  })

  it('200 concurrent wrong codes: at most 5 reach the verifier', async () => {
    const deps = createFakeDeps()
    const secret = await enrolTotp(deps)
    deps.now.ms += 60_000
    const checksBefore = deps.totp.checks
    const session = sessionOf(deps, { verdict: 'single' })
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, () => codeOf(verifyTotp(deps, session, wrong(deps, secret)))),
    )
    expect(deps.totp.checks - checksBefore).toBe(5)
    expect(outcomes.filter((o) => o === 'RATE_LIMITED').length).toBe(195)
  })

  it('a success releases its reservation: only failures count', async () => {
    const deps = createFakeDeps()
    const secret = await enrolTotp(deps)
    const session = sessionOf(deps, { verdict: 'single' })
    for (let i = 0; i < 4; i++) {
      deps.now.ms += 30_000
      expect(await codeOf(verifyTotp(deps, session, wrong(deps, secret)))).toBe('FACTOR_INVALID')
    }
    deps.now.ms += 30_000
    expect(await codeOf(verifyTotp(deps, session, deps.totp.codeAt(secret, deps.now.ms)))).toBe('OK')
    expect(deps.factors.attempts.size).toBe(4)
    expect(await codeOf(verifyTotp(deps, session, wrong(deps, secret)))).toBe('FACTOR_INVALID')
    expect(await codeOf(verifyTotp(deps, session, wrong(deps, secret)))).toBe('RATE_LIMITED')
  })
})

describe('TOTP', () => {
  it('refuses a code used already, and an older code after a newer one', async () => {
    const deps = createFakeDeps()
    const secret = await enrolTotp(deps)
    const session = sessionOf(deps, { verdict: 'single' })
    deps.now.ms += 30_000
    const current = deps.totp.codeAt(secret, deps.now.ms)
    const next = deps.totp.codeAt(secret, deps.now.ms + 30_000)
    expect(await codeOf(verifyTotp(deps, session, next))).toBe('OK')
    expect(await codeOf(verifyTotp(deps, session, next))).toBe('FACTOR_INVALID')
    expect(await codeOf(verifyTotp(deps, session, current))).toBe('FACTOR_INVALID')
    expect(deps.audit.filter((e) => e.type === 'step_up.failed').map((e) => e.data.why)).toEqual([
      'replayed',
      'replayed',
    ])
  })

  it('a step-up proves otp, anchored when the factor was enrolled in an IdP-MFA session', async () => {
    const deps = createFakeDeps({ firstFactor: 'password' })
    const anchored = await enrolTotp(deps, sessionOf(deps, { verdict: 'mfa', identityId: 'a' }))
    const plain = await enrolTotp(deps, sessionOf(deps, { verdict: 'single', identityId: 'b' }))
    deps.now.ms += 30_000
    const a = await verifyTotp(
      deps,
      sessionOf(deps, { verdict: 'single', identityId: 'a' }),
      deps.totp.codeAt(anchored, deps.now.ms),
    )
    const b = await verifyTotp(
      deps,
      sessionOf(deps, { verdict: 'single', identityId: 'b' }),
      deps.totp.codeAt(plain, deps.now.ms),
    )
    expect([parseStepUp(a.stepUp), parseStepUp(b.stepUp)]).toEqual([
      { method: 'totp', amr: 'otp', anchored: true },
      { method: 'totp', amr: 'otp', anchored: false },
    ])
  })
})

describe('enrolment', () => {
  it('a first factor without IdP MFA needs an admin code, consumed once and bound to its identity', async () => {
    const deps = createFakeDeps()
    const bob = sessionOf(deps, { verdict: 'single', identityId: '00000000-0000-4000-8000-000000000001' })
    expect(await codeOf(beginTotpEnrolment(deps, bob))).toBe('ENROLMENT_CODE_REQUIRED')
    expect((await stepUpStatus(deps, bob)).codeWouldAllow).toBe(true)
    const store = { ...deps.store, getIdentity: async (id: string) => ({ id }) as never }
    const { code } = await issueEnrolmentCode({ ...deps, store }, 'root@example.com', bob.identityId)
    const other = sessionOf(deps, { verdict: 'single', identityId: 'someone-else' })
    expect(await codeOf(beginTotpEnrolment(deps, other, code))).toBe('ENROLMENT_CODE_REQUIRED')
    const enrolment = await beginTotpEnrolment(deps, bob, code)
    const auth = await confirmTotpEnrolment(
      deps,
      bob,
      enrolment.factorId,
      deps.totp.codeAt(enrolment.secret, deps.now.ms),
      code,
    )
    expect(parseStepUp(auth.stepUp)).toEqual({ method: 'totp', amr: 'otp', anchored: false })
    expect(await deps.factors.hasEnrolmentCode(bob.identityId, hashSecret(code), deps.now.ms)).toBe(false)
    expect(deps.audit.map((e) => e.type)).toContain('step_up.enrolment_code_used')
  })

  it('a wrong first TOTP code does not burn the enrolment code', async () => {
    const deps = createFakeDeps()
    const bob = sessionOf(deps, { verdict: 'single', identityId: '00000000-0000-4000-8000-000000000002' })
    const store = { ...deps.store, getIdentity: async (id: string) => ({ id }) as never }
    const { code } = await issueEnrolmentCode({ ...deps, store }, 'root', bob.identityId)
    const enrolment = await beginTotpEnrolment(deps, bob, code)
    expect(
      await codeOf(confirmTotpEnrolment(deps, bob, enrolment.factorId, wrong(deps, enrolment.secret), code)),
    ).toBe('FACTOR_INVALID')
    expect(
      await codeOf(
        confirmTotpEnrolment(
          deps,
          bob,
          enrolment.factorId,
          deps.totp.codeAt(enrolment.secret, deps.now.ms),
          code,
        ),
      ),
    ).toBe('OK')
  })

  it('a second factor needs a step-up with the first in this session', async () => {
    const deps = createFakeDeps()
    await enrolTotp(deps)
    expect(await codeOf(webauthnRegistrationOptions(deps, sessionOf(deps)))).toBe('STEP_UP_REQUIRED')
    expect(await codeOf(webauthnRegistrationOptions(deps, sessionOf(deps, { stepUp: 'totp@idp-mfa' })))).toBe(
      'OK',
    )
  })
})

describe('WebAuthn', () => {
  async function register(deps: FakeDeps, extra: Record<string, unknown> = {}) {
    const session = sessionOf(deps)
    await webauthnRegistrationOptions(deps, session)
    return verifyWebAuthnRegistration(
      deps,
      session,
      { id: 'key-1', challenge: deps.webauthn.lastChallenge, ...extra },
      'key',
    )
  }

  it('a key proves hwk only with a trusted attestation from an allowed AAGUID', async () => {
    const aaguid = 'cb69481e-8ff7-4039-93ec-0a2729a154a8'
    const proofs = []
    for (const [allowed, trusted] of [
      [[aaguid], true],
      [[aaguid], false],
      [[], true],
    ] as const) {
      const deps = createFakeDeps({ hwkAaguids: allowed })
      proofs.push(parseStepUp((await register(deps, { aaguid, attestationTrusted: trusted })).stepUp)?.amr)
    }
    expect(proofs).toEqual(['hwk', 'swk', 'swk'])
  })

  it('a challenge is single-use and bound to the session', async () => {
    const deps = createFakeDeps()
    await register(deps)
    const session = sessionOf(deps)
    await webauthnAuthenticationOptions(deps, session)
    const challenge = deps.webauthn.lastChallenge
    const other = sessionOf(deps, { sessionId: 'session-2' })
    expect(
      await codeOf(verifyWebAuthnAuthentication(deps, other, { id: 'key-1', challenge, counter: 1 })),
    ).toBe('FACTOR_INVALID')
    expect(
      await codeOf(verifyWebAuthnAuthentication(deps, session, { id: 'key-1', challenge, counter: 1 })),
    ).toBe('OK')
    expect(
      await codeOf(verifyWebAuthnAuthentication(deps, session, { id: 'key-1', challenge, counter: 2 })),
    ).toBe('FACTOR_INVALID')
  })

  it('refuses a counter that does not go up (a cloned key), allows the always-zero of synced passkeys', async () => {
    const deps = createFakeDeps()
    await register(deps, { counter: 5 })
    const session = sessionOf(deps)
    const use = async (counter: number) => {
      await webauthnAuthenticationOptions(deps, session)
      return codeOf(
        verifyWebAuthnAuthentication(deps, session, {
          id: 'key-1',
          challenge: deps.webauthn.lastChallenge,
          counter,
        }),
      )
    }
    expect(await use(6)).toBe('OK')
    expect(await use(6)).toBe('FACTOR_INVALID')
    expect(deps.audit.map((e) => e.type)).toContain('step_up.cloned_credential')
    const synced = createFakeDeps()
    await register(synced, { id: 'key-0', counter: 0 })
    await webauthnAuthenticationOptions(synced, sessionOf(synced))
    expect(
      await codeOf(
        verifyWebAuthnAuthentication(synced, sessionOf(synced), {
          id: 'key-0',
          challenge: synced.webauthn.lastChallenge,
          counter: 0,
        }),
      ),
    ).toBe('OK')
  })

  it('a key registered to another identity is not yours', async () => {
    const deps = createFakeDeps()
    await register(deps)
    const other = sessionOf(deps, { identityId: 'identity-2' })
    expect(await codeOf(verifyWebAuthnAuthentication(deps, other, { id: 'key-1', challenge: 'x' }))).toBe(
      'FACTOR_INVALID',
    )
  })
})

describe('TOTP enrolment across a reload', () => {
  it('beginning again continues the unfinished enrolment (same factor, same secret) until it expires', async () => {
    const deps = createFakeDeps()
    const session = sessionOf(deps)
    const first = await beginTotpEnrolment(deps, session)
    deps.now.ms += 60_000
    const again = await beginTotpEnrolment(deps, session)
    expect(again).toEqual(first)
    // Past the enrolment's 10 minutes, a new secret.
    deps.now.ms += 11 * 60_000
    const later = await beginTotpEnrolment(deps, sessionOf(deps))
    expect(later.factorId).not.toBe(first.factorId)
    expect(later.secret).not.toBe(first.secret)
    // The one shown twice is the one that confirms.
    const fresh = sessionOf(deps)
    await confirmTotpEnrolment(deps, fresh, later.factorId, deps.totp.codeAt(later.secret, deps.now.ms))
  })
})
