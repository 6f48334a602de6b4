// In-memory fakes of the step-up ports, for unit tests of core/step-up's use cases: a factor store with the
// same single-use and reservation semantics as the drizzle one, a TOTP verifier whose codes a test can
// compute, and a WebAuthn verifier driven by plain objects. Each counts the checks it is asked to make.
import type { SessionContext } from '../../../src/core/broker/broker-deps.ts'
import type { CompiledPolicy } from '../../../src/core/policy/index.ts'
import type { NewAuditEvent } from '../../../src/core/ports.ts'
import {
  DEFAULT_STEP_UP_SETTINGS,
  type FactorStore,
  type StepUpDeps,
  type StepUpSettings,
  type TotpFactor,
  type TotpVerifier,
  totpStepAt,
  type WebAuthnCredentialRecord,
  type WebAuthnVerifier,
} from '../../../src/core/step-up/index.ts'

export function createMemoryFactorStore(): FactorStore & {
  attempts: Map<string, { identityId: string; at: number }>
} {
  const totps = new Map<string, TotpFactor>()
  const credentials = new Map<string, WebAuthnCredentialRecord>()
  const attempts = new Map<string, { identityId: string; at: number }>()
  const codes = new Map<string, { identityId: string; expiresAt: number; usedAt: number | null }>()
  let nextAttempt = 1
  const usable = (identityId: string, hash: string, now: number) => {
    const code = codes.get(hash)
    return (
      code !== undefined && code.identityId === identityId && code.usedAt === null && code.expiresAt > now
    )
  }
  return {
    attempts,
    async createTotpFactor(input, now) {
      const factor: TotpFactor = { ...input, confirmedAt: null, lastUsedStep: null, createdAt: now }
      totps.set(input.id, factor)
      return { ...factor }
    },
    async getTotpFactor(id) {
      const factor = totps.get(id)
      return factor === undefined ? null : { ...factor }
    },
    async listTotpFactors(identityId) {
      return [...totps.values()].filter((t) => t.identityId === identityId).map((t) => ({ ...t }))
    },
    async acceptTotpStep(id, step, now) {
      const factor = totps.get(id)
      if (factor === undefined || (factor.lastUsedStep !== null && step <= factor.lastUsedStep)) return false
      factor.lastUsedStep = step
      factor.confirmedAt ??= now
      return true
    },
    async deleteUnconfirmedTotp(identityId, before) {
      for (const [id, t] of totps)
        if (t.identityId === identityId && t.confirmedAt === null && t.createdAt < before) totps.delete(id)
    },
    async addWebAuthnCredential(record) {
      credentials.set(record.id, { ...record, lastUsedAt: null })
    },
    async getWebAuthnCredential(id) {
      const credential = credentials.get(id)
      return credential === undefined ? null : { ...credential }
    },
    async listWebAuthnCredentials(identityId) {
      return [...credentials.values()].filter((c) => c.identityId === identityId)
    },
    async touchWebAuthnCredential(id, counter, now) {
      const credential = credentials.get(id)
      if (credential !== undefined) Object.assign(credential, { counter, lastUsedAt: now })
    },
    // No await between the count and the insert: JavaScript runs it as one step, like the lock in SQL.
    async reserveAttempt(identityId, now, windowStart, maxAttempts) {
      const recent = [...attempts.values()].filter((a) => a.identityId === identityId && a.at > windowStart)
      if (recent.length >= maxAttempts) return { reserved: false, failureTimes: recent.map((a) => a.at) }
      const attemptId = String(nextAttempt++)
      attempts.set(attemptId, { identityId, at: now })
      return { reserved: true, attemptId }
    },
    async releaseAttempt(attemptId) {
      attempts.delete(attemptId)
    },
    async createEnrolmentCode(input) {
      codes.set(input.codeHash, { identityId: input.identityId, expiresAt: input.expiresAt, usedAt: null })
    },
    async hasEnrolmentCode(identityId, codeHash, now) {
      return usable(identityId, codeHash, now)
    },
    async consumeEnrolmentCode(identityId, codeHash, now) {
      if (!usable(identityId, codeHash, now)) return false
      codes.get(codeHash)!.usedAt = now
      return true
    },
  }
}

/** TOTP whose code for a step is computable: six digits from the secret's number and the step. */
export function createFakeTotp(): TotpVerifier & {
  checks: number
  codeAt(secret: string, nowMs: number): string
} {
  let secrets = 0
  const codeFor = (secret: string, step: number) =>
    String((Number(secret.slice(1)) * 7919 + step) % 1_000_000).padStart(6, '0')
  const fake = {
    checks: 0,
    newSecret: () => `S${++secrets}`,
    uri: (secret: string, account: string, issuer: string) =>
      `otpauth://totp/${issuer}:${account}?secret=${secret}`,
    matchStep(secret: string, code: string, nowMs: number) {
      fake.checks++
      const now = totpStepAt(nowMs)
      for (const step of [now - 1, now, now + 1]) if (codeFor(secret, step) === code) return step
      return null
    },
    codeAt: (secret: string, nowMs: number) => codeFor(secret, totpStepAt(nowMs)),
  }
  return fake
}

/** A registration or assertion as the fake verifier reads it. */
export interface FakeWebAuthnResponse {
  id: string
  challenge: string
  valid?: boolean
  aaguid?: string
  attestationTrusted?: boolean
  counter?: number
}

export function createFakeWebAuthn(): WebAuthnVerifier & {
  lastChallenge: string | null
  /** What the last options call was given: the user (registration) and the credentials it names. */
  lastOptions: { user: unknown; credentials: readonly WebAuthnCredentialRecord[] } | null
  /** How many responses reached the verifier. */
  verifications: number
} {
  const fake = {
    lastChallenge: null as string | null,
    lastOptions: null as { user: unknown; credentials: readonly WebAuthnCredentialRecord[] } | null,
    verifications: 0,
    async registrationOptions(
      user: unknown,
      existing: readonly WebAuthnCredentialRecord[],
      challenge: Uint8Array,
    ) {
      fake.lastChallenge = base64Url(challenge)
      fake.lastOptions = { user, credentials: existing }
      return { challenge: fake.lastChallenge }
    },
    async verifyRegistration(response: unknown, expectedChallenge: (c: string) => Promise<boolean>) {
      fake.verifications++
      const r = response as FakeWebAuthnResponse
      if (!(await expectedChallenge(r.challenge)) || r.valid === false) return null
      return {
        id: r.id,
        publicKey: new Uint8Array([1]),
        counter: r.counter ?? 0,
        transports: [],
        aaguid: r.aaguid ?? '00000000-0000-0000-0000-000000000000',
        attestationTrusted: r.attestationTrusted ?? false,
      }
    },
    async authenticationOptions(credentials: readonly WebAuthnCredentialRecord[], challenge: Uint8Array) {
      fake.lastChallenge = base64Url(challenge)
      fake.lastOptions = { user: null, credentials }
      return { challenge: fake.lastChallenge }
    },
    async verifyAuthentication(
      response: unknown,
      _credential: WebAuthnCredentialRecord,
      expectedChallenge: (c: string) => Promise<boolean>,
    ) {
      fake.verifications++
      const r = response as FakeWebAuthnResponse
      if (!(await expectedChallenge(r.challenge)) || r.valid === false) return null
      return { newCounter: r.counter ?? 0 }
    },
  }
  return fake
}

function base64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url')
}

export interface FakeDeps extends StepUpDeps {
  audit: NewAuditEvent[]
  /** The time each audit event was appended at, in the order of `audit`. */
  auditAt: number[]
  /** What the use cases logged. */
  logs: { level: string; event: string; fields: unknown }[]
  now: { ms: number }
  factors: ReturnType<typeof createMemoryFactorStore>
  totp: ReturnType<typeof createFakeTotp>
  webauthn: ReturnType<typeof createFakeWebAuthn>
}

export function createFakeDeps(settings: Partial<StepUpSettings> = {}): FakeDeps {
  const audit: NewAuditEvent[] = []
  const auditAt: number[] = []
  const logs: FakeDeps['logs'] = []
  const log = (level: string) => (event: string, fields?: unknown) => {
    logs.push({ level, event, fields })
  }
  const states = new Map<string, number>()
  const now = { ms: 1_800_000_000_000 }
  let counter = 0
  return {
    audit,
    auditAt,
    logs,
    now,
    store: {
      async appendAudit(event, at) {
        audit.push(event)
        auditAt.push(at)
      },
      async saveLoginState(key, expiresAt) {
        states.set(key, expiresAt)
      },
      async consumeLoginState(key, at) {
        const expiresAt = states.get(key)
        states.delete(key)
        return expiresAt !== undefined && expiresAt > at
      },
    },
    clock: { now: () => now.ms },
    random: { bytes: (n) => new Uint8Array(n).map((_, i) => (counter++ + i) & 0xff) },
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    sealer: {
      seal: async (text) => `sealed:${typeof text === 'string' ? text : new TextDecoder().decode(text)}`,
      open: async (sealed) => new TextEncoder().encode(sealed.slice('sealed:'.length)),
      reseal: async () => null,
    },
    policy: () => ({ hash: 'policy-hash' }) as CompiledPolicy,
    factors: createMemoryFactorStore(),
    totp: createFakeTotp(),
    webauthn: createFakeWebAuthn(),
    settings: { ...DEFAULT_STEP_UP_SETTINGS, ...settings },
  }
}

export function sessionOf(
  deps: FakeDeps,
  options: {
    verdict?: 'mfa' | 'single'
    stepUp?: string | null
    identityId?: string
    sessionId?: string
  } = {},
): SessionContext {
  return {
    sessionId: options.sessionId ?? 'session-1',
    identityId: options.identityId ?? 'identity-1',
    idpId: 'test',
    issuer: 'https://idp.example',
    subject: 'sub-1',
    email: 'user@example.com',
    groups: [],
    auth: {
      verdict: options.verdict ?? 'mfa',
      amr: options.verdict === 'single' ? ['pwd'] : ['pwd', 'otp'],
      acr: null,
      acrs: [],
      authTime: Math.floor(deps.now.ms / 1000) - 60,
      stepUp: options.stepUp ?? null,
    },
    expiresAt: deps.now.ms + 3_600_000,
  }
}
