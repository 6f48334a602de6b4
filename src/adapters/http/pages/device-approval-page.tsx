/**
 * The approval page of the terminal client's sign-in (RFC 8628): first a box for the user code (filled
 * in when the person came from the QR code or the complete URI), then what is asking (device name, user
 * code, the address it asked from, when) with Approve and Refuse. Approving is what gives the device
 * access, so the page says plainly which device and from where, for the person to compare with the
 * terminal in front of them.
 */
import { Layout, Notice, Time, type Viewer } from './layout.tsx'

export interface DeviceRequestView {
  id: string
  userCode: string
  deviceName: string | null
  clientAddress: string | null
  requestedAt: string
  purpose: 'issue' | 'renew'
}

export function DeviceCodePage(props: { viewer: Viewer; userCode: string; error: string | null }) {
  return (
    <Layout title="Sign in a device" viewer={props.viewer} current="device">
      <h1>Sign in a device</h1>
      <section class="panel stack">
        {props.error === null ? null : (
          <Notice kind="bad">
            <p>{props.error}</p>
          </Notice>
        )}
        <p>
          Enter the code that <code>keygate login</code> or <code>keygate up</code> shows on the device.
        </p>
        <form method="get" action="/device" class="stack">
          <div>
            <label for="user-code">Code</label>
            <input
              type="text"
              id="user-code"
              name="user_code"
              value={props.userCode}
              maxlength={16}
              autocomplete="off"
              autocapitalize="characters"
              spellcheck={false}
              placeholder="XXXX-XXXX"
            />
          </div>
          <button type="submit">Continue</button>
        </form>
      </section>
    </Layout>
  )
}

export function DeviceApprovalPage(props: { viewer: Viewer; request: DeviceRequestView }) {
  const r = props.request
  return (
    <Layout title="Approve this device?" viewer={props.viewer} current="device">
      <h1>{r.purpose === 'renew' ? 'Keep this device connected?' : 'Approve this device?'}</h1>
      <section class="panel stack">
        <p>Only approve if you started this on your own device just now and it shows the same code.</p>
        <dl id="device-request">
          <dt>Device</dt>
          <dd id="device-name">{r.deviceName ?? '(no name given)'}</dd>
          <dt>Code</dt>
          <dd id="device-user-code">
            <code>{r.userCode}</code>
          </dd>
          <dt>Asked from</dt>
          <dd id="device-address">{r.clientAddress ?? 'unknown address'}</dd>
          <dt>Asked at</dt>
          <dd>
            <Time at={r.requestedAt} />
          </dd>
        </dl>
        <div class="row">
          <form method="post" action={`/device/${encodeURIComponent(r.id)}/approve`}>
            <button type="submit" id="device-approve">
              Approve<span class="sr-only"> {r.deviceName ?? 'this device'}</span>
            </button>
          </form>
          <form method="post" action={`/device/${encodeURIComponent(r.id)}/refuse`}>
            <button type="submit" id="device-refuse" class="secondary">
              Refuse<span class="sr-only"> {r.deviceName ?? 'this device'}</span>
            </button>
          </form>
        </div>
      </section>
    </Layout>
  )
}

export function DeviceDonePage(props: { viewer: Viewer; approved: boolean; deviceName: string | null }) {
  return (
    <Layout
      title={props.approved ? 'Device approved' : 'Device refused'}
      viewer={props.viewer}
      current="device"
    >
      <h1>{props.approved ? 'Device approved' : 'Device refused'}</h1>
      <Notice kind={props.approved ? 'ok' : 'warn'}>
        <p id="device-result">
          {props.approved
            ? `${props.deviceName ?? 'The device'} is connecting now. You can close this page.`
            : `${props.deviceName ?? 'The device'} was refused and gets no access.`}
        </p>
      </Notice>
      <p>
        <a href="/">Back to my access</a>
      </p>
    </Layout>
  )
}
