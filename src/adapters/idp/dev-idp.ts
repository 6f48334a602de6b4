/**
 * The built-in development IdP that `npm start` mounts under `/dev-idp` on Keygate's own server, so a
 * fresh clone can sign in without an account anywhere. Demo users cover the cases worth seeing: MFA,
 * password only, an admin, and a second email domain.
 *
 * It refuses to exist in production or off loopback: it signs in anyone as anyone with one click.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { KeygateError } from '../../core/errors.ts'
import { DEFAULT_SCOPES, type IdpConfig, isLoopbackUrl } from '../../core/identity/index.ts'
import { createOidcProviderHost, type HostedUser } from './oidc-provider-host.ts'

export interface DevIdpOptions {
  /** e.g. `http://localhost:8080/dev-idp`; must be loopback and end in the mount path. */
  issuer: string
  clientId: string
  clientSecret: string
  /** Keygate's callback URL(s): `${KEYGATE_URL}/auth/dev/callback`. */
  redirectUris: string[]
  /** The environment to check (NODE_ENV, KEYGATE_URL); the process environment when absent. */
  env?: Readonly<Record<string, string | undefined>>
  /** A private signing JWKS; a fresh key is generated at start when absent. */
  jwks?: { keys: Record<string, unknown>[] }
}

export interface DevIdp {
  config: IdpConfig
  /** Mounted by the Node entrypoint for every request whose path starts with the issuer's path. */
  handle(req: IncomingMessage, res: ServerResponse): void
  /** The path prefix to route to `handle`, e.g. `/dev-idp`. */
  mountPath: string
  users: readonly DevUser[]
}

export interface DevUser extends HostedUser {
  amr: string[]
}

export const DEV_IDP_ID = 'dev'
const DEV_ACR_MFA = 'urn:keygate:dev:mfa'
const DEV_ACR_PASSWORD = 'urn:keygate:dev:pwd'

export const DEV_USERS: readonly DevUser[] = [
  {
    sub: 'dev-alice',
    email: 'alice@example.com',
    name: 'Alice (MFA)',
    groups: ['engineering'],
    amr: ['pwd', 'otp'],
    description: 'password + one-time code; group engineering',
  },
  {
    sub: 'dev-bob',
    email: 'bob@example.com',
    name: 'Bob (password only)',
    // No engineering group: the example policy's engineers are offered step-up, while Bob shows the
    // plain refusal a newcomer should see first (403 MFA_REQUIRED).
    groups: [],
    amr: ['pwd'],
    description: 'password only: Keygate answers 403 MFA_REQUIRED',
  },
  {
    sub: 'dev-root',
    email: 'root@example.com',
    name: 'Root (MFA, admin)',
    groups: ['admins'],
    amr: ['pwd', 'hwk'],
    description: 'password + security key; group admins',
  },
  {
    sub: 'dev-carol',
    email: 'carol@contractor.example',
    name: 'Carol (MFA, contractor)',
    groups: ['engineering'],
    amr: ['pwd', 'otp'],
    description: 'password + one-time code; another email domain; group engineering',
  },
]

export function createDevIdp(options: DevIdpOptions): DevIdp {
  const env = options.env ?? process.env
  assertDevelopmentOnly(options.issuer, env)
  const host = createOidcProviderHost({
    issuer: options.issuer,
    clients: [
      { clientId: options.clientId, clientSecret: options.clientSecret, redirectUris: options.redirectUris },
    ],
    users: () => [...DEV_USERS],
    loginFor: (user) => {
      const amr = DEV_USERS.find((u) => u.sub === user.sub)?.amr ?? ['pwd']
      return { amr, acr: amr.length > 1 ? DEV_ACR_MFA : DEV_ACR_PASSWORD, ts: Math.floor(Date.now() / 1000) }
    },
    acrValues: [DEV_ACR_MFA, DEV_ACR_PASSWORD],
    title: 'Keygate development sign-in',
    ...(options.jwks === undefined ? {} : { jwks: options.jwks }),
  })
  return {
    config: {
      id: DEV_IDP_ID,
      displayName: 'Development IdP (demo users)',
      issuer: options.issuer,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      profile: 'generic',
      scopes: [...DEFAULT_SCOPES],
      options: {},
    },
    handle: host.handle,
    mountPath: host.mountPath,
    users: DEV_USERS,
  }
}

/** Throws CONFIG_INVALID unless this is clearly a developer's machine. */
export function assertDevelopmentOnly(
  issuer: string,
  env: Readonly<Record<string, string | undefined>>,
): void {
  if (env.NODE_ENV === 'production') {
    throw new KeygateError(
      'CONFIG_INVALID',
      'The development IdP cannot run with NODE_ENV=production; configure KEYGATE_IDP_<ID>_*',
    )
  }
  if (!isLoopbackUrl(issuer)) {
    throw new KeygateError(
      'CONFIG_INVALID',
      `The development IdP needs a loopback issuer (localhost, 127.0.0.1, ::1); got "${issuer}"`,
    )
  }
  const keygateUrl = env.KEYGATE_URL
  if (keygateUrl !== undefined && keygateUrl !== '' && !isLoopbackUrl(keygateUrl)) {
    throw new KeygateError(
      'CONFIG_INVALID',
      `The development IdP needs a loopback KEYGATE_URL (localhost, 127.0.0.1, ::1); got "${keygateUrl}"`,
    )
  }
}
