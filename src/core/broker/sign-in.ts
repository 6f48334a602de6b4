/**
 * Sign-in through an IdP: starting the authorization request and completing it into a session.
 *
 * openid-client verifies the ID token, PKCE, state, nonce, issuer and (in the code flow) max_age.
 * This module adds what it leaves to the relying party: single use of the login state (a replayed
 * callback is refused even with a valid cookie), the freshness check on auth_time, the verdict, and
 * the audit trail of every success and failure.
 */
import { isKeygateError, KeygateError } from '../errors.ts'
import { checkAuthFreshness } from '../identity/index.ts'
import type { AuthFacts, Identity } from '../model.ts'
import { encodeBase64 } from '../peers/base64.ts'
import type { PendingLogin } from '../ports.ts'
import type { BrokerDeps } from './broker-deps.ts'

export const LOGIN_STATE_TTL_MS = 10 * 60_000
export const SESSION_TTL_MS = 12 * 60 * 60_000

export interface BeginSignInInput {
  idpId: string
  redirectUri: string
  returnTo: string
  /** A second attempt with the stronger request (prompt=login, essential acr) after a verdict fell short. */
  stepUp: boolean
  /** Overrides the policy's login max age, e.g. a step-up demand's tighter one. */
  maxAgeSeconds?: number
}

export async function beginSignIn(
  deps: BrokerDeps,
  input: BeginSignInInput,
): Promise<{ url: string; pending: PendingLogin; expiresAt: number }> {
  const idp = findIdentityProvider(deps, input.idpId)
  const maxAgeSeconds = input.maxAgeSeconds ?? deps.policy().maxLoginAgeSeconds
  const { url, pending } = await idp.startLogin({
    redirectUri: input.redirectUri,
    maxAgeSeconds,
    stepUp: input.stepUp,
  })
  const expiresAt = deps.clock.now() + LOGIN_STATE_TTL_MS
  await deps.store.saveLoginState(pending.state, expiresAt)
  return { url, pending: { ...pending, returnTo: input.returnTo }, expiresAt }
}

export interface CompletedSignIn {
  identity: Identity
  auth: AuthFacts
  sessionId: string
  sessionExpiresAt: number
  returnTo: string
}

export async function completeSignIn(
  deps: BrokerDeps,
  input: { idpId: string; callbackUrl: URL; pending: PendingLogin | null },
): Promise<CompletedSignIn> {
  const { store, clock } = deps
  const idp = findIdentityProvider(deps, input.idpId)
  const pending = input.pending
  try {
    if (pending === null || pending.idpId !== idp.id) {
      throw new KeygateError(
        'LOGIN_STATE_INVALID',
        'No sign-in is in progress in this browser for this IdP; start again',
      )
    }
    if (input.callbackUrl.searchParams.get('state') !== pending.state) {
      throw new KeygateError(
        'LOGIN_STATE_INVALID',
        'The state returned by the IdP does not match this browser’s sign-in',
      )
    }
    if (!(await store.consumeLoginState(pending.state, clock.now()))) {
      throw new KeygateError(
        'LOGIN_STATE_INVALID',
        'This sign-in response was already used or has expired; start again',
      )
    }
    const login = await idp.completeLogin(input.callbackUrl, pending)
    if (login.groupsComplete === false) {
      // Fail closed: grants could miss a group the user has and, worse, deny rules could too.
      throw new KeygateError(
        'LOGIN_FAILED',
        'The IdP sent only part of this user’s groups (a group overage); Keygate cannot apply the policy to a partial list. Limit the groups claim at the IdP (e.g. Entra: groups assigned to the application).',
        {
          reasons: [
            { code: 'GROUPS_INCOMPLETE', message: 'the ID token signalled more groups than it carried' },
          ],
        },
      )
    }
    const stale = checkAuthFreshness(login.auth, pending.maxAgeSeconds, clock.now())
    if (stale !== null) {
      throw new KeygateError(stale.code as 'AUTH_TIME_MISSING' | 'AUTH_TOO_OLD', stale.message, {
        reasons: [stale],
      })
    }

    const now = clock.now()
    const identity = await store.upsertIdentity(
      {
        idpId: idp.id,
        issuer: login.issuer,
        subject: login.subject,
        email: login.email,
        emailVerified: login.emailVerified,
        name: login.name,
        groups: login.groups,
      },
      now,
    )
    const sessionId = randomId(deps)
    const sessionExpiresAt = now + SESSION_TTL_MS
    await store.createSession({ id: sessionId, identityId: identity.id, expiresAt: sessionExpiresAt }, now)
    await store.appendAudit(
      {
        type: 'login.succeeded',
        identityId: identity.id,
        leaseId: null,
        gatewayId: null,
        actor: identity.email,
        policyHash: deps.policy().hash,
        data: { idp: idp.id, ...auditAuth(login.auth) },
      },
      now,
    )
    deps.logger.info('login.succeeded', { idp: idp.id, identityId: identity.id, verdict: login.auth.verdict })
    return { identity, auth: login.auth, sessionId, sessionExpiresAt, returnTo: pending.returnTo }
  } catch (error) {
    const code = isKeygateError(error) ? error.code : 'INTERNAL'
    await store.appendAudit(
      {
        type: 'login.failed',
        identityId: null,
        leaseId: null,
        gatewayId: null,
        actor: null,
        policyHash: deps.policy().hash,
        data: { idp: idp.id, code, message: error instanceof Error ? error.message : String(error) },
      },
      clock.now(),
    )
    deps.logger.warn('login.failed', { idp: idp.id, code })
    throw error
  }
}

export async function endSession(deps: BrokerDeps, sessionId: string, identityId: string): Promise<void> {
  const now = deps.clock.now()
  await deps.store.endSession(sessionId, now)
  await deps.store.appendAudit(
    { type: 'logout', identityId, leaseId: null, gatewayId: null, actor: null, policyHash: null, data: {} },
    now,
  )
}

export function findIdentityProvider(deps: BrokerDeps, idpId: string) {
  const idp = deps.idps.get(idpId)
  if (idp === undefined) {
    throw new KeygateError('UNKNOWN_IDP', `No identity provider "${idpId}" is configured`, {
      details: { known: [...deps.idps.keys()] },
    })
  }
  return idp
}

/** The raw authentication facts every audit event and lease keeps. */
export function auditAuth(auth: AuthFacts): Record<string, unknown> {
  return {
    verdict: auth.verdict,
    amr: auth.amr,
    acr: auth.acr,
    acrs: auth.acrs,
    authTime: auth.authTime,
    stepUp: auth.stepUp,
  }
}

export function randomId(deps: Pick<BrokerDeps, 'random'>, bytes = 16): string {
  return base64Url(deps.random.bytes(bytes))
}

function base64Url(bytes: Uint8Array): string {
  return encodeBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
