/**
 * The sign-in page: one button per configured identity provider. Nothing else to fill in: passwords and
 * MFA happen at the IdP.
 */
import { Layout, Notice } from './layout.tsx'

export interface SignInPageProps {
  idps: Array<{ id: string; displayName: string }>
  returnTo: string
  message?: string | null
}

export function SignInPage(props: SignInPageProps) {
  const suffix = props.returnTo === '/' ? '' : `?returnTo=${encodeURIComponent(props.returnTo)}`
  return (
    <Layout title="Sign in" viewer={null} current="sign-in">
      <h1>Sign in to get VPN access</h1>
      {props.message && <Notice kind="warn">{props.message}</Notice>}
      <section class="panel stack">
        <p>
          Keygate gives this device a WireGuard configuration after you sign in with your organisation's
          account and its multi-factor authentication. Access ends on its own after a few hours; sign in again
          to renew it.
        </p>
        {props.idps.length === 0 ? (
          <Notice kind="bad">No identity provider is configured. Ask your administrator.</Notice>
        ) : (
          <ul class="idp-list">
            {props.idps.map((idp) => (
              <li>
                <a class="button" href={`/auth/${encodeURIComponent(idp.id)}/login${suffix}`}>
                  Sign in with {idp.displayName}
                </a>
              </li>
            ))}
          </ul>
        )}
      </section>
    </Layout>
  )
}
