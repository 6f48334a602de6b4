/**
 * Admin console: every lease, filtered by user, gateway and state, each active one revocable. The filter
 * is a GET form (bookmarkable); revocation is a same-origin POST. On a narrow screen each row is a card.
 */
import type { GatewayGrant, LeaseState } from '../../../core/model.ts'
import { AdminTabs } from './admin-tabs.tsx'
import { formatEndsIn } from './format.ts'
import { Layout, Notice, Time, type Viewer } from './layout.tsx'

export interface AdminLeaseRow {
  id: string
  user: string
  identityId: string
  name: string | null
  addresses: string[]
  gateways: GatewayGrant[]
  state: LeaseState
  createdAt: number
  expiresAt: number
  revokedAt: number | null
  revokedReason: string | null
  verdict: string
  stepUp: string | null
}

export interface AdminLeasesPageProps {
  viewer: Viewer
  rows: AdminLeaseRow[]
  filter: { user: string; gateway: string; state: string }
  gatewayNames: string[]
  notice: string | null
  truncated: boolean
  now: number
}

export function AdminLeasesPage(props: AdminLeasesPageProps) {
  const { filter } = props
  const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== '')).toString()
  return (
    <Layout title="Leases · Admin" viewer={props.viewer} current="admin">
      <h1>Leases</h1>
      <AdminTabs current="leases" />
      {props.notice && <Notice kind="ok">{props.notice}</Notice>}
      <form method="get" action="/admin/leases" class="filters">
        <div>
          <label for="f-user">User</label>
          <input type="search" id="f-user" name="user" value={filter.user} placeholder="email contains" />
        </div>
        <div>
          <label for="f-gateway">Gateway</label>
          <select id="f-gateway" name="gateway">
            <option value="">any</option>
            {props.gatewayNames.map((g) => (
              <option value={g} selected={filter.gateway === g}>
                {g}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="f-state">State</label>
          <select id="f-state" name="state">
            <option value="">any</option>
            <option value="active" selected={filter.state === 'active'}>
              active
            </option>
            <option value="ended" selected={filter.state === 'ended'}>
              ended
            </option>
          </select>
        </div>
        <button type="submit" class="secondary">
          Filter
        </button>
      </form>
      <p class="muted small">
        {props.rows.length} lease{props.rows.length === 1 ? '' : 's'}
        {props.truncated && ' (the newest shown; narrow the filter for more)'}
      </p>
      <table id="leases" class="cards">
        <thead>
          <tr>
            <th scope="col">User / device</th>
            <th scope="col">Address</th>
            <th scope="col">Gateways</th>
            <th scope="col">State</th>
            <th scope="col">Expires</th>
            <th scope="col">Sign-in</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr data-lease-id={row.id}>
              <td data-label="User / device">
                <a href={`/admin/audit?who=${encodeURIComponent(row.user)}`}>{row.user}</a>
                <br />
                <span class="muted small">{row.name ?? 'unnamed device'}</span>
              </td>
              <td data-label="Address" class="mono small">
                {row.addresses.join(', ')}
              </td>
              <td data-label="Gateways" class="small">
                {row.gateways.map((g) => (
                  <div>
                    <strong>{g.gateway}</strong> <span class="mono">{g.routes.join(', ')}</span>
                  </div>
                ))}
              </td>
              <td data-label="State">
                <span class={`state ${row.state}`}>{row.state}</span>
                {row.revokedReason && <div class="muted small">{row.revokedReason}</div>}
              </td>
              <td data-label="Expires" class="small">
                {row.state === 'active' && <div>{formatEndsIn(row.expiresAt, props.now)}</div>}
                <Time
                  at={row.state === 'revoked' && row.revokedAt !== null ? row.revokedAt : row.expiresAt}
                />
              </td>
              <td data-label="Sign-in" class="small">
                {row.verdict}
                {row.stepUp && ` + ${row.stepUp}`}
              </td>
              <td data-label="Actions">
                {row.state === 'active' && (
                  <form
                    method="post"
                    action={`/admin/leases/${encodeURIComponent(row.id)}/revoke${query ? `?${query}` : ''}`}
                  >
                    <button type="submit" class="danger">
                      Revoke
                      <span class="sr-only">
                        {' '}
                        {row.name ?? 'unnamed device'} of {row.user}
                      </span>
                    </button>
                  </form>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  )
}
