/**
 * The step-up page's WebAuthn part: registering a security key or passkey as a second factor, and using
 * one. The ceremonies run in the browser (@simplewebauthn/browser); the broker makes the single-use
 * challenges and verifies the answers, and on success re-issues the session cookie with the step-up.
 */
import { startAuthentication, startRegistration } from '@simplewebauthn/browser'
import { $, api, showError } from './dom.ts'

const errorBox = $('#webauthn-error')
const returnTo = document.body.dataset.returnTo ?? '/'
/** Present when only an admin-issued code lets this user enrol a first factor. */
const enrolmentCode = () => ($('#enrolment-code') as HTMLInputElement | null)?.value ?? undefined

async function run(button: HTMLButtonElement, ceremony: () => Promise<{ next: string }>): Promise<void> {
  button.disabled = true
  try {
    const { next } = await ceremony()
    location.assign(next)
  } catch (error) {
    showError(
      errorBox,
      error instanceof Error && error.name === 'NotAllowedError'
        ? new Error('The security key request was cancelled or timed out. Try again.')
        : error,
    )
  } finally {
    button.disabled = false
  }
}

const register = $('#webauthn-register') as HTMLButtonElement | null
register?.addEventListener(
  'click',
  () =>
    void run(register, async () => {
      const optionsJSON = await api<Parameters<typeof startRegistration>[0]['optionsJSON']>(
        'POST',
        '/step-up/webauthn/register/options',
        { enrolmentCode: enrolmentCode() },
      )
      const response = await startRegistration({ optionsJSON })
      const label = ($('#webauthn-label') as HTMLInputElement | null)?.value ?? ''
      return api('POST', '/step-up/webauthn/register/verify', {
        response,
        label,
        returnTo,
        enrolmentCode: enrolmentCode(),
      })
    }),
)

const authenticate = $('#webauthn-authenticate') as HTMLButtonElement | null
authenticate?.addEventListener(
  'click',
  () =>
    void run(authenticate, async () => {
      const optionsJSON = await api<Parameters<typeof startAuthentication>[0]['optionsJSON']>(
        'POST',
        '/step-up/webauthn/authenticate/options',
        {},
      )
      const response = await startAuthentication({ optionsJSON })
      return api('POST', '/step-up/webauthn/authenticate/verify', { response, returnTo })
    }),
)

if (!('PublicKeyCredential' in window)) {
  for (const id of ['#webauthn-register', '#webauthn-authenticate']) {
    const button = $(id) as HTMLButtonElement | null
    if (button !== null) {
      button.disabled = true
      button.title = 'This browser does not support security keys or passkeys.'
    }
  }
}
