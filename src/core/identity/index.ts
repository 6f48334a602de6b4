/**
 * The identity side of core: IdP profiles, the MFA verdict, auth freshness and IdP configuration.
 * One import path for adapters and the broker; each concept lives in its own module.
 */
export { type FactorKind, factorKindOf, factorKinds } from './amr-factors.ts'
export { assessAuthentication, type IdTokenClaims, stringList } from './assess-authentication.ts'
export { checkAuthFreshness, DEFAULT_CLOCK_SKEW_SECONDS } from './auth-freshness.ts'
export { type GroupsResult, groupsFromClaims } from './groups.ts'
export { DEFAULT_SCOPES, type IdpConfig, parseIdpConfigs } from './idp-config.ts'
export { isLoopbackHost, isLoopbackUrl } from './loopback.ts'
export {
  authorizationParams,
  DEFAULT_GROUPS_CLAIM,
  DEFAULT_KEYCLOAK_LOA,
  IDP_PROFILE_NAMES,
  type IdpProfileName,
  inferProfile,
  isIdpProfileName,
  OKTA_MFA_ACRS,
  OKTA_REQUESTED_ACR,
  PROFILE_MFA_AMR,
  type ProfileOptions,
} from './profiles.ts'
