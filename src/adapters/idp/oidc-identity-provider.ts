/**
 * The IdentityProvider port on openid-client v6: one configured OIDC IdP.
 *
 * openid-client owns the protocol checks (discovery issuer match, PKCE, state, nonce, `iss` per RFC
 * 9207, ID token signature, audience, algorithm, and `auth_time` against `max_age` in the code flow).
 * This adapter adds what it leaves to the relying party: the profile's extra request parameters, and the
 * verdict from `amr`/`acr`/`acrs`/`auth_time`, read only from the verified ID token, never from UserInfo.
 */
import { createRemoteJWKSet, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose'
import * as oidc from 'openid-client'
import { KeygateError } from '../../core/errors.ts'
import {
  assessAuthentication,
  authorizationParams,
  checkAuthFreshness,
  DEFAULT_CLOCK_SKEW_SECONDS,
  groupsFromClaims,
  type IdpConfig,
  isLoopbackUrl,
} from '../../core/identity/index.ts'
import type {
  Clock,
  IdentityProvider,
  Logger,
  LogoutToken,
  PendingLogin,
  VerifiedLogin,
} from '../../core/ports.ts'
import { translateOidcError } from './oidc-error-translation.ts'

export interface OidcIdentityProviderOptions {
  /** Used for Keygate's own auth_time check after openid-client's; defaults to the system clock. */
  clock?: Clock
  /** Seconds for each HTTP request to the IdP (discovery, token, JWKS). */
  timeoutSeconds?: number
  /** Tolerance for clock differences with the IdP, in both directions. */
  clockSkewSeconds?: number
  logger?: Logger
  /** Keeps discovery metadata and the JWKS where a fresh isolate finds them (Workers); none on Node. */
  metadataCache?: OidcMetadataCache
}

/**
 * Outside storage for what openid-client would otherwise refetch in every new isolate: the discovery
 * document (already checked against the issuer when it was first fetched) and the exported JWKS cache.
 */
export interface OidcMetadataCache {
  getServerMetadata(issuer: string): Promise<oidc.ServerMetadata | null>
  putServerMetadata(issuer: string, metadata: oidc.ServerMetadata): Promise<void>
  getJwks(issuer: string): Promise<oidc.ExportedJWKSCache | null>
  putJwks(issuer: string, jwks: oidc.ExportedJWKSCache): Promise<void>
}

/** A verified login plus what `VerifiedLogin` cannot say yet: whether the groups list is complete. */
export interface OidcVerifiedLogin extends VerifiedLogin {
  /** False on an Entra group overage: `groups` is then empty, so `idp:` members fail closed. */
  groupsComplete: boolean
}

/** OIDC Back-Channel Logout 1.0 §2.4: the event member a logout token's `events` claim must hold. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'
/** A logout token older than this (by `iat`) is refused, bounding how long its jti must be remembered. */
export const LOGOUT_TOKEN_MAX_AGE_SECONDS = 600

/** How long openid-client (oauth4webapi) uses a downloaded JWKS before fetching it again. */
const JWKS_FRESH_SECONDS = 300

const SYSTEM_CLOCK: Clock = { now: () => Date.now() }

export class OidcIdentityProvider implements IdentityProvider {
  readonly id: string
  readonly displayName: string
  readonly config: IdpConfig
  readonly #clock: Clock
  readonly #timeoutSeconds: number
  readonly #skewSeconds: number
  readonly #logger: Logger | undefined
  readonly #cache: OidcMetadataCache | undefined
  #discovered: Promise<oidc.Configuration> | null = null
  #logoutKeys: ReturnType<typeof createRemoteJWKSet> | null = null

  constructor(config: IdpConfig, options: OidcIdentityProviderOptions = {}) {
    this.id = config.id
    this.displayName = config.displayName
    this.config = config
    this.#clock = options.clock ?? SYSTEM_CLOCK
    this.#timeoutSeconds = options.timeoutSeconds ?? 10
    this.#skewSeconds = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS
    this.#logger = options.logger
    this.#cache = options.metadataCache
  }

  async startLogin(input: {
    redirectUri: string
    maxAgeSeconds: number
    stepUp: boolean
  }): Promise<{ url: string; pending: PendingLogin }> {
    const configuration = await this.#configuration()
    const codeVerifier = oidc.randomPKCECodeVerifier()
    const state = oidc.randomState()
    const nonce = oidc.randomNonce()
    const maxAgeSeconds = Math.max(0, Math.floor(input.maxAgeSeconds))
    const url = oidc.buildAuthorizationUrl(configuration, {
      // The profile's parameters first, so nothing it says can replace the protocol's own below.
      ...authorizationParams(this.config.profile, this.config.options, input.stepUp),
      redirect_uri: input.redirectUri,
      response_type: 'code',
      scope: this.config.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      max_age: String(maxAgeSeconds),
    })
    return {
      url: url.href,
      // returnTo is the broker's to fill in; the IdP adapter does not know where the user came from.
      pending: {
        idpId: this.id,
        state,
        nonce,
        codeVerifier,
        maxAgeSeconds,
        stepUp: input.stepUp,
        returnTo: '/',
      },
    }
  }

  /** @param callbackUrl the redirect URI on Keygate's public base URL, with the IdP's query parameters. */
  async completeLogin(callbackUrl: URL, pending: PendingLogin): Promise<OidcVerifiedLogin> {
    if (pending.idpId !== this.id) {
      throw new KeygateError('LOGIN_STATE_INVALID', `This sign-in was started with another identity provider`)
    }
    const configuration = await this.#configuration()
    let claims: oidc.IDToken
    let refreshToken: string | null = null
    const jwksBefore = await this.#loadJwks(configuration)
    try {
      const tokens = await oidc.authorizationCodeGrant(configuration, callbackUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        maxAge: pending.maxAgeSeconds,
      })
      const verified = tokens.claims()
      if (verified === undefined)
        throw new KeygateError('LOGIN_FAILED', 'The identity provider returned no ID token')
      claims = verified
      refreshToken = typeof tokens.refresh_token === 'string' ? tokens.refresh_token : null
    } catch (error) {
      throw translateOidcError(error, 'callback', this.id)
    }
    await this.#saveJwks(configuration, jwksBefore)

    const auth = assessAuthentication(this.config.profile, claims, this.config.options)
    // openid-client has checked this already in the code flow; checking again keeps the rule in one
    // place (core) and covers an openid-client that changes behaviour.
    const stale = checkAuthFreshness(auth, pending.maxAgeSeconds, this.#clock.now(), this.#skewSeconds)
    if (stale !== null) {
      throw new KeygateError(
        stale.code === 'AUTH_TOO_OLD' ? 'AUTH_TOO_OLD' : 'AUTH_TIME_MISSING',
        stale.message,
        {
          reasons: [stale],
          details: { idp: this.id },
        },
      )
    }
    const groups = groupsFromClaims(this.config.profile, claims, this.config.options)
    if (!groups.complete) {
      this.#logger?.warn('idp.groups_incomplete', {
        idp: this.id,
        subject: claims.sub,
        why: groups.incomplete,
      })
    }
    return {
      issuer: claims.iss,
      subject: claims.sub,
      email: typeof claims.email === 'string' ? claims.email : null,
      emailVerified: claims.email_verified === true || claims.email_verified === 'true',
      name: typeof claims.name === 'string' ? claims.name : null,
      groups: groups.groups,
      groupsComplete: groups.complete,
      ...(groups.incomplete === undefined ? {} : { groupsIncomplete: groups.incomplete }),
      auth,
      sid: typeof claims.sid === 'string' ? claims.sid : null,
      refreshToken,
    }
  }

  /**
   * OIDC Back-Channel Logout 1.0 §2.6: signature by the IdP's keys (from its discovered jwks_uri), issuer,
   * audience = our client id, `iat` present and recent, `jti`, the back-channel logout event, `sid` or
   * `sub`, and no `nonce` (so an ID token can never pass as a logout token).
   */
  async verifyLogoutToken(token: string): Promise<LogoutToken> {
    const configuration = await this.#configuration()
    const server = configuration.serverMetadata()
    if (server.jwks_uri === undefined) {
      throw new KeygateError('IDP_UNAVAILABLE', `The identity provider "${this.id}" publishes no jwks_uri`)
    }
    this.#logoutKeys ??= createRemoteJWKSet(new URL(server.jwks_uri), {
      timeoutDuration: this.#timeoutSeconds * 1000,
    })
    let payload: JWTPayload
    try {
      ;({ payload } = await jwtVerify(token, this.#logoutKeys, {
        issuer: this.config.issuer,
        audience: this.config.clientId,
        requiredClaims: ['iat', 'jti', 'events'],
        maxTokenAge: LOGOUT_TOKEN_MAX_AGE_SECONDS,
        clockTolerance: this.#skewSeconds,
        currentDate: new Date(this.#clock.now()),
        algorithms: server.id_token_signing_alg_values_supported ?? ['RS256'],
      }))
    } catch (error) {
      if (error instanceof joseErrors.JOSEError && !(error instanceof joseErrors.JWKSTimeout)) {
        throw new KeygateError('INVALID_REQUEST', `The logout token is not valid: ${error.message}`)
      }
      throw new KeygateError(
        'IDP_UNAVAILABLE',
        `The identity provider "${this.id}" keys could not be fetched`,
        {
          cause: error,
        },
      )
    }
    const events = payload.events
    if (
      typeof events !== 'object' ||
      events === null ||
      Array.isArray(events) ||
      typeof (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT] !== 'object'
    ) {
      throw new KeygateError('INVALID_REQUEST', 'The logout token carries no back-channel logout event')
    }
    if ('nonce' in payload) {
      throw new KeygateError('INVALID_REQUEST', 'A logout token must not carry a nonce')
    }
    const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : null
    const subject = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : null
    if (sid === null && subject === null) {
      throw new KeygateError('INVALID_REQUEST', 'The logout token names neither a sid nor a sub')
    }
    const iat = payload.iat as number
    return {
      issuer: this.config.issuer,
      subject,
      sid,
      jti: payload.jti as string,
      expiresAt: typeof payload.exp === 'number' ? payload.exp : iat + LOGOUT_TOKEN_MAX_AGE_SECONDS,
    }
  }

  /** A refresh token grant: the IdP's answer to "does this sign-in still stand?". */
  async refresh(
    refreshToken: string,
  ): Promise<{ ok: false; reason: string } | { ok: true; refreshToken: string | null }> {
    const configuration = await this.#configuration()
    try {
      const tokens = await oidc.refreshTokenGrant(configuration, refreshToken)
      return {
        ok: true,
        refreshToken: typeof tokens.refresh_token === 'string' ? tokens.refresh_token : null,
      }
    } catch (error) {
      // The IdP answered and refused (invalid_grant: revoked, user disabled, session ended).
      if (error instanceof oidc.ResponseBodyError && error.status >= 400 && error.status < 500) {
        return { ok: false, reason: error.error }
      }
      throw translateOidcError(error, 'refresh', this.id)
    }
  }

  /** Discovery once, lazily (so the broker starts while an IdP is down); a failure is retried next time. */
  #configuration(): Promise<oidc.Configuration> {
    if (this.#discovered === null) {
      const attempt = this.#discover()
      this.#discovered = attempt
      attempt.catch(() => {
        if (this.#discovered === attempt) this.#discovered = null
      })
    }
    return this.#discovered
  }

  async #discover(): Promise<oidc.Configuration> {
    const issuer = new URL(this.config.issuer)
    // Plain http only for an IdP on this machine (tests, the dev IdP); parseIdpConfigs refuses others.
    const insecure = issuer.protocol === 'http:' && isLoopbackUrl(issuer)
    try {
      let server = await this.#cachedServerMetadata()
      if (server === null) {
        const discovered = await oidc.discovery(issuer, this.config.clientId, undefined, undefined, {
          timeout: this.#timeoutSeconds,
          ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
        })
        server = discovered.serverMetadata()
        await this.#cache
          ?.putServerMetadata(this.config.issuer, server)
          .catch((error: unknown) => this.#cacheFailed('put', error))
      }
      const configuration = new oidc.Configuration(
        server,
        this.config.clientId,
        { client_secret: this.config.clientSecret },
        clientAuthentication(server.token_endpoint_auth_methods_supported, this.config.clientSecret),
      )
      configuration.timeout = this.#timeoutSeconds
      if (insecure) oidc.allowInsecureRequests(configuration)
      return configuration
    } catch (error) {
      const translated = translateOidcError(error, 'discovery', this.id)
      this.#logger?.warn('idp.discovery_failed', {
        idp: this.id,
        issuer: this.config.issuer,
        message: translated.message,
      })
      throw translated
    }
  }
  /** A cached document counts only when its issuer is the configured one, as discovery itself demands. */
  async #cachedServerMetadata(): Promise<oidc.ServerMetadata | null> {
    const cached = await this.#cache
      ?.getServerMetadata(this.config.issuer)
      .catch((error: unknown) => this.#cacheFailed('get', error))
    return cached != null && cached.issuer === this.config.issuer ? cached : null
  }

  async #loadJwks(configuration: oidc.Configuration): Promise<number | undefined> {
    // openid-client trusts a key set for 5 minutes (and refetches on an unknown `kid`): an isolate whose
    // own copy is that fresh keeps it, else another isolate's fresher download saves a fetch.
    const held = oidc.getJwksCache(configuration)
    if (
      this.#cache === undefined ||
      (held !== undefined && this.#clock.now() / 1000 - held.uat < JWKS_FRESH_SECONDS)
    )
      return held?.uat
    const cached = await this.#cache
      .getJwks(this.config.issuer)
      .catch((error: unknown) => this.#cacheFailed('get', error))
    if (cached != null) oidc.setJwksCache(configuration, cached)
    return oidc.getJwksCache(configuration)?.uat
  }

  /** Writes back only when openid-client fetched a newer key set (its `uat` moved). */
  async #saveJwks(configuration: oidc.Configuration, uatBefore: number | undefined): Promise<void> {
    if (this.#cache === undefined) return
    const current = oidc.getJwksCache(configuration)
    if (current === undefined || current.uat === uatBefore) return
    await this.#cache
      .putJwks(this.config.issuer, current)
      .catch((error: unknown) => this.#cacheFailed('put', error))
  }

  /** The cache only saves round trips: when it fails, the IdP is asked instead. */
  #cacheFailed(operation: string, error: unknown): null {
    this.#logger?.warn('idp.metadata_cache_failed', {
      idp: this.id,
      operation,
      message: error instanceof Error ? error.message : String(error),
    })
    return null
  }
}

/**
 * client_secret_basic unless the IdP lists only client_secret_post: basic is the default of RFC 8414 and
 * OIDC Discovery when the list is absent, and what most IdPs register a confidential client with.
 */
function clientAuthentication(supported: string[] | undefined, secret: string): oidc.ClientAuth {
  if (supported === undefined || supported.includes('client_secret_basic'))
    return oidc.ClientSecretBasic(secret)
  return oidc.ClientSecretPost(secret)
}

/** One adapter per configured IdP, keyed by id (the `:idp` of the auth routes). */
export function createIdentityProviders(
  configs: readonly IdpConfig[],
  options: OidcIdentityProviderOptions = {},
): Map<string, OidcIdentityProvider> {
  const providers = new Map<string, OidcIdentityProvider>()
  for (const config of configs) {
    if (providers.has(config.id)) {
      throw new KeygateError('CONFIG_INVALID', `Two identity providers share the id "${config.id}"`)
    }
    providers.set(config.id, new OidcIdentityProvider(config, options))
  }
  return providers
}
