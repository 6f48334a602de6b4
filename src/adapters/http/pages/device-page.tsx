/**
 * "New device": the form that device.js turns into a key pair, a lease and a config. The private key is
 * made and kept in the page; the result area (config text, .conf download, QR code) is filled there.
 * Without script the page says so, since a key made anywhere else would defeat the point.
 */
import { Layout, type Viewer } from './layout.tsx'

export interface DevicePageProps {
  viewer: Viewer
  gateways: string[]
}

export function DevicePage(props: DevicePageProps) {
  return (
    <Layout title="New device" viewer={props.viewer} current="device" scripts={['device.js']}>
      <h1>Set up a new device</h1>
      <section class="panel stack">
        <p>
          This page makes the device's WireGuard key pair <strong>in your browser</strong>. Only the public
          key is sent to Keygate; the private key goes straight into the file and QR code below and is never
          stored anywhere else. You get access through{' '}
          <strong>{props.gateways.join(', ') || 'no gateway yet'}</strong>.
        </p>
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
              maxlength={64}
              placeholder="e.g. work laptop"
              autocomplete="off"
              aria-describedby="device-name-help"
            />
            <p id="device-name-help" class="muted small">
              Letters, digits, spaces and . _ @ ' ( ) + -
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
            <p>
              <strong>Phone:</strong> in the WireGuard app, add a tunnel and scan:
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
