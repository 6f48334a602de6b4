/**
 * Keygate's own second factor (TOTP, WebAuthn): the rules, the records, the ports and the use cases.
 */

export * from '../identity/step-up-proof.ts'
export * from './attempt-limit.ts'
export * from './enrolment-gate.ts'
export * from './enrolment-rules.ts'
export * from './factor-records.ts'
export * from './step-up-config.ts'
export * from './step-up-deps.ts'
export * from './totp-rules.ts'
export * from './totp-step-up.ts'
export * from './verifier-ports.ts'
export * from './webauthn-rules.ts'
export * from './webauthn-step-up.ts'
