/**
 * Who may administer: the policy's `admins`, signed in with multi-factor authentication (the IdP's, or
 * Keygate's own step-up). Admins can revoke anyone's access and enrol gateways, so a password alone is
 * never enough for them, whatever the grants say.
 */
import { KeygateError } from '../errors.ts'
import { type CompiledPolicy, isPolicyAdmin } from '../policy/index.ts'
import type { SessionContext } from './broker-deps.ts'
import { subjectOf } from './issue-lease.ts'

export function checkAdminAccess(policy: CompiledPolicy, session: SessionContext): KeygateError | null {
  if (!isPolicyAdmin(policy, subjectOf(session))) {
    return new KeygateError('FORBIDDEN', 'Only the administrators the policy names may do this')
  }
  if (session.auth.verdict !== 'mfa' && session.auth.stepUp === null) {
    return new KeygateError(
      'MFA_REQUIRED',
      'Administration needs a sign-in with multi-factor authentication',
      {
        reasons: [
          {
            code: 'ADMIN_NEEDS_MFA',
            message: `this session's verdict is "${session.auth.verdict}" and it has no step-up`,
          },
        ],
      },
    )
  }
  return null
}
