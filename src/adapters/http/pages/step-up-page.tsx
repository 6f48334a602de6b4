/**
 * Keygate's own second factor: use one (a code from an authenticator app, or a security key / passkey),
 * or enrol one. Enrolment is offered only right after a fresh sign-in at the IdP; otherwise the page
 * explains and links to signing in again. The TOTP forms are plain posts; WebAuthn needs step-up.js.
 */
import { raw } from 'hono/html'
import type { StepUpStatus } from '../../step-up/step-up-service.ts'
import { Layout, Notice, type Viewer } from './layout.tsx'

export interface StepUpPageProps {
  viewer: Viewer
  returnTo: string
  status: StepUpStatus
  /** The method this session already stepped up with, if any. */
  current: string | null
  error: string | null
  signInAgainUrl: string
  /** The assurance level the policy asks for, when this page was reached from a step-up demand. */
  demand: string | null
}

function ReturnTo(props: { value: string }) {
  return <input type="hidden" name="returnTo" value={props.value} />
}

/** Asked for when only an admin-issued code lets this identity enrol its first factor. */
function EnrolmentCodeField() {
  return (
    <div>
      <label for="enrolment-code">Enrolment code from your administrator</label>
      <input id="enrolment-code" name="enrolmentCode" autocomplete="off" required />
    </div>
  )
}

export function StepUpPage(props: StepUpPageProps) {
  const { status } = props
  const refusal = status.enrolRefusal
  const canEnrol = refusal === null || status.codeWouldAllow
  return (
    <Layout
      title="Second factor"
      viewer={props.viewer}
      current="step-up"
      scripts={['step-up.js']}
      data={{ 'return-to': props.returnTo }}
    >
      <h1>Confirm it's you</h1>
      {props.error && <Notice kind="bad">{props.error}</Notice>}
      {props.current && (
        <Notice kind="ok">
          This session is verified with your{' '}
          {props.current.startsWith('webauthn') ? 'security key' : 'authenticator app'}.{' '}
          <a href={props.returnTo}>Continue</a>
        </Notice>
      )}
      {props.demand && (
        <p>
          Your identity provider did not confirm a second factor, and this access needs one (assurance "
          {props.demand}"). Keygate can check one itself.
        </p>
      )}
      <div id="webauthn-error" class="notice bad hidden" tabindex={-1} />

      {status.factors.length > 0 && (
        <section class="panel stack">
          <h2>Use your second factor</h2>
          {status.hasTotp && (
            <form method="post" action="/step-up/totp/verify" class="stack">
              <ReturnTo value={props.returnTo} />
              <div>
                <label for="totp-code">Code from your authenticator app</label>
                <input
                  id="totp-code"
                  name="code"
                  class="code"
                  inputmode="numeric"
                  autocomplete="one-time-code"
                  maxlength={9}
                  required
                  autofocus
                />
              </div>
              <button type="submit">Verify code</button>
            </form>
          )}
          {status.hasWebAuthn && (
            <p>
              <button type="button" id="webauthn-authenticate">
                Use security key or passkey
              </button>
            </p>
          )}
        </section>
      )}

      <section class="panel stack">
        <h2>{status.factors.length === 0 ? 'Set up a second factor' : 'Add another second factor'}</h2>
        {canEnrol ? (
          <>
            {refusal !== null && <p>{refusal.message}</p>}
            <form method="post" action="/step-up/totp/enrol" class="stack">
              <ReturnTo value={props.returnTo} />
              {refusal !== null && <EnrolmentCodeField />}
              <p>
                An authenticator app (Google Authenticator, 1Password, Aegis, …) shows a new code every 30
                seconds.
              </p>
              <button type="submit" class="secondary">
                Set up an authenticator app
              </button>
            </form>
            <div class="stack">
              <p>A security key (YubiKey, …) or a passkey on this device.</p>
              <div>
                <label for="webauthn-label">Name for the key</label>
                <input type="text" id="webauthn-label" maxlength={64} placeholder="e.g. blue YubiKey" />
              </div>
              <button type="button" id="webauthn-register" class="secondary">
                Register a security key or passkey
              </button>
            </div>
          </>
        ) : (
          <>
            <p>{refusal.message}</p>
            {refusal.code === 'AUTH_TOO_OLD' && (
              <p>
                <a class="button" href={props.signInAgainUrl}>
                  Sign in again
                </a>
              </p>
            )}
          </>
        )}
      </section>
      {status.factors.length > 0 && (
        <section class="panel">
          <h2>Your second factors</h2>
          <ul>
            {status.factors.map((f) => (
              <li>
                {f.label}{' '}
                <span class="muted small">
                  ({f.method === 'totp' ? 'authenticator app' : 'security key'})
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}
    </Layout>
  )
}

export interface TotpEnrolPageProps {
  viewer: Viewer
  returnTo: string
  factorId: string
  /** The otpauth:// URI as an SVG QR code, rendered by the server (the secret is the server's anyway). */
  qrSvg: string
  /** The same otpauth:// URI as a link: on a phone the app is on this device, and a tap opens it. */
  uri: string
  secret: string
  /** The admin-issued enrolment code the user typed, carried to the confirmation (it is consumed there). */
  enrolmentCode: string | null
  error: string | null
}

export function TotpEnrolPage(props: TotpEnrolPageProps) {
  return (
    <Layout title="Set up an authenticator app" viewer={props.viewer} current="step-up">
      <h1>Set up an authenticator app</h1>
      {props.error && <Notice kind="bad">{props.error}</Notice>}
      <section class="panel stack">
        <ol class="stack">
          <li>
            <p class="phone-only">
              <a class="button" href={props.uri} id="totp-open-app">
                Open in your authenticator app
              </a>
            </p>
            <p>
              <span class="phone-only">Or, from another device: </span>in your authenticator app, add an
              account and scan this code:
            </p>
            <div class="qr" id="totp-qr">
              {raw(props.qrSvg)}
            </div>
            <p class="small">
              Or type this key:{' '}
              <span class="secret" id="totp-secret">
                {props.secret}
              </span>
            </p>
          </li>
          <li>
            <form method="post" action="/step-up/totp/confirm" class="stack">
              <input type="hidden" name="returnTo" value={props.returnTo} />
              <input type="hidden" name="factorId" value={props.factorId} />
              {props.enrolmentCode !== null && (
                <input type="hidden" name="enrolmentCode" value={props.enrolmentCode} />
              )}
              <label for="totp-code">Enter the 6-digit code the app shows</label>
              <input
                id="totp-code"
                name="code"
                class="code"
                inputmode="numeric"
                autocomplete="one-time-code"
                maxlength={9}
                required
                autofocus
              />
              <button type="submit">Confirm and continue</button>
            </form>
          </li>
        </ol>
      </section>
    </Layout>
  )
}
