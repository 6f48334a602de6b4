/**
 * "My access": the user's leases with their gateways, routes, addresses and how long each has left
 * ("ends in 7 h 12 min", refreshed by access.js, a warning in the last 15 minutes), with revoke and
 * renew as plain same-origin forms so they work without script too. Renewal keeps the key and address:
 * the tunnel carries on. An ended lease says when it ended and, revoked, by whom; it is listed under
 * "Recently ended", never among the active devices (access.js moves a card that ends while open).
 */
import type { GatewayGrant, LeaseState } from '../../../core/model.ts'
import { DenialNotice } from './denial-page.tsx'
import { formatDuration, formatEndsIn } from './format.ts'
import { Layout, Notice, Time, type Viewer } from './layout.tsx'
import type { DenialAdvice } from './page-context.ts'

export interface LeaseCardView {
  id: string
  name: string | null
  publicKey: string
  addresses: string[]
  gateways: GatewayGrant[]
  state: LeaseState
  createdAt: number
  expiresAt: number
  revokedAt: number | null
  revokedReason: string | null
  /** Who revoked it, as the owner reads it ("you", "an administrator (root@example.com)"), if known. */
  revokedBy: string | null
  stepUp: string | null
  /** When renewing first needs a fresh sign-in: where that starts. A link, not a form: the CSP's
   *  form-action 'self' rightly stops a form post from being redirected on to the IdP. */
  renewSignInUrl: string | null
}

export interface AccessPageProps {
  viewer: Viewer
  leases: LeaseCardView[]
  now: number
  /** `endsAt`: the new expiry a renewal gave, said after the text. */
  notice: { kind: 'ok' | 'warn' | 'bad'; text: string; endsAt?: number } | null
  /** The lease to offer renewing at once (back from a re-authentication). */
  renewId: string | null
  /** What the policy says about this session now. */
  access: { allow: true; gateways: string[]; expiresAt: number } | { allow: false; advice: DenialAdvice }
}

export function AccessPage(props: AccessPageProps) {
  const active = props.leases.filter((l) => l.state === 'active')
  const ended = props.leases.filter((l) => l.state !== 'active').slice(0, 10)
  return (
    <Layout
      title="My access"
      viewer={props.viewer}
      current="access"
      scripts={['access.js']}
      data={{ now: String(props.now) }}
    >
      <h1>My access</h1>
      <div id="session-notice" class="hidden" role="status" />
      {props.notice && (
        <Notice kind={props.notice.kind}>
          {props.notice.text}
          {props.notice.endsAt !== undefined && (
            <>
              {' '}
              Access now ends <Time at={props.notice.endsAt} /> (in{' '}
              {formatDuration(props.notice.endsAt - props.now)}).
            </>
          )}
        </Notice>
      )}
      <section class="panel stack">
        <p>
          Signed in as <strong>{props.viewer.name}</strong>.
        </p>
        {props.access.allow ? (
          <p>
            The policy allows you access through <strong>{props.access.gateways.join(', ')}</strong>; a new
            device would have it until about <Time at={props.access.expiresAt} />.
          </p>
        ) : (
          <DenialNotice advice={props.access.advice} />
        )}
        <div class="row">
          {/* Never an action that ends in a refusal: while denied, the notice above holds the next step. */}
          {props.access.allow && (
            <a class="button" href="/devices/new">
              Set up a new device
            </a>
          )}
          <button type="button" id="notify-button" class="secondary hidden">
            Warn me before access ends
          </button>
        </div>
      </section>

      <h2>Active devices</h2>
      <p class={`muted${active.length === 0 ? '' : ' hidden'}`} id="no-active-leases">
        No device has access right now.
      </p>
      <ul class="lease-list" id="active-leases">
        {active.map((lease) => (
          <LeaseCard lease={lease} now={props.now} highlight={props.renewId === lease.id} />
        ))}
      </ul>
      <section
        id="ended-section"
        class={ended.length === 0 ? 'hidden' : undefined}
        aria-labelledby="ended-title"
      >
        <h2 id="ended-title">Recently ended</h2>
        <ul class="lease-list" id="ended-leases">
          {ended.map((lease) => (
            <LeaseCard lease={lease} now={props.now} highlight={false} />
          ))}
        </ul>
      </section>
    </Layout>
  )
}

function LeaseCard(props: { lease: LeaseCardView; now: number; highlight: boolean }) {
  const { lease } = props
  const title = lease.name ?? 'Unnamed device'
  return (
    <li
      class={`lease${lease.state === 'active' ? '' : ' ended'}`}
      data-lease-id={lease.id}
      data-lease-name={title}
      data-state={lease.state}
      id={`lease-${lease.id}`}
    >
      <header>
        <h3>{title}</h3>
        <span class={`state ${lease.state}`}>{lease.state}</span>
      </header>
      <dl>
        <dt>Address</dt>
        <dd class="mono">{lease.addresses.join(', ')}</dd>
        <dt>Gateways</dt>
        <dd>
          <ul class="routes">
            {lease.gateways.map((g) => (
              <li>
                <strong>{g.gateway}</strong>: <span class="mono">{g.routes.join(', ') || 'no routes'}</span>
              </li>
            ))}
          </ul>
        </dd>
        <dt>{lease.state === 'active' ? 'Access' : 'Ended'}</dt>
        <dd>
          {lease.state === 'active' ? (
            <>
              <span class="countdown" data-expires={new Date(lease.expiresAt).toISOString()}>
                {formatEndsIn(lease.expiresAt, props.now)}
              </span>{' '}
              <span class="muted small">
                (<Time at={lease.expiresAt} />)
              </span>
            </>
          ) : (
            <Time at={lease.state === 'revoked' ? lease.revokedAt : lease.expiresAt} />
          )}
        </dd>
        <dt>Public key</dt>
        <dd class="mono small">{lease.publicKey}</dd>
        {lease.stepUp && (
          <>
            <dt>Second factor</dt>
            <dd>{lease.stepUp === 'webauthn' ? 'security key' : 'authenticator app'}</dd>
          </>
        )}
      </dl>
      <p class={`notice bad${lease.state === 'active' ? ' hidden' : ''}`} data-ended-message>
        {lease.state === 'revoked' ? (
          <>
            Revoked <Time at={lease.revokedAt} />{' '}
            {lease.revokedBy === null ? `(${lease.revokedReason ?? 'revoked'})` : `by ${lease.revokedBy}`}.
          </>
        ) : lease.state === 'expired' ? (
          <>
            Expired <Time at={lease.expiresAt} />.
          </>
        ) : (
          ''
        )}
      </p>
      {lease.state === 'active' && (
        <div class="actions">
          {props.highlight && (
            <p class="notice ok">You signed in again. Renew now to extend this device's access.</p>
          )}
          {lease.renewSignInUrl === null ? (
            <form method="post" action={`/leases/${encodeURIComponent(lease.id)}/renew`}>
              <button type="submit" autofocus={props.highlight}>
                Renew<span class="sr-only"> {title}</span>
              </button>
            </form>
          ) : (
            <a class="button" href={lease.renewSignInUrl}>
              Sign in again and renew<span class="sr-only"> {title}</span>
            </a>
          )}
          <form method="post" action={`/leases/${encodeURIComponent(lease.id)}/revoke`}>
            <button type="submit" class="danger">
              Revoke<span class="sr-only"> {title}</span>
            </button>
          </form>
        </div>
      )}
    </li>
  )
}
