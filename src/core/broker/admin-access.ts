/**
 * Who may administer: the policy's `admins`, signed in with the IdP's multi-factor authentication, or
 * stepped up with a Keygate factor that was itself enrolled during an IdP-MFA session. Admins can revoke
 * anyone's access and enrol gateways (a rogue gateway would receive every peer and preshared key), so a
 * password alone is never enough, and neither is a factor someone enrolled with a password alone.
 */
import { KeygateError } from '../errors.ts'
import { parseStepUp } from '../identity/step-up-proof.ts'
import { type CompiledPolicy, isPolicyAdmin } from '../policy/index.ts'
import type { SessionContext } from './broker-deps.ts'
import { subjectOf } from './issue-lease.ts'

export function checkAdminAccess(policy: CompiledPolicy, session: SessionContext): KeygateError | null {
  if (!isPolicyAdmin(policy, subjectOf(session))) {
    return new KeygateError('FORBIDDEN', 'Only the administrators the policy names may do this')
  }
  if (session.auth.verdict !== 'mfa' && parseStepUp(session.auth.stepUp)?.anchored !== true) {
    const stepUp =
      session.auth.stepUp === null
        ? 'it has no step-up'
        : `its step-up used a factor not enrolled during an IdP-MFA session`
    return new KeygateError(
      'MFA_REQUIRED',
      'Administration needs a sign-in with multi-factor authentication at your identity provider',
      {
        reasons: [
          {
            code: 'ADMIN_NEEDS_MFA',
            message: `this session's verdict is "${session.auth.verdict}" and ${stepUp}`,
          },
        ],
      },
    )
  }
  return null
}
