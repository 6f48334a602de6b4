/**
 * Admin console: the audit log, newest first, filtered by the start of an event type (`lease.` for every
 * lease event) and by a person (an email: events about them or done by them; or an identity id), paged
 * with a cursor (the last event's id, as the store pages), and exportable as JSON lines through the admin
 * API with the same filters. On a narrow screen each event is a card.
 */
import type { AuditEvent } from '../../../core/model.ts'
import { AdminTabs } from './admin-tabs.tsx'
import { Layout, Time, type Viewer } from './layout.tsx'

export interface AdminAuditPageProps {
  viewer: Viewer
  events: AuditEvent[]
  /** `type`: the start of an event type; `who`: an email or an identity id. */
  filter: { type: string; who: string }
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
          <label for="f-type">Event type starts with</label>
          <input
            type="search"
            id="f-type"
            name="type"
            value={filter.type}
            placeholder="e.g. lease. or login.failed"
            autocapitalize="off"
            spellcheck={false}
          />
        </div>
        <div>
          <label for="f-who">Person (email or identity id)</label>
          <input
            type="search"
            id="f-who"
            name="who"
            value={filter.who}
            placeholder="e.g. alice@example.com"
            autocapitalize="off"
            spellcheck={false}
          />
        </div>
        <button type="submit" class="secondary">
          Filter
        </button>
        <a class="button secondary" href={props.exportUrl} download="keygate-audit.jsonl" id="audit-export">
          Export JSON lines
        </a>
      </form>
      <table id="audit" class="cards">
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
              <td data-label="Time" class="small">
                <Time at={e.at} />
              </td>
              <td data-label="Event" class="mono small">
                {e.type}
              </td>
              <td data-label="Actor" class="small">
                {e.actor ?? '—'}
              </td>
              <td data-label="Details" class="mono small">
                {e.leaseId && <div>lease {e.leaseId}</div>}
                {e.gatewayId && <div>gateway {e.gatewayId}</div>}
                <div>{summarize(e.data)}</div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.events.length === 0 && <p class="muted">No events match.</p>}
      <div class="pager">
        {filter.type !== '' || filter.who !== '' ? <a href="/admin/audit">Clear filters</a> : null}
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
