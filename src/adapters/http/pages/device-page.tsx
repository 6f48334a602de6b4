/**
 * "New device": the form that device.js turns into a key pair, a lease and a config. The private key is
 * made and kept in the page; the result area (config text, .conf download, QR code) is filled there.
 * Without script the page says so, since a key made anywhere else would defeat the point.
 */
import { Layout, type Viewer } from './layout.tsx'

export interface DevicePageProps {
  viewer: Viewer
  /** Granted gateways that have enrolled: a config reaches these. */
  gateways: string[]
  /** Granted gateways that have not enrolled yet: their [Peer] would be missing. */
  missing: string[]
  /** The broker's public URL, for the commands an admin runs to bring a gateway up. */
  brokerUrl: string
}

export function DevicePage(props: DevicePageProps) {
  if (props.gateways.length === 0) return NoGatewayPage(props)
  return (
    <Layout title="New device" viewer={props.viewer} current="device" scripts={['device.js']}>
      <h1>Set up a new device</h1>
      <section class="panel stack">
        <p>
          This page makes the device's WireGuard key pair <strong>in your browser</strong>. Only the public
          key is sent to Keygate; the private key goes straight into the file and QR code below and is never
          stored anywhere else. You get access through <strong>{props.gateways.join(', ')}</strong>.
        </p>
        {props.missing.length > 0 && (
          <p class="notice warn" id="gateways-missing">
            Not online yet: <strong>{props.missing.join(', ')}</strong>. Your configuration will reach only{' '}
            {props.gateways.join(', ')}; once the others are up, make a new one (or ask your admin).
          </p>
        )}
        <noscript>
          <p class="notice bad">This page needs JavaScript to make the key pair on your device.</p>
        </noscript>
        <form id="device-form" class="stack">
          <div>
            <label for="device-name">Device name</label>
            <input
              type="text"
              id="device-name"
              name="name"
              maxlength={128}
              placeholder="e.g. Zoë’s work laptop"
              autocomplete="off"
              aria-describedby="device-name-help"
            />
            <p id="device-name-help" class="muted small">
              Any name you will recognise, up to 64 characters: accents, punctuation and emoji are fine.
            </p>
          </div>
          <button type="submit">Create configuration</button>
        </form>
        <p id="device-status" class="muted" role="status" aria-live="polite" />
        <div id="device-error" class="notice bad hidden" tabindex={-1} />
      </section>

      <section id="device-result" class="panel stack hidden" aria-live="polite">
        <h2 tabindex={-1}>Your configuration</h2>
        <p id="lease-summary" />
        <p id="gateways-pending" class="notice warn hidden" />
        <p class="notice warn">
          This is the only copy of the private key. Download the file or scan the code now; Keygate cannot
          show it again.
        </p>
        <div class="result-grid">
          <div>
            <p class="phone-only" id="phone-import-hint">
              <strong>On this phone:</strong> tap <em>Download .conf</em>, then in the WireGuard app tap{' '}
              <em>+</em> and <em>Import from file or archive</em>, and pick the downloaded file.
            </p>
            <p>
              <strong>Another phone:</strong> in the WireGuard app, add a tunnel and scan:
            </p>
            <div class="qr">
              <canvas id="config-qr" role="img" aria-label="QR code of the WireGuard configuration" />
            </div>
          </div>
          <div class="stack">
            <p>
              <strong>Computer:</strong> import the file into WireGuard, or run{' '}
              <code>wg-quick up ./file.conf</code>.
            </p>
            <p>
              <button type="button" id="config-download">
                Download .conf
              </button>
            </p>
            <details>
              <summary>Show the configuration text</summary>
              <pre id="config-text" class="config" />
            </details>
          </div>
        </div>
        <p>
          <a href="/">Back to my access</a>
        </p>
      </section>
    </Layout>
  )
}

/**
 * Nothing to hand out: the policy allows access, but no granted gateway has enrolled, so a config would
 * have no [Peer]. The user is told to ask; an admin gets the commands (docs/gateways.md has the rest).
 */
function NoGatewayPage(props: DevicePageProps) {
  const first = props.missing[0] ?? 'GATEWAY'
  return (
    <Layout title="No gateway yet" viewer={props.viewer} current="device">
      <h1>No gateway is online yet</h1>
      <p class="notice warn" id="no-gateway">
        No gateway for your access is online yet ({props.missing.join(', ')}), so a configuration would reach
        nothing. Ask your admin to bring one up, then come back to this page.
      </p>
      {props.viewer.admin && (
        <section class="panel stack" id="gateway-commands">
          <h2>Bring a gateway up</h2>
          <p>
            On the broker host, make a one-time enrollment token (stdout is the token alone); copy the file to
            the gateway host and run the agent there as root, with the WireGuard interface created:
          </p>
          <pre class="config">
            {`keygate gateway add ${first} > ${first}.token   # valid for an hour
keygate gateway run --broker ${props.brokerUrl} --token-file /root/${first}.token --interface wg0`}
          </pre>
          <p class="muted small">
            The gateway guide (docs/gateways.md in the Keygate repository) covers the interface, its address
            and routes. The admin console lists each gateway's state.
          </p>
        </section>
      )}
      <p>
        <a href="/">Back to my access</a>
      </p>
    </Layout>
  )
}
