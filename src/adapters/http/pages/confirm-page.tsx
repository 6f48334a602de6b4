/**
 * "Are you sure?" for an action that cannot be undone (revoking a device), as a page of its own: it works
 * without script, the same way for users and admins, and the action still happens only on a POST.
 */
import { Layout, Notice, type Viewer } from './layout.tsx'

export interface ConfirmPageProps {
  viewer: Viewer
  title: string
  message: string
  /** Where the confirmed form posts (the same route, with `confirm=yes`). */
  action: string
  confirmLabel: string
  cancel: { href: string; label: string }
}

export function ConfirmPage(props: ConfirmPageProps) {
  return (
    <Layout title={props.title} viewer={props.viewer}>
      <h1>{props.title}</h1>
      <Notice kind="warn">
        <p>{props.message}</p>
      </Notice>
      <form method="post" action={props.action} class="row" id="confirm-form">
        <input type="hidden" name="confirm" value="yes" />
        <button type="submit" class="danger" autofocus>
          {props.confirmLabel}
        </button>
        <a href={props.cancel.href}>{props.cancel.label}</a>
      </form>
    </Layout>
  )
}
