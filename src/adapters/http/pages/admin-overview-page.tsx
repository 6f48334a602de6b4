/**
 * Admin console, first page: the live policy (hash, file, when it was loaded, its tests, and why the
 * latest reload failed if it did, with the failing tests' diffs) and the gateways (endpoint, last seen,
 * applied version, peer count; how to enrol one that is not; a button to remove one). Its tables turn
 * into cards on a narrow screen (portal.css, `table.cards`).
 */
import type { GatewayHealth } from '../../../core/broker/gateway-health.ts'
import type { PolicyDiagnostic, PolicyStatus } from '../../../core/policy/index.ts'
import { NOT_READY_STATUS } from '../errors.ts'
import { AdminTabs } from './admin-tabs.tsx'
import { Layout, Notice, Time, type Viewer } from './layout.tsx'

export type GatewayRow = GatewayHealth

export interface AdminOverviewPageProps {
  viewer: Viewer
  /** From the policy-status port, as readiness and the admin API show it (on Workers: no tests, no reloads). */
  policy: PolicyStatus
  gateways: GatewayRow[]
  /** The broker's own URL, for the commands that enrol a gateway. */
  brokerUrl: string
  notice: string | null
}

export function AdminOverviewPage(props: AdminOverviewPageProps) {
  const { policy } = props
  const passed = policy.tests?.filter((t) => t.passed).length ?? 0
  const failingTests = policy.lastReloadErrors?.filter((e) => e.code === 'POLICY_TEST_FAILED') ?? []
  const otherErrors = policy.lastReloadErrors?.filter((e) => e.code !== 'POLICY_TEST_FAILED') ?? []
  return (
    <Layout title="Admin" viewer={props.viewer} current="admin">
      <h1>Admin console</h1>
      <AdminTabs current="overview" />
      {props.notice && <Notice kind="ok">{props.notice}</Notice>}
      <h2>Live policy</h2>
      {policy.lastReloadErrors !== null && (
        <section class="notice bad stack" id="policy-reload-errors" aria-labelledby="reload-failed-title">
          <h3 id="reload-failed-title">The last reload failed; the policy below stays live</h3>
          <p>
            Tried <Time at={policy.lastAttemptAt} />. Fix the file and save it again (or send SIGHUP) to
            reload.
          </p>
          {otherErrors.length > 0 && (
            <>
              <h4>Errors</h4>
              <DiagnosticList items={otherErrors} />
            </>
          )}
          {failingTests.length > 0 && (
            <>
              <h4>Failing tests</h4>
              <DiagnosticList items={failingTests} />
            </>
          )}
        </section>
      )}
      <section class="panel stack">
        <dl class="facts">
          <dt>Hash</dt>
          <dd>
            <code id="policy-hash">{policy.hash}</code>
          </dd>
          <dt>File</dt>
          <dd>
            <code>{policy.fileName}</code>
          </dd>
          <dt>Loaded</dt>
          <dd>
            <Time at={policy.loadedAt} id="policy-loaded" />
          </dd>
        </dl>
        {policy.lastAttemptAt === null && (
          <p id="policy-deploy-note">
            This policy never reloads (on Workers it is bundled with the Worker): a new one goes live with the
            next deploy. One that fails to load or fails its tests never serves: every request is refused with
            a {NOT_READY_STATUS} (<code>POLICY_INVALID</code> or <code>POLICY_TESTS_FAILED</code>) and the log
            lists why. Run <code>keygate policy check</code> before deploying.
          </p>
        )}
        {policy.tests === null ? (
          <p class="muted">The policy loader did not report test results.</p>
        ) : (
          <>
            <p id="policy-tests">
              Tests: {passed} of {policy.tests.length} passed
            </p>
            {policy.tests.length > 0 && (
              <table class="cards">
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
                      <td data-label="Test" class="mono">
                        {t.id}
                      </td>
                      <td data-label="User">{t.user}</td>
                      <td data-label="Result">
                        {t.passed ? 'passed' : <pre class="config">{t.diff.join('\n')}</pre>}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </>
        )}
      </section>
      <h2>Gateways</h2>
      <table id="gateways" class="cards">
        <thead>
          <tr>
            <th scope="col">Gateway</th>
            <th scope="col">Endpoint</th>
            <th scope="col">Routes</th>
            <th scope="col">Last seen</th>
            <th scope="col">Applied version</th>
            <th scope="col">Peers</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {props.gateways.map((g) => (
            <tr data-gateway={g.name}>
              <td data-label="Gateway">
                <strong>{g.name}</strong>{' '}
                <span class={`state ${g.enrolled && g.healthy ? 'active' : 'expired'}`}>
                  {!g.enrolled ? 'not enrolled' : g.healthy ? 'online' : 'offline'}
                </span>
                {g.enforcement === 'off' && (
                  <>
                    {' '}
                    <span
                      class="state revoked"
                      title="started with --no-packet-filter: peers are not limited to their routes"
                    >
                      enforcement off
                    </span>
                  </>
                )}
                {!g.enrolled && <EnrolHelp name={g.name} brokerUrl={props.brokerUrl} />}
              </td>
              <td data-label="Endpoint" class="mono">
                {g.endpoint}
              </td>
              <td data-label="Routes" class="mono small">
                {Object.entries(g.routes).map(([name, cidrs]) => (
                  <div>
                    {name}: {cidrs.join(', ')}
                  </div>
                ))}
              </td>
              <td data-label="Last seen">{g.lastSeenAt === null ? 'never' : <Time at={g.lastSeenAt} />}</td>
              <td data-label="Applied version">
                {g.appliedVersion ?? '—'}
                {g.enrolled && <span class="muted small"> of {g.feedVersion}</span>}
              </td>
              <td data-label="Peers">{g.peerCount ?? '—'}</td>
              <td data-label="Actions">
                {g.enrolled && (
                  <a class="button danger" href={`/admin/gateways/${encodeURIComponent(g.name)}/remove`}>
                    Remove<span class="sr-only"> gateway {g.name}</span>…
                  </a>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  )
}

function DiagnosticList(props: { items: readonly PolicyDiagnostic[] }) {
  return (
    <ul class="diagnostics">
      {props.items.map((d) => (
        <li>
          {/* `file:line:col path`, where the author looks. */}
          <code>{`${d.file}:${d.line}:${d.col} ${d.path || '(root)'}`}</code>{' '}
          <span class="small">({d.code})</span>
          <pre class="config">{d.message}</pre>
          {d.hint !== '' && <p class="small">Hint: {d.hint}</p>}
        </li>
      ))}
    </ul>
  )
}

/** What "not enrolled" means and the two commands that change it. */
function EnrolHelp(props: { name: string; brokerUrl: string }) {
  return (
    <details class="enrol-help small">
      <summary>How to enrol {props.name}</summary>
      <p>
        No agent has enrolled for this gateway yet, so no device can reach its routes. On the broker host:
      </p>
      <pre class="config">{`keygate gateway add ${props.name}`}</pre>
      <p>Then on the gateway (root), with the token it printed in /root/{props.name}.token:</p>
      <pre class="config">
        {`keygate gateway run --broker ${props.brokerUrl} --token-file /root/${props.name}.token --interface wg0`}
      </pre>
    </details>
  )
}
