/**
 * Keygate's own second factor, wired: the step-up use cases of core/step-up bound to their adapters
 * (otpauth for TOTP, @simplewebauthn/server for WebAuthn, the drizzle factor store, the broker's store,
 * clock and sealer). The HTTP routes call this; the rules live in core.
 */
import type { BrokerDeps, SessionContext } from '../../core/broker/broker-deps.ts'
import {
  beginTotpEnrolment,
  confirmTotpEnrolment,
  DEFAULT_STEP_UP_SETTINGS,
  type FactorStore,
  issueEnrolmentCode,
  pendingTotpEnrolment,
  type StepUpConfig,
  type StepUpDeps,
  type StepUpSettings,
  stepUpStatus,
  type TotpVerifier,
  verifyTotp,
  verifyWebAuthnAuthentication,
  verifyWebAuthnRegistration,
  type WebAuthnVerifier,
  webauthnAuthenticationOptions,
  webauthnRegistrationOptions,
} from '../../core/step-up/index.ts'
import { createTotpVerifier } from './totp.ts'
import { createWebAuthnVerifier, type RelyingParty } from './webauthn.ts'

export type { StepUpStatus, TotpEnrolment } from '../../core/step-up/index.ts'

export interface StepUpServiceOptions {
  broker: BrokerDeps
  factors: FactorStore
  relyingParty: RelyingParty
  config?: Partial<StepUpConfig>
  settings?: Partial<Pick<StepUpSettings, 'issuerName' | 'attemptLimit'>>
  /** Replace a verifier (tests count the codes that reach the check). */
  totp?: TotpVerifier
  webauthn?: WebAuthnVerifier
}

export function createStepUpService(options: StepUpServiceOptions) {
  const { broker } = options
  const roots = options.config?.attestationRoots ?? []
  const hwkAaguids = options.config?.hwkAaguids ?? []
  const deps: StepUpDeps = {
    store: broker.store,
    clock: broker.clock,
    random: broker.random,
    logger: broker.logger,
    sealer: broker.sealer,
    policy: broker.policy,
    factors: options.factors,
    totp: options.totp ?? createTotpVerifier(broker.random),
    webauthn:
      options.webauthn ??
      createWebAuthnVerifier(options.relyingParty, { request: hwkAaguids.length > 0, roots }),
    settings: {
      ...DEFAULT_STEP_UP_SETTINGS,
      ...options.settings,
      ...(options.config?.firstFactor === undefined ? {} : { firstFactor: options.config.firstFactor }),
      hwkAaguids,
    },
  }
  return {
    deps,
    status: (session: SessionContext) => stepUpStatus(deps, session),
    beginTotpEnrolment: (session: SessionContext, enrolmentCode?: unknown) =>
      beginTotpEnrolment(deps, session, enrolmentCode),
    pendingTotpEnrolment: (session: SessionContext, factorId: string) =>
      pendingTotpEnrolment(deps, session, factorId),
    confirmTotpEnrolment: (
      session: SessionContext,
      factorId: string,
      code: unknown,
      enrolmentCode?: unknown,
    ) => confirmTotpEnrolment(deps, session, factorId, code, enrolmentCode),
    verifyTotp: (session: SessionContext, code: unknown) => verifyTotp(deps, session, code),
    webauthnRegistrationOptions: (session: SessionContext, enrolmentCode?: unknown) =>
      webauthnRegistrationOptions(deps, session, enrolmentCode),
    verifyWebAuthnRegistration: (
      session: SessionContext,
      response: unknown,
      label: unknown,
      enrolmentCode?: unknown,
    ) => verifyWebAuthnRegistration(deps, session, response, label, enrolmentCode),
    webauthnAuthenticationOptions: (session: SessionContext) => webauthnAuthenticationOptions(deps, session),
    verifyWebAuthnAuthentication: (session: SessionContext, response: unknown) =>
      verifyWebAuthnAuthentication(deps, session, response),
    issueEnrolmentCode: (admin: string, identityId: string) =>
      issueEnrolmentCode({ ...deps, store: broker.store }, admin, identityId),
  }
}

export type StepUpService = ReturnType<typeof createStepUpService>
