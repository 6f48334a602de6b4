// The operator's step-up settings as parsed from the environment: defaults, each rule, AAGUID lists as
// people write them, PEM roots, and every refusal named with the variable it comes from.
import { describe, expect, it } from 'vitest'
import { KeygateError } from '../../../src/core/errors.ts'
import { FIRST_FACTOR_RULES } from '../../../src/core/step-up/enrolment-rules.ts'
import { parseStepUpConfig } from '../../../src/core/step-up/step-up-config.ts'

const AAGUID_A = 'cb69481e-8ff7-4039-93ec-0a2729a154a8'
const AAGUID_B = 'ee882879-721c-4913-9775-3dfcce97072a'
const CERT_1 = '-----BEGIN CERTIFICATE-----\nMIIBone\n-----END CERTIFICATE-----'
const CERT_2 = '-----BEGIN CERTIFICATE-----\nMIIBtwo\n-----END CERTIFICATE-----'

function refusalOf(env: Record<string, string | undefined>): KeygateError {
  try {
    parseStepUpConfig(env)
  } catch (error) {
    if (error instanceof KeygateError) return error
    throw error
  }
  throw new Error('expected the configuration to be refused')
}

describe('parseStepUpConfig', () => {
  it('defaults to idp-mfa-or-code, no hardware-key models and no roots', () => {
    expect(parseStepUpConfig({})).toEqual({
      firstFactor: 'idp-mfa-or-code',
      hwkAaguids: [],
      attestationRoots: [],
    })
  })

  it('treats a blank first-factor rule as unset', () => {
    expect(parseStepUpConfig({ KEYGATE_FIRST_FACTOR: '   ' }).firstFactor).toBe('idp-mfa-or-code')
  })

  it.each(FIRST_FACTOR_RULES)('accepts the first-factor rule %s, spaces around it trimmed', (rule) => {
    expect(parseStepUpConfig({ KEYGATE_FIRST_FACTOR: ` ${rule} ` }).firstFactor).toBe(rule)
  })

  it('refuses an unknown first-factor rule, naming the choices and what it got', () => {
    const error = refusalOf({ KEYGATE_FIRST_FACTOR: 'sms' })
    expect(error.code).toBe('CONFIG_INVALID')
    expect(error.message).toBe(
      `Invalid configuration:\n  - KEYGATE_FIRST_FACTOR must be one of ${FIRST_FACTOR_RULES.join(', ')}, got "sms"`,
    )
  })

  it('reads AAGUIDs as people write them: commas, spaces, capitals and empty entries', () => {
    const config = parseStepUpConfig({
      KEYGATE_WEBAUTHN_HWK_AAGUIDS: ` ${AAGUID_A.toUpperCase()} ,, ${AAGUID_B},`,
      KEYGATE_WEBAUTHN_ATTESTATION_ROOTS: CERT_1,
    })
    expect(config.hwkAaguids).toEqual([AAGUID_A, AAGUID_B])
  })

  it('keeps every PEM root of a concatenation and ignores the text between them', () => {
    const config = parseStepUpConfig({
      KEYGATE_WEBAUTHN_ATTESTATION_ROOTS: `# vendor one\n${CERT_1}\n# vendor two\n${CERT_2}\n`,
    })
    expect(config.attestationRoots).toEqual([CERT_1, CERT_2])
  })

  it('refuses a value that is not an AAGUID, naming it', () => {
    const error = refusalOf({
      KEYGATE_WEBAUTHN_HWK_AAGUIDS: `${AAGUID_A},not-an-aaguid,${AAGUID_A}x,x${AAGUID_B}`,
      KEYGATE_WEBAUTHN_ATTESTATION_ROOTS: CERT_1,
    })
    expect(error.message).toBe(
      'Invalid configuration:\n' +
        '  - KEYGATE_WEBAUTHN_HWK_AAGUIDS: "not-an-aaguid" is not an AAGUID\n' +
        `  - KEYGATE_WEBAUTHN_HWK_AAGUIDS: "${AAGUID_A}x" is not an AAGUID\n` +
        `  - KEYGATE_WEBAUTHN_HWK_AAGUIDS: "x${AAGUID_B}" is not an AAGUID`,
    )
  })

  it('refuses hardware-key models without roots, since no attestation could then be trusted', () => {
    const error = refusalOf({
      KEYGATE_WEBAUTHN_HWK_AAGUIDS: AAGUID_A,
      KEYGATE_WEBAUTHN_ATTESTATION_ROOTS: 'no pem',
    })
    expect(error.message).toBe(
      'Invalid configuration:\n  - KEYGATE_WEBAUTHN_HWK_AAGUIDS needs KEYGATE_WEBAUTHN_ATTESTATION_ROOTS: ' +
        'without roots no attestation can be trusted',
    )
  })

  it('accepts roots without hardware-key models (nothing is hwk then)', () => {
    expect(parseStepUpConfig({ KEYGATE_WEBAUTHN_ATTESTATION_ROOTS: CERT_1 })).toEqual({
      firstFactor: 'idp-mfa-or-code',
      hwkAaguids: [],
      attestationRoots: [CERT_1],
    })
  })

  it('lists every problem at once, not only the first', () => {
    const error = refusalOf({ KEYGATE_FIRST_FACTOR: 'sms', KEYGATE_WEBAUTHN_HWK_AAGUIDS: 'x' })
    expect(error.message.split('\n  - ')).toHaveLength(4)
  })
})
