/**
 * Hosts an oidc-provider 9 instance with Keygate's own sign-in page, as a plain Node request handler
 * that can be mounted under a path prefix. The development IdP and the test IdP are both built on it;
 * what differs between them (who can sign in, with which amr/acr/auth_time) comes in as functions.
 *
 * The sign-in page lists users with one button each, so a person (or a test driving real redirects)
 * picks who to be. There is no password: this is never an IdP for real accounts.
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import Provider, {
  type Account,
  type Configuration,
  type InteractionDetails,
  type LoginResult,
  type OidcContext,
} from 'oidc-provider'
import { createMemoryAdapterFactory } from './oidc-provider-memory-store.ts'

export interface HostedUser {
  sub: string
  email: string
  name: string
  groups: string[]
  /** What the button says next to the name, e.g. "password + one-time code". */
  description?: string
  /** Any further ID token claims (e.g. `acrs`, `_claim_names`). */
  extraClaims?: Record<string, unknown>
}

export interface HostedClient {
  clientId: string
  clientSecret: string
  redirectUris: string[]
  /** Where oidc-provider sends back-channel logout tokens (turns the feature on). */
  backchannelLogoutUri?: string
  /** Issue refresh tokens to this client with every code exchange. */
  refreshTokens?: boolean
}

export interface OidcProviderHostOptions {
  /** The issuer; its path (e.g. `/dev-idp`) is the prefix the handler is mounted under. */
  issuer: string
  clients: HostedClient[]
  /** Users offered on the sign-in page, in order. */
  users(): HostedUser[]
  /** How the chosen user authenticated: amr, acr and the time (`ts`, seconds) that becomes auth_time. */
  loginFor(user: HostedUser, interaction: InteractionDetails): Omit<LoginResult, 'accountId'>
  /** `acr` values the provider may return; oidc-provider drops `acr` when this list is empty. */
  acrValues: string[]
  /** A private signing JWKS; a fresh RSA key is generated when absent, so no key is ever committed. */
  jwks?: { keys: Record<string, unknown>[] }
  /** Shown in the page title. */
  title: string
  /** Changes to the provider configuration (e.g. a test's interaction policy). */
  configure?: (configuration: Configuration) => void
}

export interface OidcProviderHost {
  provider: Provider
  /** The path prefix the handler expects (empty when the issuer has no path). */
  mountPath: string
  handle(req: IncomingMessage, res: ServerResponse): void
}

const FORM_LIMIT_BYTES = 8 * 1024

export function createOidcProviderHost(options: OidcProviderHostOptions): OidcProviderHost {
  const issuerUrl = new URL(options.issuer)
  const mountPath = issuerUrl.pathname.replace(/\/+$/, '')
  const usersBySub = () => new Map(options.users().map((user) => [user.sub, user]))

  const configuration: Configuration = {
    clients: options.clients.map((client) => ({
      client_id: client.clientId,
      client_secret: client.clientSecret,
      redirect_uris: client.redirectUris,
      grant_types:
        client.refreshTokens === true ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
      response_types: ['code'],
      ...(client.backchannelLogoutUri === undefined
        ? {}
        : { backchannel_logout_uri: client.backchannelLogoutUri, backchannel_logout_session_required: true }),
    })),
    // oidc-provider refuses outgoing requests to special-use addresses (SSRF protection); its only outgoing
    // request here is the back-channel logout to the relying party, which for this loopback-only IdP is on
    // loopback too. So its protective dispatcher is dropped, and nothing else changes.
    fetch: (url: string | URL, init: RequestInit & { dispatcher?: unknown }) => {
      const { dispatcher: _protective, ...rest } = init
      return globalThis.fetch(url, rest)
    },
    // Without offline_access in the request: a client allowed the grant type gets one (Keygate asks for none).
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    adapter: createMemoryAdapterFactory(),
    jwks: options.jwks ?? { keys: [generateSigningJwk()] },
    // Cookie signing keys live only as long as the process, like the sessions they protect.
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    acrValues: options.acrValues,
    // amr and acr are not oidc-provider defaults; putting them in `openid` sends them in every ID token,
    // as IdPs that support them do. Groups likewise, so the default scopes carry them.
    claims: {
      openid: ['sub', 'amr', 'acr', 'groups'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      acrs: null,
    },
    // Keygate reads everything from the ID token (never UserInfo), like it does with real IdPs.
    conformIdTokenClaims: false,
    // Explicit lifetimes (seconds): short, as a sign-in needs them for moments, and oidc-provider otherwise
    // warns on every token it issues.
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      backchannelLogout: { enabled: options.clients.some((c) => c.backchannelLogoutUri !== undefined) },
    },
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) => `${mountPath}/interaction/${interaction.uid}`,
    },
    async findAccount(_ctx: unknown, sub: string): Promise<Account | undefined> {
      const user = usersBySub().get(sub)
      if (user === undefined) return undefined
      return {
        accountId: sub,
        claims: () => ({
          sub,
          email: user.email,
          email_verified: true,
          name: user.name,
          groups: user.groups,
          ...user.extraClaims,
        }),
      }
    },
    // No consent screen: grant what was asked. A development and test IdP has nothing to protect.
    async loadExistingGrant(ctx: OidcContext) {
      const { oidc } = ctx
      const accountId = oidc.session.accountId
      if (accountId === undefined) return undefined
      const grant = new provider.Grant({ accountId, clientId: oidc.client.clientId })
      grant.addOIDCScope([...oidc.requestParamScopes].join(' '))
      grant.addOIDCClaims([...oidc.requestParamClaims])
      await grant.save()
      return grant
    },
  }
  options.configure?.(configuration)
  const provider = new Provider(options.issuer, configuration)
  // Composed on the first request, not here: Koa fixes its middleware stack when callback() is called,
  // and callers may still add middleware (provider.use) after this returns.
  let callback: ReturnType<Provider['callback']> | null = null

  async function interaction(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const details = await provider.interactionDetails(req, res)
    if (req.method === 'GET' && path === `/interaction/${details.uid}`) {
      sendHtml(
        res,
        200,
        renderSignInPage(options.title, `${mountPath}/interaction/${details.uid}/login`, options.users()),
      )
      return
    }
    if (req.method === 'POST' && path === `/interaction/${details.uid}/login`) {
      const form = new URLSearchParams(await readBody(req, FORM_LIMIT_BYTES))
      const user = usersBySub().get(form.get('sub') ?? '')
      if (user === undefined) {
        sendHtml(res, 400, '<p>Unknown user.</p>')
        return
      }
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: user.sub, ...options.loginFor(user, details) } },
        { mergeWithLastSubmission: false },
      )
      return
    }
    sendHtml(res, 404, '<p>Not found.</p>')
  }

  return {
    provider,
    mountPath,
    handle(req, res) {
      const url = req.url ?? '/'
      if (
        mountPath !== '' &&
        url !== mountPath &&
        !url.startsWith(`${mountPath}/`) &&
        !url.startsWith(`${mountPath}?`)
      ) {
        sendHtml(res, 404, '<p>Not found.</p>')
        return
      }
      // oidc-provider works out its mount point from originalUrl versus url, as under express.
      const inner = url.slice(mountPath.length) || '/'
      const path = inner.split('?')[0] ?? '/'
      if (path.startsWith('/interaction/')) {
        res.setHeader('Cache-Control', 'no-store')
        interaction(req, res, path).catch((error: unknown) => {
          if (res.headersSent) return res.end()
          const expired = error instanceof Error && error.name === 'SessionNotFound'
          sendHtml(
            res,
            expired ? 400 : 500,
            expired ? '<p>This sign-in has expired. Start again.</p>' : '<p>Error.</p>',
          )
        })
        return
      }
      Object.assign(req, { originalUrl: url })
      req.url = inner
      callback ??= provider.callback()
      callback(req, res)
    },
  }
}

/** An RS256 key (openid-client's default ID token algorithm) generated per process. */
export function generateSigningJwk(): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' }
}

function renderSignInPage(title: string, action: string, users: HostedUser[]): string {
  const buttons = users
    .map(
      (user) => `<li><form method="post" action="${escapeHtml(action)}">
  <input type="hidden" name="sub" value="${escapeHtml(user.sub)}">
  <button type="submit" data-email="${escapeHtml(user.email)}">Sign in as ${escapeHtml(user.name)} &lt;${escapeHtml(user.email)}&gt;</button>
  ${user.description === undefined ? '' : `<small>${escapeHtml(user.description)}</small>`}
</form></li>`,
    )
    .join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}li{margin:.75rem 0;list-style:none}button{font:inherit;padding:.4rem .8rem}small{display:block;color:#555}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
<p>Pick a demo user. No password: this identity provider exists for development and tests only.</p>
<ul>
${buttons}
</ul>
</body></html>`
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function sendHtml(res: ServerResponse, status: number, body: string): void {
  res.statusCode = status
  res.setHeader('Content-Type', 'text/html; charset=utf-8')
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'")
  res.end(body)
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        reject(new Error('form too large'))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}
