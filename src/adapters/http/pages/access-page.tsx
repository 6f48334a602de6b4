/**
 * "My access": the user's leases with their gateways, routes, addresses and a live countdown (access.js
 * turns it into a warning in the last 15 minutes), with revoke and renew as plain same-origin forms so
 * they work without script too. Renewal keeps the key and address: the tunnel carries on.
 */
import type { GatewayGrant, LeaseState } from '../../../core/model.ts'
import { formatDuration, formatTime } from './format.ts'
import { Layout, Notice, ReasonList, type Viewer } from './layout.tsx'

export interface LeaseCardView {
  id: string
  name: string | null
  publicKey: string
  addresses: string[]
  gateways: GatewayGrant[]
  state: LeaseState
  createdAt: number
  expiresAt: number
  revokedReason: string | null
  stepUp: string | null
  /** When renewing first needs a fresh sign-in: where that starts. A link, not a form: the CSP's
   *  form-action 'self' rightly stops a form post from being redirected on to the IdP. */
  renewSignInUrl: string | null
}

export interface AccessPageProps {
  viewer: Viewer
  leases: LeaseCardView[]
  now: number
  notice: { kind: 'ok' | 'warn' | 'bad'; text: string } | null
  /** The lease to offer renewing at once (back from a re-authentication). */
  renewId: string | null
  /** What the policy says about this session now. */
  access:
    | { allow: true; gateways: string[]; expiresAt: number }
    | {
        allow: false
        code: string
        reasons: Array<{ code: string; message: string }>
        nextStep: string | null
      }
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
      {props.notice && <Notice kind={props.notice.kind}>{props.notice.text}</Notice>}
      <section class="panel stack">
        <p>
          Signed in as <strong>{props.viewer.name}</strong>.
        </p>
        {props.access.allow ? (
          <p>
            The policy allows you access through <strong>{props.access.gateways.join(', ')}</strong> until
            about {formatTime(props.access.expiresAt)}.
          </p>
        ) : (
          <div>
            <p>The policy does not give you access right now:</p>
            <ReasonList reasons={props.access.reasons} />
            {props.access.nextStep && (
              <p>
                <a class="button" href={props.access.nextStep}>
                  Continue
                </a>
              </p>
            )}
          </div>
        )}
        <div class="row">
          <a class="button" href="/devices/new">
            Set up a new device
          </a>
          <button type="button" id="notify-button" class="secondary hidden">
            Warn me before access ends
          </button>
        </div>
      </section>

      <h2>Active devices</h2>
      {active.length === 0 ? (
        <p class="muted">No device has access right now.</p>
      ) : (
        <ul class="lease-list">
          {active.map((lease) => (
            <LeaseCard lease={lease} now={props.now} highlight={props.renewId === lease.id} />
          ))}
        </ul>
      )}
      {ended.length > 0 && (
        <>
          <h2>Recently ended</h2>
          <ul class="lease-list">
            {ended.map((lease) => (
              <LeaseCard lease={lease} now={props.now} highlight={false} />
            ))}
          </ul>
        </>
      )}
    </Layout>
  )
}

function LeaseCard(props: { lease: LeaseCardView; now: number; highlight: boolean }) {
  const { lease } = props
  const title = lease.name ?? 'Unnamed device'
  const remaining = lease.expiresAt - props.now
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
        <dt>Expires</dt>
        <dd>
          {formatTime(lease.expiresAt)}
          {lease.state === 'active' && (
            <>
              {' '}
              (
              <span class="countdown" data-expires={new Date(lease.expiresAt).toISOString()}>
                ends in {formatDuration(remaining)}
              </span>
              )
            </>
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
        {lease.state === 'revoked'
          ? `This access was ${lease.revokedReason ?? 'revoked'}.`
          : lease.state === 'expired'
            ? 'This access has expired.'
            : ''}
      </p>
      {lease.state === 'active' && (
        <div class="actions">
          {props.highlight && (
            <p class="notice ok">You signed in again. Renew now to extend this device's access.</p>
          )}
          {lease.renewSignInUrl === null ? (
            <form method="post" action={`/leases/${encodeURIComponent(lease.id)}/renew`}>
              <button type="submit" autofocus={props.highlight}>
                Renew
              </button>
            </form>
          ) : (
            <a class="button" href={lease.renewSignInUrl}>
              Sign in again and renew
            </a>
          )}
          <form method="post" action={`/leases/${encodeURIComponent(lease.id)}/revoke`}>
            <button type="submit" class="danger">
              Revoke
            </button>
          </form>
        </div>
      )}
    </li>
  )
}
