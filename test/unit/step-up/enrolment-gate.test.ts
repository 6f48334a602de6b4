// The enrolment gate (enrolment-gate.ts) over in-memory fakes: a session's step-up status, the check every
// enrolment step runs (with and without an admin-issued code), consuming the code, and issuing one.
import { describe, expect, it } from 'vitest'
import {
  ENROLMENT_CODE_TTL_MS,
  finishEnrolment,
  hashCode,
  issueEnrolmentCode,
  normalizeEnrolmentCode,
  requireEnrolmentAllowed,
  type StepUpSession,
  stepUpStatus,
} from '../../../src/core/step-up/index.ts'
import { refusal } from '../../support/refusal.ts'
import { createFakeDeps, type FakeDeps, sessionOf } from './fakes.ts'

const BOB = '00000000-0000-4000-8000-0000000000b0'

/** The session with its IdP sign-in `seconds` old. */
function signedInAgo(deps: FakeDeps, session: StepUpSession, seconds: number): StepUpSession {
  return { ...session, auth: { ...session.auth, authTime: Math.floor(deps.now.ms / 1000) - seconds } }
}

/** issueEnrolmentCode's deps: the fakes, and a store that knows the identities named. */
function issuing(deps: FakeDeps, known: string[] = [BOB]) {
  const lookups: string[] = []
  const store = {
    ...deps.store,
    getIdentity: async (id: string) => {
      lookups.push(id)
      return known.includes(id) ? ({ id } as never) : null
    },
  }
  return { deps: { ...deps, store }, lookups }
}

async function confirmedTotp(deps: FakeDeps, identityId: string, id = 'totp-1') {
  await deps.factors.createTotpFactor(
    { id, identityId, label: 'Phone', secretCiphertext: 'sealed:S9', anchored: false },
    deps.now.ms - 5000,
  )
  await deps.factors.acceptTotpStep(id, 1, deps.now.ms)
}

async function webauthnKey(deps: FakeDeps, identityId: string, id = 'key-1') {
  await deps.factors.addWebAuthnCredential({
    id,
    identityId,
    label: 'YubiKey',
    publicKey: new Uint8Array([1]),
    counter: 0,
    transports: [],
    amr: 'swk',
    anchored: false,
    createdAt: deps.now.ms - 7000,
  })
}

describe('stepUpStatus', () => {
  it('lists the confirmed factors of this identity only, with when each was made and last used', async () => {
    const deps = createFakeDeps()
    await confirmedTotp(deps, 'identity-1')
    await deps.factors.createTotpFactor(
      { id: 'pending', identityId: 'identity-1', label: 'x', secretCiphertext: 'sealed:S1', anchored: false },
      deps.now.ms,
    )
    await webauthnKey(deps, 'identity-1')
    await deps.factors.touchWebAuthnCredential('key-1', 3, deps.now.ms - 1000)
    await webauthnKey(deps, 'identity-2', 'key-2')
    await confirmedTotp(deps, 'identity-2', 'totp-2')
    const status = await stepUpStatus(deps, sessionOf(deps, { stepUp: 'totp' }))
    expect(status).toEqual({
      factors: [
        { method: 'totp', id: 'totp-1', label: 'Phone', createdAt: deps.now.ms - 5000, lastUsedAt: null },
        {
          method: 'webauthn',
          id: 'key-1',
          label: 'YubiKey',
          createdAt: deps.now.ms - 7000,
          lastUsedAt: deps.now.ms - 1000,
        },
      ],
      hasTotp: true,
      hasWebAuthn: true,
      enrolRefusal: null,
      codeWouldAllow: false,
    })
  })

  it('says which kinds exist: an unconfirmed app is none, a key alone is WebAuthn only', async () => {
    const deps = createFakeDeps()
    await deps.factors.createTotpFactor(
      { id: 'pending', identityId: 'identity-1', label: 'x', secretCiphertext: 'sealed:S1', anchored: false },
      deps.now.ms,
    )
    const none = await stepUpStatus(deps, sessionOf(deps))
    expect([none.factors, none.hasTotp, none.hasWebAuthn]).toEqual([[], false, false])
    await webauthnKey(deps, 'identity-1')
    const key = await stepUpStatus(deps, sessionOf(deps))
    expect([key.factors.map((f) => f.id), key.hasTotp, key.hasWebAuthn]).toEqual([['key-1'], false, true])
    const app = createFakeDeps()
    await confirmedTotp(app, 'identity-1')
    const totp = await stepUpStatus(app, sessionOf(app))
    expect([totp.hasTotp, totp.hasWebAuthn]).toEqual([true, false])
  })

  it('with a factor already, a further one needs a step-up in this session, which no code lifts', async () => {
    const deps = createFakeDeps()
    await webauthnKey(deps, 'identity-1')
    const status = await stepUpStatus(deps, sessionOf(deps, { verdict: 'single' }))
    expect(status.enrolRefusal?.code).toBe('STEP_UP_REQUIRED')
    expect(status.codeWouldAllow).toBe(false)
  })

  it.each([
    ['idp-mfa-or-code', 'single', 'ENROLMENT_CODE_REQUIRED', true],
    ['idp-mfa-or-code', 'mfa', null, false],
    ['idp-mfa', 'single', 'ENROLMENT_CODE_REQUIRED', false],
    ['idp-mfa', 'mfa', null, false],
    ['code', 'mfa', 'ENROLMENT_CODE_REQUIRED', true],
    ['password', 'single', null, false],
  ] as const)(
    'first factor under %s in a %s session: refusal %s, a code would allow it: %s',
    async (rule, verdict, code, codeWouldAllow) => {
      const deps = createFakeDeps({ firstFactor: rule })
      const status = await stepUpStatus(deps, sessionOf(deps, { verdict }))
      expect([status.enrolRefusal?.code ?? null, status.codeWouldAllow]).toEqual([code, codeWouldAllow])
    },
  )

  it('an old sign-in is refused as too old, and no code lifts that; the age is read from the clock', async () => {
    const deps = createFakeDeps()
    const session = signedInAgo(deps, sessionOf(deps, { verdict: 'single' }), 600)
    expect((await stepUpStatus(deps, session)).enrolRefusal?.code).toBe('ENROLMENT_CODE_REQUIRED')
    deps.now.ms += 1000
    const status = await stepUpStatus(deps, session)
    expect([status.enrolRefusal?.code, status.codeWouldAllow]).toEqual(['AUTH_TOO_OLD', false])
  })
})

describe('normalizeEnrolmentCode', () => {
  it('keeps 8 to 64 letters, digits, - and _, with surrounding spaces dropped', () => {
    expect(normalizeEnrolmentCode('  Ab3_-xYz9 \n')).toBe('Ab3_-xYz9')
    expect(normalizeEnrolmentCode('a'.repeat(8))).toBe('a'.repeat(8))
    expect(normalizeEnrolmentCode('Z'.repeat(64))).toBe('Z'.repeat(64))
  })

  it.each([
    ['not a string', 12345678],
    ['too short', 'abcdefg'],
    ['too long', 'a'.repeat(65)],
    ['a space inside', 'abcd efgh'],
    ['another character first', '=abcdefgh'],
    ['another character last', 'abcdefgh='],
    ['empty', ''],
  ])('refuses a code %s', (_, input) => {
    expect(normalizeEnrolmentCode(input)).toBeNull()
  })
})

describe('requireEnrolmentAllowed', () => {
  it('an allowed session needs no code, and a code it sends is neither looked up nor kept', async () => {
    const deps = createFakeDeps()
    let lookups = 0
    deps.factors.hasEnrolmentCode = async () => {
      lookups++
      return true
    }
    expect(await requireEnrolmentAllowed(deps, sessionOf(deps), 'totp', 'abcdefgh12')).toEqual({
      codeHash: null,
    })
    expect(lookups).toBe(0)
    expect(deps.audit).toEqual([])
  })

  it('a valid code for this identity lets a password-only session through, carrying the code’s hash', async () => {
    const deps = createFakeDeps()
    const { deps: admin } = issuing(deps)
    const { code } = await issueEnrolmentCode(admin, 'root@example.com', BOB)
    const bob = sessionOf(deps, { verdict: 'single', identityId: BOB })
    expect(await requireEnrolmentAllowed(deps, bob, 'webauthn', ` ${code} `)).toEqual({
      codeHash: hashCode(code),
    })
    // Checking does not use it up.
    expect(await deps.factors.hasEnrolmentCode(BOB, hashCode(code), deps.now.ms)).toBe(true)
  })

  it('a code not valid here is refused as such, audited, and named in the reasons', async () => {
    const deps = createFakeDeps()
    const { deps: admin } = issuing(deps, [BOB, '00000000-0000-4000-8000-0000000000a1'])
    const { code } = await issueEnrolmentCode(admin, 'root', '00000000-0000-4000-8000-0000000000a1')
    const bob = sessionOf(deps, { verdict: 'single', identityId: BOB })
    const error = await refusal(requireEnrolmentAllowed(deps, bob, 'totp', code))
    const notValid = {
      code: 'ENROLMENT_CODE_REQUIRED',
      message:
        'That enrolment code is not valid: it may be used or expired. Ask your administrator for a new one.',
    }
    expect([error.code, error.message, error.reasons]).toEqual([
      'ENROLMENT_CODE_REQUIRED',
      notValid.message,
      [notValid],
    ])
    expect(deps.audit.slice(1).map((e) => [e.type, e.identityId, e.data])).toEqual([
      ['step_up.enrol_refused', BOB, { method: 'totp', code: 'ENROLMENT_CODE_REQUIRED' }],
    ])
  })

  it('a code is usable for 24 hours by the clock', async () => {
    const deps = createFakeDeps()
    const { deps: admin } = issuing(deps)
    const { code, expiresAt } = await issueEnrolmentCode(admin, 'root', BOB)
    expect(expiresAt).toBe(deps.now.ms + ENROLMENT_CODE_TTL_MS)
    expect(ENROLMENT_CODE_TTL_MS).toBe(24 * 60 * 60_000)
    deps.now.ms = expiresAt - 1
    const bob = () => sessionOf(deps, { verdict: 'single', identityId: BOB })
    expect(await requireEnrolmentAllowed(deps, bob(), 'totp', code)).toEqual({ codeHash: hashCode(code) })
    deps.now.ms = expiresAt
    expect((await refusal(requireEnrolmentAllowed(deps, bob(), 'totp', code))).message).toMatch(/not valid/)
  })

  it('without a code, or with one that cannot be a code, the refusal is the rule’s own', async () => {
    const deps = createFakeDeps()
    const bob = sessionOf(deps, { verdict: 'single', identityId: BOB })
    const status = await stepUpStatus(deps, bob)
    for (const code of [undefined, 'short', 42]) {
      const error = await refusal(requireEnrolmentAllowed(deps, bob, 'webauthn', code))
      expect([error.code, error.message, error.reasons]).toEqual([
        'ENROLMENT_CODE_REQUIRED',
        status.enrolRefusal?.message,
        [status.enrolRefusal],
      ])
    }
    expect(deps.audit.map((e) => e.data)).toEqual(
      Array(3).fill({ method: 'webauthn', code: 'ENROLMENT_CODE_REQUIRED' }),
    )
  })

  it('a valid code does not lift a rule that needs IdP MFA, nor an old sign-in, nor a missing step-up', async () => {
    const strict = createFakeDeps({ firstFactor: 'idp-mfa' })
    const { deps: admin } = issuing(strict)
    const { code } = await issueEnrolmentCode(admin, 'root', BOB)
    const bob = sessionOf(strict, { verdict: 'single', identityId: BOB })
    const mfaOnly = await refusal(requireEnrolmentAllowed(strict, bob, 'totp', code))
    expect([mfaOnly.code, mfaOnly.message]).toEqual([
      'ENROLMENT_CODE_REQUIRED',
      'Your first second factor must be set up in a sign-in with multi-factor authentication at your identity provider.',
    ])

    const deps = createFakeDeps()
    const { deps: admin2 } = issuing(deps)
    const { code: code2 } = await issueEnrolmentCode(admin2, 'root', BOB)
    const old = signedInAgo(deps, sessionOf(deps, { verdict: 'single', identityId: BOB }), 3600)
    const tooOld = await refusal(requireEnrolmentAllowed(deps, old, 'totp', code2))
    expect([tooOld.code, tooOld.reasons?.[0]?.code]).toEqual(['AUTH_TOO_OLD', 'AUTH_TOO_OLD'])

    await confirmedTotp(deps, BOB)
    const second = await refusal(
      requireEnrolmentAllowed(deps, sessionOf(deps, { identityId: BOB }), 'webauthn', code2),
    )
    expect([second.code, second.message]).toEqual([
      'STEP_UP_REQUIRED',
      'You already have a second factor. Use it first; then you may add another.',
    ])
    expect(deps.audit.filter((e) => e.type === 'step_up.enrol_refused').map((e) => e.data)).toEqual([
      { method: 'totp', code: 'AUTH_TOO_OLD' },
      { method: 'webauthn', code: 'STEP_UP_REQUIRED' },
    ])
  })
})

describe('finishEnrolment', () => {
  it('without a code to consume, does nothing', async () => {
    const deps = createFakeDeps()
    let consumed = 0
    deps.factors.consumeEnrolmentCode = async () => {
      consumed++
      return false
    }
    await finishEnrolment(deps, sessionOf(deps), 'totp', { codeHash: null })
    expect([consumed, deps.audit]).toEqual([0, []])
  })

  it('consumes the code once, audited; a second use is refused and audited', async () => {
    const deps = createFakeDeps()
    const { deps: admin } = issuing(deps)
    const { code } = await issueEnrolmentCode(admin, 'root', BOB)
    const bob = sessionOf(deps, { verdict: 'single', identityId: BOB })
    const pass = await requireEnrolmentAllowed(deps, bob, 'webauthn', code)
    deps.now.ms += 1000
    await finishEnrolment(deps, bob, 'webauthn', pass)
    expect(await deps.factors.hasEnrolmentCode(BOB, hashCode(code), deps.now.ms)).toBe(false)
    const again = await refusal(finishEnrolment(deps, bob, 'totp', pass))
    expect([again.code, again.message]).toEqual([
      'ENROLMENT_CODE_REQUIRED',
      'That enrolment code was used already. Ask your administrator for a new one.',
    ])
    expect(deps.audit.slice(1).map((e) => [e.type, e.data])).toEqual([
      ['step_up.enrolment_code_used', { method: 'webauthn' }],
      ['step_up.enrol_refused', { method: 'totp', code: 'ENROLMENT_CODE_REQUIRED' }],
    ])
  })

  it('a code that expired between the check and the use is not consumed', async () => {
    const deps = createFakeDeps()
    const { deps: admin } = issuing(deps)
    const { code, expiresAt } = await issueEnrolmentCode(admin, 'root', BOB)
    deps.now.ms = expiresAt - 1
    const bob = sessionOf(deps, { verdict: 'single', identityId: BOB })
    const pass = await requireEnrolmentAllowed(deps, bob, 'totp', code)
    deps.now.ms = expiresAt
    expect((await refusal(finishEnrolment(deps, bob, 'totp', pass))).code).toBe('ENROLMENT_CODE_REQUIRED')
  })
})

describe('issueEnrolmentCode', () => {
  it('returns a random code once, stores only its hash, and audits the expiry with the admin as actor', async () => {
    const deps = createFakeDeps()
    const created: unknown[][] = []
    const create = deps.factors.createEnrolmentCode.bind(deps.factors)
    deps.factors.createEnrolmentCode = async (...args) => {
      created.push(args)
      return create(...args)
    }
    const { deps: admin, lookups } = issuing(deps)
    const issued = await issueEnrolmentCode(admin, 'root@example.com', BOB)
    expect(issued.code).toMatch(/^[A-Za-z0-9_-]{20}$/)
    expect(normalizeEnrolmentCode(issued.code)).toBe(issued.code)
    expect(lookups).toEqual([BOB])
    const expiresAt = deps.now.ms + 24 * 60 * 60_000
    expect(issued.expiresAt).toBe(expiresAt)
    expect(created).toEqual([
      [
        { codeHash: hashCode(issued.code), identityId: BOB, createdBy: 'root@example.com', expiresAt },
        deps.now.ms,
      ],
    ])
    expect(JSON.stringify(created)).not.toContain(issued.code)
    expect(deps.audit).toEqual([
      {
        type: 'step_up.enrolment_code_issued',
        identityId: BOB,
        leaseId: null,
        gatewayId: null,
        actor: 'root@example.com',
        policyHash: 'policy-hash',
        data: { expiresAt: new Date(expiresAt).toISOString() },
      },
    ])
    expect(deps.auditAt).toEqual([deps.now.ms])
    expect(JSON.stringify(deps.audit)).not.toContain(issued.code)
    // Each issue is a new code.
    expect((await issueEnrolmentCode(admin, 'root', BOB)).code).not.toBe(issued.code)
  })

  it('accepts an identity id in capitals', async () => {
    const deps = createFakeDeps()
    const upper = BOB.toUpperCase()
    const { deps: admin, lookups } = issuing(deps, [upper])
    await issueEnrolmentCode(admin, 'root', upper)
    expect(lookups).toEqual([upper])
  })

  it('an unknown identity is NOT_FOUND, and what is no uuid is not even looked up', async () => {
    const deps = createFakeDeps()
    const ids = [`x${BOB}`, `${BOB}x`, 'bob', '']
    const { deps: admin, lookups } = issuing(deps, [...ids])
    for (const id of ids) {
      const error = await refusal(issueEnrolmentCode(admin, 'root', id))
      expect([error.code, error.message]).toEqual(['NOT_FOUND', `No identity ${id}`])
    }
    expect(lookups).toEqual([])
    const unknown = '00000000-0000-4000-8000-00000000dead'
    expect((await refusal(issueEnrolmentCode(admin, 'root', unknown))).code).toBe('NOT_FOUND')
    expect(lookups).toEqual([unknown])
    expect(deps.audit).toEqual([])
  })
})

describe('hashCode', () => {
  it('is the SHA-256 of the code in hex', () => {
    expect(hashCode('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })
})
