/**
 * The frame every portal page shares: head (stylesheet, icon, deferred same-origin scripts: the CSP
 * forbids inline script), a skip link, the top bar with navigation and sign-out, and the main landmark;
 * and the small pieces pages share (times, reasons, notices).
 */
import type { Context } from 'hono'
import { html } from 'hono/html'
import type { Child, PropsWithChildren } from 'hono/jsx'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { assetUrl } from '../static/static-assets.ts'
import { formatTime, isoTime } from './format.ts'

export interface Viewer {
  /** What to call the user: email, else subject. */
  name: string
  admin: boolean
  /** Whether "New device" leads somewhere other than a refusal (page-context.ts's viewerOf). */
  canAddDevice: boolean
}

export type Section = 'access' | 'device' | 'step-up' | 'admin' | 'sign-in'

export interface LayoutProps {
  title: string
  viewer: Viewer | null
  current?: Section
  /** Names of bundled scripts (`access.js`), loaded deferred. */
  scripts?: string[]
  /** `data-*` attributes for the page script (server time, where to return). */
  data?: Record<string, string>
}

export function Layout(props: PropsWithChildren<LayoutProps>) {
  const data = Object.fromEntries(Object.entries(props.data ?? {}).map(([k, v]) => [`data-${k}`, v]))
  const link = (section: Section, href: string, label: string) => (
    <a href={href} aria-current={props.current === section ? 'page' : undefined}>
      {label}
    </a>
  )
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>{`${props.title} · Keygate`}</title>
        <link rel="stylesheet" href={assetUrl('portal.css')} />
        <link rel="icon" href={assetUrl('favicon.svg')} type="image/svg+xml" />
        {['local-time.js', ...(props.scripts ?? [])].map((name) => (
          <script src={assetUrl(name)} defer />
        ))}
      </head>
      <body {...data}>
        <a class="skip-link" href="#main">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href="/">
            Keygate
          </a>
          {props.viewer !== null && (
            <nav aria-label="Main">
              {link('access', '/', 'My access')}
              {props.viewer.canAddDevice && link('device', '/devices/new', 'New device')}
              {link('step-up', '/step-up', 'Second factor')}
              {props.viewer.admin && link('admin', '/admin', 'Admin')}
              <form method="post" action="/auth/logout">
                <button type="submit" class="link" title={`Signed in as ${props.viewer.name}`}>
                  Sign out
                </button>
              </form>
            </nav>
          )}
        </header>
        <main id="main" tabindex={-1}>
          {props.children}
        </main>
      </body>
    </html>
  )
}

/**
 * Sends a page with its doctype. Pages for a signed-in user are never cached: they show live state.
 * An error page's status comes from the status table (errors.ts), never a literal of its own.
 */
export function renderPage(c: Context, page: Child, status: ContentfulStatusCode = 200) {
  c.header('Cache-Control', 'no-store')
  return c.html(html`<!doctype html>${page}`, status)
}

export function ReasonList(props: { reasons: Array<{ code: string; message: string }> }) {
  if (props.reasons.length === 0) return null
  return (
    <ul class="reasons">
      {props.reasons.map((r) => (
        <li>
          {r.message} <span class="muted small">({r.code})</span>
        </li>
      ))}
    </ul>
  )
}

export function Notice(props: PropsWithChildren<{ kind?: 'ok' | 'warn' | 'bad'; id?: string }>) {
  return (
    <div class={`notice ${props.kind ?? ''}`} role={props.kind === 'bad' ? 'alert' : 'status'} id={props.id}>
      {props.children}
    </div>
  )
}

/**
 * An absolute time: UTC as the server writes it, the reader's local time once local-time.js has run,
 * UTC on hover either way.
 */
export function Time(props: { at: number | string | null; id?: string }) {
  const iso = isoTime(props.at)
  if (iso === null) return <span id={props.id}>—</span>
  const utc = formatTime(iso)
  return (
    <time datetime={iso} title={utc} data-local id={props.id}>
      {utc}
    </time>
  )
}
