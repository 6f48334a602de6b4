/**
 * The configured OIDC identity providers, parsed from `KEYGATE_IDP_<ID>_*` variables (environment on
 * Node, bindings on Workers). Pure: the caller passes the variables in.
 *
 * Every problem is reported at once, each naming its variable, in one KeygateError('CONFIG_INVALID').
 * Unknown `KEYGATE_IDP_*` names are errors too: a typo such as `_CLIENTID` must not leave an IdP half-set.
 */
import { KeygateError } from '../errors.ts'
import { isLoopbackUrl } from './loopback.ts'
import {
  IDP_PROFILE_NAMES,
  type IdpProfileName,
  inferProfile,
  isIdpProfileName,
  type ProfileOptions,
} from './profiles.ts'

export interface IdpConfig {
  /** Lower case; the `:idp` of `/auth/:idp/login` and `/auth/:idp/callback`. */
  id: string
  displayName: string
  issuer: string
  clientId: string
  clientSecret: string
  profile: IdpProfileName
  scopes: string[]
  options: ProfileOptions
}

const PREFIX = 'KEYGATE_IDP_'

// Longest first, so `_CLIENT_ID` is never read as an id ending in `_CLIENT` with suffix `_ID`.
const SUFFIXES = [
  'CLIENT_SECRET',
  'DISPLAY_NAME',
  'GROUPS_CLAIM',
  'AUTH_CONTEXT',
  'ACR_VALUES',
  'CLIENT_ID',
  'MFA_AMR',
  'PROFILE',
  'ISSUER',
  'SCOPES',
  'LOA',
] as const

type Suffix = (typeof SUFFIXES)[number]

export const DEFAULT_SCOPES = ['openid', 'email', 'profile']

const DISPLAY_NAMES: Record<IdpProfileName, string> = {
  google: 'Google',
  entra: 'Microsoft Entra ID',
  okta: 'Okta',
  keycloak: 'Keycloak',
  auth0: 'Auth0',
  generic: '',
}

export function parseIdpConfigs(env: Readonly<Record<string, string | undefined>>): IdpConfig[] {
  const problems: string[] = []
  // id (lower case) -> suffix -> [variable name, value]
  const byId = new Map<string, Map<Suffix, [string, string]>>()
  const spelling = new Map<string, string>()

  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(PREFIX) || raw === undefined) continue
    const rest = name.slice(PREFIX.length)
    const suffix = SUFFIXES.find((s) => rest.endsWith(`_${s}`) && rest.length > s.length + 1)
    if (suffix === undefined) {
      problems.push(`${name}: unknown variable; expected ${PREFIX}<ID>_{${SUFFIXES.join(',')}}`)
      continue
    }
    const rawId = rest.slice(0, -(suffix.length + 1))
    if (!/^[A-Za-z0-9][A-Za-z0-9_]*$/.test(rawId)) {
      problems.push(`${name}: the IdP id "${rawId}" may only contain letters, digits and underscores`)
      continue
    }
    const id = rawId.toLowerCase()
    const seen = spelling.get(id)
    if (seen !== undefined && seen !== rawId) {
      problems.push(`${name}: the IdP id "${rawId}" is also spelled "${seen}"; ids are case-insensitive`)
      continue
    }
    spelling.set(id, rawId)
    let vars = byId.get(id)
    if (vars === undefined) {
      vars = new Map()
      byId.set(id, vars)
    }
    vars.set(suffix, [name, raw.trim()])
  }

  const configs: IdpConfig[] = []
  for (const [id, vars] of [...byId].sort(([a], [b]) => a.localeCompare(b))) {
    const config = parseOne(id, spelling.get(id) ?? id.toUpperCase(), vars, problems)
    if (config !== null) configs.push(config)
  }
  if (problems.length > 0) {
    throw new KeygateError(
      'CONFIG_INVALID',
      `Invalid identity provider configuration:\n  - ${problems.join('\n  - ')}`,
    )
  }
  return configs
}

function parseOne(
  id: string,
  rawId: string,
  vars: Map<Suffix, [string, string]>,
  problems: string[],
): IdpConfig | null {
  const before = problems.length
  const varName = (suffix: Suffix) => `${PREFIX}${rawId}_${suffix}`
  const value = (suffix: Suffix) => {
    const v = vars.get(suffix)?.[1]
    return v === undefined || v === '' ? undefined : v
  }
  const required = (suffix: Suffix) => {
    const v = value(suffix)
    if (v === undefined) problems.push(`${varName(suffix)} is required for IdP "${id}"`)
    return v ?? ''
  }

  // Kept exactly as written: discovery compares it byte for byte (Auth0's issuer ends in "/", Google's not).
  const issuer = required('ISSUER')
  const clientId = required('CLIENT_ID')
  const clientSecret = required('CLIENT_SECRET')
  if (issuer !== '') checkIssuer(issuer, varName('ISSUER'), problems)

  const rawProfile = value('PROFILE')?.toLowerCase()
  let profile: IdpProfileName = inferProfile(issuer)
  if (rawProfile !== undefined) {
    if (isIdpProfileName(rawProfile)) profile = rawProfile
    else
      problems.push(
        `${varName('PROFILE')} must be one of ${IDP_PROFILE_NAMES.join(', ')}; got "${rawProfile}"`,
      )
  }

  const scopes =
    value('SCOPES')
      ?.split(/[\s,]+/)
      .filter(Boolean) ?? DEFAULT_SCOPES
  if (!scopes.includes('openid')) problems.push(`${varName('SCOPES')} must include "openid"`)

  const options: ProfileOptions = {}
  const acrValues = words(value('ACR_VALUES'))
  if (acrValues !== undefined) {
    if (profile === 'entra') {
      problems.push(
        `${varName('ACR_VALUES')} does not apply to profile entra; use ${varName('AUTH_CONTEXT')}`,
      )
    } else options.acrValues = acrValues
  }
  const authContext = value('AUTH_CONTEXT')
  if (authContext !== undefined) {
    if (profile !== 'entra') problems.push(`${varName('AUTH_CONTEXT')} applies only to profile entra`)
    else if (!/^c([1-9]|1\d|2[0-5])$/i.test(authContext)) {
      problems.push(
        `${varName('AUTH_CONTEXT')} must be an Entra authentication context id c1…c25; got "${authContext}"`,
      )
    } else options.authContext = authContext.toLowerCase()
  }
  const loa = value('LOA')
  if (loa !== undefined) {
    if (profile !== 'keycloak') problems.push(`${varName('LOA')} applies only to profile keycloak`)
    else if (!/^[1-9]\d{0,2}$/.test(loa))
      problems.push(`${varName('LOA')} must be a level of 1 or more; got "${loa}"`)
    else options.loa = Number(loa)
  }
  const mfaAmr = words(value('MFA_AMR'))
  if (mfaAmr !== undefined) options.mfaAmr = mfaAmr
  const groupsClaim = value('GROUPS_CLAIM')
  if (groupsClaim !== undefined) options.groupsClaim = groupsClaim

  if (problems.length > before) return null
  return {
    id,
    displayName: value('DISPLAY_NAME') ?? (DISPLAY_NAMES[profile] || id),
    issuer,
    clientId,
    clientSecret,
    profile,
    scopes,
    options,
  }
}

function checkIssuer(issuer: string, name: string, problems: string[]): void {
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    problems.push(`${name} is not a URL: "${issuer}"`)
    return
  }
  if (url.search !== '' || url.hash !== '') problems.push(`${name} must not have a query or fragment`)
  if (url.protocol === 'https:') return
  // Plain http leaks codes and lets anyone on the path forge discovery; only this machine is exempt.
  if (url.protocol === 'http:' && isLoopbackUrl(url)) return
  problems.push(`${name} must be an https URL (http only on localhost/127.0.0.1/::1); got "${issuer}"`)
}

function words(raw: string | undefined): string[] | undefined {
  const list = raw?.split(/[\s,]+/).filter(Boolean)
  return list === undefined || list.length === 0 ? undefined : list
}
