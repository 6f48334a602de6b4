// Helpers shared by the step-up integration tests: who a signed-in jar is, a TOTP factor seeded straight
// into the store (the attack tests need a factor without going through enrolment), form posts as a
// browser sends them, and reading the TOTP enrolment page.
import { randomBytes } from 'node:crypto'
import { createFactorStore } from '../../../src/adapters/step-up/factor-store.ts'
import { newTotpSecret, totpCodeAt } from '../../../src/adapters/step-up/totp.ts'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import type { CookieJar } from '../../support/login-driver.ts'
import type { TestBroker } from '../../support/test-broker.ts'

export const newPublicKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey

/** The identity id of the latest sign-in of `email`. */
export async function identityIdOf(broker: TestBroker, email: string): Promise<string> {
  const events = await broker.db.store.listAudit({ type: 'login.succeeded', limit: 100 })
  const event = events.find((e) => e.actor === email)
  if (event?.identityId == null) throw new Error(`no sign-in of ${email} in the audit log`)
  return event.identityId
}

/** A confirmed TOTP factor for the identity, as a finished enrolment leaves it; returns its secret. */
export async function seedTotp(
  broker: TestBroker,
  identityId: string,
  options: { anchored?: boolean } = {},
): Promise<string> {
  const factors = createFactorStore(broker.db.database.db)
  const secret = newTotpSecret((n) => new Uint8Array(randomBytes(n)))
  const now = Date.now()
  const factor = await factors.createTotpFactor(
    {
      id: `seed-${randomBytes(6).toString('hex')}`,
      identityId,
      label: 'seeded',
      secretCiphertext: await broker.server.broker.sealer.seal(secret),
      anchored: options.anchored ?? false,
    },
    now,
  )
  // Confirmed with a step well in the past, so every current code is later than it.
  await factors.acceptTotpStep(factor.id, 1, now)
  return secret
}

export function currentCode(secret: string, offsetMs = 0): string {
  return totpCodeAt(secret, Date.now() + offsetMs)
}

export function wrongCode(secret: string): string {
  const right = new Set([-30_000, 0, 30_000].map((d) => currentCode(secret, d)))
  for (let n = 0; ; n++) {
    const candidate = String(n).padStart(6, '0')
    if (!right.has(candidate)) return candidate
  }
}

/** A same-origin form post, as the step-up page's forms send it. */
export function postForm(
  broker: TestBroker,
  jar: CookieJar | null,
  path: string,
  fields: Record<string, string>,
): Promise<Response> {
  return broker.api(jar, path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: broker.origin },
    body: new URLSearchParams(fields).toString(),
  })
}

/** The factor id and secret the TOTP enrolment page shows. */
export function readEnrolmentPage(html: string): { factorId: string; secret: string } {
  const factorId = /name="factorId" value="([^"]+)"/.exec(html)?.[1]
  const secret = /id="totp-secret">\s*([A-Z2-7]+)\s*</.exec(html)?.[1]
  if (factorId === undefined || secret === undefined) throw new Error('not a TOTP enrolment page')
  return { factorId, secret }
}

export async function errorOf(response: Response) {
  const body = (await response.json()) as { error: { code: string } }
  return { status: response.status, code: body.error.code }
}
