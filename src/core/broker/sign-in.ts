/**
 * Sign-in through an IdP: starting the authorization request and completing it into a session.
 *
 * openid-client verifies the ID token, PKCE, state, nonce, issuer and (in the code flow) max_age.
 * This module adds what it leaves to the relying party: single use of the login state (a replayed
 * callback is refused even with a valid cookie), the freshness check on auth_time, the verdict, and
 * the audit trail.
 *
 * Anonymous requests write nothing: the pending login lives in the sealed pre-login cookie, a state
 * is recorded as used only after the IdP verified the callback, and a failure before that (no cookie,
 * wrong state, a code the IdP refuses) goes to the log and the caller's metrics, not the audit table.
 * A failure after it (groups incomplete, a stale auth_time) concerns a known person and is audited.
 */
import { auditEvent } from '../audit-event.ts'
import { isKeygateError, KeygateError } from '../errors.ts'
import { checkAuthFreshness } from '../identity/index.ts'
import { type AuthFacts, type Identity, scimGroupValues } from '../model.ts'
import { encodeBase64 } from '../peers/base64.ts'
import type { PendingLogin } from '../ports.ts'
import type { BrokerDeps } from './broker-deps.ts'
import { accessBlock } from './identity-lifecycle.ts'
import { subjectFactsOf } from './subject.ts'

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
  let login: Awaited<ReturnType<typeof idp.completeLogin>>
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
    if (await store.isLoginStateUsed(pending.state, clock.now())) throw alreadyUsed()
    login = await idp.completeLogin(input.callbackUrl, pending)
    // Recorded only now, after the IdP vouched for the response: the insert that wins is the one use.
    if (!(await store.markLoginStateUsed(pending.state, clock.now() + LOGIN_STATE_TTL_MS)))
      throw alreadyUsed()
  } catch (error) {
    // Anonymous: logged, and counted by the HTTP layer's metrics, never a database row.
    deps.logger.warn('login.failed', { idp: idp.id, code: isKeygateError(error) ? error.code : 'INTERNAL' })
    throw error
  }
  try {
    const stale = checkAuthFreshness(login.auth, pending.maxAgeSeconds, clock.now())
    if (stale !== null) {
      throw new KeygateError(stale.code as 'AUTH_TIME_MISSING' | 'AUTH_TOO_OLD', stale.message, {
        reasons: [stale],
      })
    }

    const now = clock.now()
    let identity = await store.upsertIdentity(
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
    // What the IdP provisioned through SCIM has the last word: a deactivated or deleted user is refused
    // even while the IdP still lets them sign in (a cached IdP session, a lagging app assignment).
    const scimUser = await store.linkScimUser(identity, login.emailVerified ? login.email : null)
    const block = accessBlock(identity, scimUser)
    if (block !== null) {
      throw new KeygateError('IDENTITY_SUSPENDED', 'This account may not sign in to Keygate', {
        reasons: [block],
      })
    }
    if (login.groupsComplete === false) {
      // Fail closed: grants could miss a group the user has and, worse, deny rules could too; unless
      // this is an overage and SCIM holds this person's groups, which then stand in for the token's.
      const malformed = login.groupsIncomplete === 'malformed'
      if (malformed || scimUser === null) {
        throw new KeygateError(
          'GROUPS_INCOMPLETE',
          malformed
            ? 'The IdP sent a groups claim that is not a list of group names; Keygate cannot apply the policy to groups it cannot read. Fix the claim mapping at the IdP (a string or an array of strings).'
            : 'The IdP sent only part of this user’s groups (a group overage); Keygate cannot apply the policy to a partial list. Provision the user and groups with SCIM, or limit the groups claim at the IdP (e.g. Entra: groups assigned to the application).',
          {
            reasons: [
              {
                code: 'GROUPS_INCOMPLETE',
                message: malformed
                  ? 'the ID token’s groups claim is neither a string nor an array of strings'
                  : 'the ID token signalled more groups than it carried',
              },
            ],
          },
        )
      }
      const groups = (await store.listScimGroups(idp.id, { memberId: scimUser.id })).flatMap(scimGroupValues)
      await store.setIdentityGroups(identity.id, groups)
      identity = { ...identity, groups }
    }
    const sessionId = randomId(deps)
    const sessionExpiresAt = now + SESSION_TTL_MS
    await store.createSession(
      {
        id: sessionId,
        identityId: identity.id,
        expiresAt: sessionExpiresAt,
        claims: { identityId: identity.id, ...subjectFactsOf(identity), auth: login.auth },
        idpSid: login.sid ?? null,
        refreshTokenCiphertext:
          login.refreshToken == null ? null : await deps.sealer.seal(login.refreshToken),
      },
      now,
    )
    await store.appendAudit(
      auditEvent('login.succeeded', {
        identityId: identity.id,
        actor: identity.email,
        policyHash: deps.policy().hash,
        data: {
          idp: idp.id,
          ...auditAuth(login.auth),
          ...(login.groupsComplete === false ? { groupsFrom: 'scim' } : {}),
        },
      }),
      now,
    )
    deps.logger.info('login.succeeded', { idp: idp.id, identityId: identity.id, verdict: login.auth.verdict })
    return { identity, auth: login.auth, sessionId, sessionExpiresAt, returnTo: pending.returnTo }
  } catch (error) {
    const code = isKeygateError(error) ? error.code : 'INTERNAL'
    await store.appendAudit(
      auditEvent('login.failed', {
        policyHash: deps.policy().hash,
        data: {
          idp: idp.id,
          issuer: login.issuer,
          subject: login.subject,
          code,
          message: error instanceof Error ? error.message : String(error),
        },
      }),
      clock.now(),
    )
    deps.logger.warn('login.failed', { idp: idp.id, code })
    throw error
  }
}

function alreadyUsed(): KeygateError {
  return new KeygateError(
    'LOGIN_STATE_INVALID',
    'This sign-in response was already used or has expired; start again',
  )
}

export async function endSession(deps: BrokerDeps, sessionId: string, identityId: string): Promise<void> {
  const now = deps.clock.now()
  await deps.store.endSession(sessionId, now)
  await deps.store.appendAudit(auditEvent('logout', { identityId }), now)
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
