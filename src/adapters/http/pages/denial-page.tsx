/**
 * Why access is refused, in the policy's own reasons, and what the user can do about it: each denial
 * code has its own advice, so "ask an admin" is not the answer to "sign in with MFA".
 */
import { Layout, Notice, ReasonList, type Viewer } from './layout.tsx'

export interface DenialPageProps {
  viewer: Viewer
  code: string
  reasons: Array<{ code: string; message: string }>
  /** Where to go to fix it, when the user can (sign in again, use a second factor). */
  nextStep: { href: string; label: string } | null
  identity: { idp: string; email: string | null; subject: string }
}

const ADVICE: Record<string, string> = {
  NO_MATCHING_GRANT:
    'No rule of the access policy covers your account. If you need access, ask an administrator to add you to a group that has it, and tell them the account and identity provider shown below.',
  DENIED_BY_RULE:
    'The access policy explicitly denies your account. Contact your administrator if this is unexpected.',
  ASSURANCE_UNMET:
    'Your sign-in was not strong enough for this access: it needs multi-factor authentication, or a more recent sign-in. Sign in again and complete the extra step your identity provider asks for; if it asks for none, turn on MFA for your account there.',
  MFA_REQUIRED:
    "This access requires multi-factor authentication. Sign in again and complete your identity provider's second step; if it has none, turn on MFA for your account there.",
}

export function DenialPage(props: DenialPageProps) {
  return (
    <Layout title="Access denied" viewer={props.viewer}>
      <h1>You do not have VPN access</h1>
      <Notice kind="bad">
        <p>{ADVICE[props.code] ?? 'The access policy refused this request.'}</p>
      </Notice>
      <section class="panel stack">
        <h2>What the policy says</h2>
        <ReasonList reasons={props.reasons} />
        <p class="muted small">Decision code: {props.code}</p>
        {props.nextStep && (
          <p>
            <a class="button" href={props.nextStep.href}>
              {props.nextStep.label}
            </a>
          </p>
        )}
      </section>
      <section class="panel">
        <h2>Your account</h2>
        <p>
          {props.identity.email ?? props.identity.subject} via <strong>{props.identity.idp}</strong>
          <br />
          <span class="muted small mono">subject {props.identity.subject}</span>
        </p>
      </section>
    </Layout>
  )
}
