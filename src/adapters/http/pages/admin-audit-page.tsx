/**
 * Admin console: the audit log, newest first, filtered by event type and identity, paged with a cursor
 * (the last event's id, as the store pages), and exportable as JSON lines through the admin API.
 */
import type { AuditEvent } from '../../../core/model.ts'
import { AdminTabs } from './admin-tabs.tsx'
import { formatTime } from './format.ts'
import { Layout, type Viewer } from './layout.tsx'

export interface AdminAuditPageProps {
  viewer: Viewer
  events: AuditEvent[]
  filter: { type: string; identity: string }
  /** The cursor of the next (older) page, or null on the last page. */
  next: string | null
  exportUrl: string
  pageSize: number
}

export function AdminAuditPage(props: AdminAuditPageProps) {
  const { filter } = props
  const nextQuery = new URLSearchParams({
    ...Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== '')),
    before: props.next ?? '',
  })
  return (
    <Layout title="Audit log · Admin" viewer={props.viewer} current="admin">
      <h1>Audit log</h1>
      <AdminTabs current="audit" />
      <form method="get" action="/admin/audit" class="filters">
        <div>
          <label for="f-type">Event type</label>
          <input type="search" id="f-type" name="type" value={filter.type} placeholder="e.g. lease.revoked" />
        </div>
        <div>
          <label for="f-identity">Identity id</label>
          <input type="search" id="f-identity" name="identity" value={filter.identity} />
        </div>
        <button type="submit" class="secondary">
          Filter
        </button>
        <a class="button secondary" href={props.exportUrl} download="keygate-audit.jsonl" id="audit-export">
          Export JSON lines
        </a>
      </form>
      <div class="table-wrap">
        <table id="audit">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Event</th>
              <th scope="col">Actor</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {props.events.map((e) => (
              <tr data-event-id={e.id}>
                <td class="small">{formatTime(e.at)}</td>
                <td class="mono small">{e.type}</td>
                <td class="small">{e.actor ?? '—'}</td>
                <td class="mono small">
                  {e.leaseId && <div>lease {e.leaseId}</div>}
                  {e.gatewayId && <div>gateway {e.gatewayId}</div>}
                  <div>{summarize(e.data)}</div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {props.events.length === 0 && <p class="muted">No events match.</p>}
      <div class="pager">
        {filter.type !== '' || filter.identity !== '' ? <a href="/admin/audit">Clear filters</a> : null}
        {props.next && <a href={`/admin/audit?${nextQuery.toString()}`}>Older events →</a>}
      </div>
    </Layout>
  )
}

/** One line of the event's data; long values are cut so a row stays readable (the export has it all). */
function summarize(data: Record<string, unknown>): string {
  const text = Object.entries(data)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ')
  return text.length > 240 ? `${text.slice(0, 239)}…` : text
}
