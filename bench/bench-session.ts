// A signed-in session for benchmarks, made the way the sign-in callback makes one (identity upserted,
// session and its claims stored, a cookie naming the session sealed with the server's secret), so a bench can drive the API without an IdP.
import { randomBytes } from 'node:crypto'
import { createCookieCodec } from '../src/adapters/http/session-cookie.ts'
import type { SessionContext } from '../src/core/broker/broker-deps.ts'
import type { AuthFacts } from '../src/core/model.ts'
import type { Store } from '../src/core/ports.ts'

/** An MFA sign-in (password + one-time code) that happened at `now`. */
export function mfaAuth(now: number): AuthFacts {
  return {
    verdict: 'mfa',
    amr: ['pwd', 'otp'],
    acr: null,
    acrs: [],
    authTime: Math.floor(now / 1000),
    stepUp: null,
  }
}

/** Returns the `Cookie` header value of a fresh session for `subject` in `groups`. */
export async function benchSessionCookie(
  store: Store,
  options: { secret: string; url: string; subject: string; groups: string[]; ttlMs: number },
): Promise<string> {
  const now = Date.now()
  const identity = await store.upsertIdentity(
    {
      idpId: 'bench',
      issuer: 'https://idp.bench.invalid',
      subject: options.subject,
      email: `${options.subject}@example.com`,
      emailVerified: true,
      name: null,
      groups: options.groups,
    },
    now,
  )
  const session: SessionContext = {
    sessionId: randomBytes(16).toString('base64url'),
    identityId: identity.id,
    idpId: 'bench',
    issuer: identity.issuer,
    subject: identity.subject,
    email: identity.email,
    groups: identity.groups,
    auth: mfaAuth(now),
    expiresAt: now + options.ttlMs,
  }
  const { sessionId, expiresAt, ...claims } = session
  await store.createSession({ id: sessionId, identityId: identity.id, expiresAt, claims }, now)
  const codec = await createCookieCodec(options.secret, options.url)
  return `${codec.sessionCookie}=${await codec.seal({ sid: sessionId }, expiresAt, 'session')}`
}
