/**
 * The admin console's sub-navigation, shared by its pages.
 */
export type AdminTab = 'overview' | 'leases' | 'audit'

export function AdminTabs(props: { current: AdminTab }) {
  const tab = (id: AdminTab, href: string, label: string) => (
    <a href={href} aria-current={props.current === id ? 'page' : undefined}>
      {label}
    </a>
  )
  return (
    <nav class="row" aria-label="Admin sections">
      {tab('overview', '/admin', 'Policy and gateways')}
      {tab('leases', '/admin/leases', 'Leases')}
      {tab('audit', '/admin/audit', 'Audit log')}
    </nav>
  )
}
