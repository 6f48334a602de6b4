/**
 * Admin console, first page: the live policy (hash, file, when it was loaded, its tests) and the
 * gateways (endpoint, last seen, applied version, peer count).
 */
import type { GatewayHealth } from '../../../core/broker/gateway-health.ts'
import { AdminTabs } from './admin-tabs.tsx'
import { formatTime } from './format.ts'
import { Layout, type Viewer } from './layout.tsx'

export type GatewayRow = GatewayHealth

export interface PolicyStatusView {
  hash: string
  fileName: string
  loadedAt: number | null
  tests: Array<{ id: string; user: string; passed: boolean; diff: string[] }> | null
  /** Anything else the policy loader reports (last reload error, warnings), shown as-is. */
  extra: Array<[string, string]>
}

export function AdminOverviewPage(props: {
  viewer: Viewer
  policy: PolicyStatusView
  gateways: GatewayRow[]
}) {
  const { policy } = props
  const passed = policy.tests?.filter((t) => t.passed).length ?? 0
  return (
    <Layout title="Admin" viewer={props.viewer} current="admin">
      <h1>Admin console</h1>
      <AdminTabs current="overview" />
      <h2>Live policy</h2>
      <section class="panel">
        <div>
          <p>
            <strong>Hash</strong> <code id="policy-hash">{policy.hash}</code>
          </p>
          <p>
            <strong>File</strong> <code>{policy.fileName}</code>
          </p>
          <p>
            <strong>Loaded</strong> <span id="policy-loaded">{formatTime(policy.loadedAt)}</span>
          </p>
          {policy.extra.map(([k, v]) => (
            <p>
              <strong>{k}</strong> {v}
            </p>
          ))}
        </div>
        {policy.tests === null ? (
          <p class="muted">The policy loader did not report test results.</p>
        ) : (
          <>
            <p id="policy-tests">
              Tests: {passed} of {policy.tests.length} passed
            </p>
            {policy.tests.length > 0 && (
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Test</th>
                      <th scope="col">User</th>
                      <th scope="col">Result</th>
                    </tr>
                  </thead>
                  <tbody>
                    {policy.tests.map((t) => (
                      <tr>
                        <td class="mono">{t.id}</td>
                        <td>{t.user}</td>
                        <td>{t.passed ? 'passed' : <pre class="config">{t.diff.join('\n')}</pre>}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </>
        )}
      </section>
      <h2>Gateways</h2>
      <div class="table-wrap">
        <table id="gateways">
          <thead>
            <tr>
              <th scope="col">Gateway</th>
              <th scope="col">Endpoint</th>
              <th scope="col">Routes</th>
              <th scope="col">Last seen</th>
              <th scope="col">Applied version</th>
              <th scope="col">Peers</th>
            </tr>
          </thead>
          <tbody>
            {props.gateways.map((g) => (
              <tr>
                <td>
                  <strong>{g.name}</strong>
                  <br />
                  <span class={`state ${g.healthy ? 'active' : 'expired'}`}>
                    {!g.enrolled ? 'not enrolled' : g.healthy ? 'online' : 'offline'}
                  </span>
                </td>
                <td class="mono">{g.endpoint}</td>
                <td class="mono small">
                  {Object.entries(g.routes).map(([name, cidrs]) => (
                    <div>
                      {name}: {cidrs.join(', ')}
                    </div>
                  ))}
                </td>
                <td>{formatTime(g.lastSeenAt)}</td>
                <td>
                  {g.appliedVersion ?? '—'}
                  {g.feedVersion !== null && <span class="muted small"> of {g.feedVersion}</span>}
                </td>
                <td>{g.peerCount ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Layout>
  )
}
