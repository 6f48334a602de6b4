/**
 * Admin console: the confirmation before removing a gateway. Removal revokes the gateway's credential,
 * empties its feed and frees its overlay address; devices lose that gateway until it enrols again with a
 * new token. A plain page with a POST form, so it works without script and a stray click costs nothing.
 */
import { AdminTabs } from './admin-tabs.tsx'
import { Layout, Time, type Viewer } from './layout.tsx'

export interface AdminRemoveGatewayPageProps {
  viewer: Viewer
  name: string
  endpoint: string
  lastSeenAt: number | null
  peerCount: number | null
  /** Still named in the policy: it shows again as "not enrolled" afterwards. */
  inPolicy: boolean
}

export function AdminRemoveGatewayPage(props: AdminRemoveGatewayPageProps) {
  return (
    <Layout title={`Remove ${props.name} · Admin`} viewer={props.viewer} current="admin">
      <h1>Remove gateway {props.name}?</h1>
      <AdminTabs current="overview" />
      <section class="panel stack">
        <p>
          <strong>{props.name}</strong> ({props.endpoint}) was last seen{' '}
          {props.lastSeenAt === null ? 'never' : <Time at={props.lastSeenAt} />} and carries{' '}
          {props.peerCount ?? 0} peer{props.peerCount === 1 ? '' : 's'}.
        </p>
        <p>
          Removing it revokes its credential and empties its feed: its agent stops receiving peers, and no
          device reaches its routes until it is enrolled again with a new token.
          {props.inPolicy &&
            ' The policy still names it, so it stays listed as "not enrolled" until you remove it there too.'}
        </p>
        <div class="row">
          <form method="post" action={`/admin/gateways/${encodeURIComponent(props.name)}/remove`}>
            <button type="submit" class="danger" id="gateway-remove-confirm">
              Remove {props.name}
            </button>
          </form>
          <a class="button secondary" href="/admin">
            Keep it
          </a>
        </div>
      </section>
    </Layout>
  )
}
