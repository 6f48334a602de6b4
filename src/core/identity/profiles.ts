/**
 * IdP profiles: what each kind of identity provider needs added to the authorization request, and the
 * defaults its MFA rule starts from. The rule itself lives in `assess-authentication.ts`, the groups in
 * `groups.ts`. Every default here can be overridden per IdP (`ProfileOptions`, from `KEYGATE_IDP_<ID>_*`).
 *
 * Requests only ask; what an IdP sends back is checked separately, because IdPs ignore what they do not
 * understand (Okta drops unknown `acr_values` silently) and users can edit the URL.
 */

export const IDP_PROFILE_NAMES = ['google', 'entra', 'okta', 'keycloak', 'auth0', 'generic'] as const

export type IdpProfileName = (typeof IDP_PROFILE_NAMES)[number]

export function isIdpProfileName(value: string): value is IdpProfileName {
  return (IDP_PROFILE_NAMES as readonly string[]).includes(value)
}

/** Per-IdP overrides of a profile's defaults. Every field is optional; absent means the profile default. */
export interface ProfileOptions {
  /** `acr` values to request with `acr_values` (okta, generic). For okta and generic, a returned `acr`
   *  in this list counts as MFA, so list only values that really mean MFA at that IdP. */
  acrValues?: readonly string[]
  /** Entra Conditional Access authentication context id (`c1`…`c25`) that requires MFA in the tenant. */
  authContext?: string
  /** Keycloak level of authentication (LoA) that means MFA in the realm's browser flow. */
  loa?: number
  /** Extra `amr` values that count as MFA on their own (e.g. `hwk`, `phr`, `pop`, `swk`). */
  mfaAmr?: readonly string[]
  /** The ID token claim that carries group names. */
  groupsClaim?: string
}

/** Okta's values that mean "two factors" or "phishing-resistant": the only `acr`s Okta's rule accepts. */
export const OKTA_MFA_ACRS: readonly string[] = ['urn:okta:loa:2fa:any', 'phr', 'phrh']
export const OKTA_REQUESTED_ACR = 'urn:okta:loa:2fa:any'
export const DEFAULT_KEYCLOAK_LOA = 2
export const DEFAULT_GROUPS_CLAIM = 'groups'

/** `amr` values each profile counts as MFA by themselves, before `mfaAmr` adds to them. */
export const PROFILE_MFA_AMR: Readonly<Record<IdpProfileName, readonly string[]>> = {
  okta: ['mfa'],
  // ngcmfa: Entra's "MFA satisfied by a Windows Hello / FIDO key" (v1 tokens).
  entra: ['mfa', 'ngcmfa'],
  // Keycloak's MFA signal is the LoA in `acr`; `amr` only exists with the AMR mapper and is admin-defined.
  keycloak: [],
  auth0: ['mfa'],
  google: ['mfa', 'hwk'],
  generic: ['mfa'],
}

/**
 * Extra authorization-request parameters for a profile. `max_age`, PKCE, `state` and `nonce` are the
 * adapter's; this adds only what tells the IdP which assurance Keygate wants.
 *
 * @param stepUp true on the second attempt after a verdict fell short: ask the IdP to authenticate anew.
 */
export function authorizationParams(
  profile: IdpProfileName,
  options: ProfileOptions,
  stepUp: boolean,
): Record<string, string> {
  const params: Record<string, string> = {}
  switch (profile) {
    case 'okta':
      params.acr_values = (options.acrValues ?? [OKTA_REQUESTED_ACR]).join(' ')
      break
    case 'entra':
      // Entra only reports a satisfied auth context when asked for it as an essential `acrs` claim.
      if (options.authContext !== undefined) {
        params.claims = JSON.stringify({
          id_token: { acrs: { essential: true, value: options.authContext } },
        })
      }
      break
    case 'keycloak':
      // Essential, so a Keycloak that cannot reach the level fails the request instead of quietly
      // returning less; Keygate checks the returned `acr` either way.
      params.claims = JSON.stringify({
        id_token: {
          acr: { essential: true, values: [...(options.acrValues ?? [String(keycloakLoa(options))])] },
        },
      })
      break
    case 'auth0':
    case 'google':
    case 'generic':
      if (options.acrValues !== undefined && options.acrValues.length > 0) {
        params.acr_values = options.acrValues.join(' ')
      }
      break
  }
  if (stepUp) params.prompt = 'login'
  return params
}

export function keycloakLoa(options: ProfileOptions): number {
  return options.loa ?? DEFAULT_KEYCLOAK_LOA
}

/** Guesses the profile from a well-known issuer, so a missing `_PROFILE` does not silently mean `generic`. */
export function inferProfile(issuer: string): IdpProfileName {
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    return 'generic'
  }
  const host = url.hostname.toLowerCase()
  if (host === 'accounts.google.com') return 'google'
  if (host === 'login.microsoftonline.com' || host.endsWith('.ciamlogin.com')) return 'entra'
  if (host.endsWith('.okta.com') || host.endsWith('.oktapreview.com') || host.endsWith('.okta-emea.com'))
    return 'okta'
  if (host.endsWith('.auth0.com')) return 'auth0'
  if (/\/realms\/[^/]+\/?$/.test(url.pathname)) return 'keycloak'
  return 'generic'
}
