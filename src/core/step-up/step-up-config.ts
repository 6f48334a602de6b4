/**
 * The step-up settings an operator chooses, parsed from the environment (Node) or the bindings (Workers):
 *
 * - `KEYGATE_FIRST_FACTOR`: what enrolling an identity's first factor needs besides a fresh sign-in
 *   (enrolment-rules.ts): `idp-mfa-or-code` (default), `idp-mfa`, `code` or `password`.
 * - `KEYGATE_WEBAUTHN_HWK_AAGUIDS`: comma-separated authenticator models (AAGUIDs) whose trusted
 *   attestation makes a WebAuthn key count as `hwk`; empty (default) means every key is `swk`.
 * - `KEYGATE_WEBAUTHN_ATTESTATION_ROOTS`: PEM root certificates (concatenated) an attestation chain must
 *   end at; without them no attestation is trusted, whatever the AAGUID says.
 */
import { KeygateError } from '../errors.ts'
import { DEFAULT_FIRST_FACTOR_RULE, FIRST_FACTOR_RULES, type FirstFactorRule } from './enrolment-rules.ts'

export interface StepUpConfig {
  firstFactor: FirstFactorRule
  hwkAaguids: string[]
  attestationRoots: string[]
}

const AAGUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** The environment (Node) or the bindings (Workers), as config.ts reads them. */
export type StepUpEnvironment = Record<string, string | undefined>

export function parseStepUpConfig(env: StepUpEnvironment): StepUpConfig {
  const problems: string[] = []
  const rawRule = env.KEYGATE_FIRST_FACTOR?.trim() || DEFAULT_FIRST_FACTOR_RULE
  if (!(FIRST_FACTOR_RULES as readonly string[]).includes(rawRule)) {
    problems.push(`KEYGATE_FIRST_FACTOR must be one of ${FIRST_FACTOR_RULES.join(', ')}, got "${rawRule}"`)
  }
  const hwkAaguids = (env.KEYGATE_WEBAUTHN_HWK_AAGUIDS ?? '')
    .split(',')
    .map((a) => a.trim().toLowerCase())
    .filter((a) => a !== '')
  for (const aaguid of hwkAaguids) {
    if (!AAGUID.test(aaguid)) problems.push(`KEYGATE_WEBAUTHN_HWK_AAGUIDS: "${aaguid}" is not an AAGUID`)
  }
  const attestationRoots = (env.KEYGATE_WEBAUTHN_ATTESTATION_ROOTS ?? '').match(PEM) ?? []
  if (hwkAaguids.length > 0 && attestationRoots.length === 0) {
    problems.push(
      'KEYGATE_WEBAUTHN_HWK_AAGUIDS needs KEYGATE_WEBAUTHN_ATTESTATION_ROOTS: without roots no attestation can be trusted',
    )
  }
  if (problems.length > 0) {
    throw new KeygateError('CONFIG_INVALID', `Invalid configuration:\n  - ${problems.join('\n  - ')}`)
  }
  return { firstFactor: rawRule as FirstFactorRule, hwkAaguids, attestationRoots }
}
