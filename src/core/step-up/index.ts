/**
 * Keygate's own second factor (TOTP, WebAuthn): the rules, the records and the store port.
 */
export * from './attempt-limit.ts'
export * from './enrolment-rules.ts'
export * from './factor-records.ts'
export * from './totp-rules.ts'
export * from './webauthn-rules.ts'
