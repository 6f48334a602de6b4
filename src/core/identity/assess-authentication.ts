/**
 * Turns the claims of a verified ID token into AuthFacts: the raw `amr`/`acr`/`acrs`/`auth_time` and the
 * verdict of the IdP's profile. Only `mfa` can satisfy an MFA requirement.
 *
 * The verdict looks only at what came back, never at what was requested. `single` means the IdP said how
 * the user signed in and it was not MFA; `unknown` means it said nothing Keygate can judge (no `amr`, no
 * `acr`, no `acrs`), which the policy treats like `single` unless it chooses otherwise.
 */
import type { AuthFacts, Verdict } from '../model.ts'
import { factorKinds } from './amr-factors.ts'
import {
  type IdpProfileName,
  keycloakLoa,
  OKTA_MFA_ACRS,
  PROFILE_MFA_AMR,
  type ProfileOptions,
} from './profiles.ts'

export type IdTokenClaims = Readonly<Record<string, unknown>>

export function assessAuthentication(
  profile: IdpProfileName,
  claims: IdTokenClaims,
  options: ProfileOptions = {},
): AuthFacts {
  const amr = stringList(claims.amr)
  const acr =
    typeof claims.acr === 'string' ? claims.acr : typeof claims.acr === 'number' ? String(claims.acr) : null
  const acrs = stringList(claims.acrs)
  const authTime =
    typeof claims.auth_time === 'number' && Number.isFinite(claims.auth_time)
      ? Math.floor(claims.auth_time)
      : null
  return { verdict: verdictOf(profile, { amr, acr, acrs }, options), amr, acr, acrs, authTime, stepUp: null }
}

interface Signals {
  amr: string[]
  acr: string | null
  acrs: string[]
}

function verdictOf(profile: IdpProfileName, signals: Signals, options: ProfileOptions): Verdict {
  if (isMfa(profile, signals, options)) return 'mfa'
  // Google without its session-claims bundle sends no amr at all: that is "not told", not "single".
  const saidSomething = signals.amr.length > 0 || signals.acr !== null || signals.acrs.length > 0
  return saidSomething ? 'single' : 'unknown'
}

function isMfa(profile: IdpProfileName, { amr, acr, acrs }: Signals, options: ProfileOptions): boolean {
  const mfaAmr = new Set([...PROFILE_MFA_AMR[profile], ...(options.mfaAmr ?? [])])
  const amrSaysMfa = amr.some((value) => mfaAmr.has(value))
  const acrConfigured = acr !== null && options.acrValues?.includes(acr) === true
  switch (profile) {
    case 'okta': {
      const accepted = options.acrValues ?? OKTA_MFA_ACRS
      return (acr !== null && accepted.includes(acr)) || amrSaysMfa
    }
    case 'entra': {
      const context = options.authContext?.toLowerCase()
      const contextMet = context !== undefined && acrs.some((value) => value.toLowerCase() === context)
      return contextMet || amrSaysMfa
    }
    case 'keycloak':
      // "0" is Keycloak's "SSO cookie after the level's max age ran out": never MFA, whatever else is said.
      if (acr === null || acr === '0') return false
      if (options.acrValues?.includes(acr)) return true
      return (/^\d+$/.test(acr) && Number(acr) >= keycloakLoa(options)) || amrSaysMfa
    case 'auth0':
    case 'google':
      // An explicitly configured acr (e.g. Auth0's PAPE multi-factor policy URI, set by an Action).
      return amrSaysMfa || acrConfigured
    case 'generic':
      return amrSaysMfa || acrConfigured || factorKinds(amr).size >= 2
  }
}

/** An array of strings, or a single string, as IdPs send list claims; anything else is dropped. */
export function stringList(value: unknown): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value]
  if (!Array.isArray(value)) return []
  return value.filter((item): item is string => typeof item === 'string')
}
