/**
 * The "new device" page: make the key pair here, send only the public key to POST /api/v1/peers, write
 * the private key into the returned config, and offer the result as a .conf download and a QR code.
 * Nothing derived from the private key is sent anywhere; the tests record every request to prove it.
 */
import QRCode from 'qrcode'
import { deviceFileName } from '../../../../core/peers/device-name.ts'
import { fillPrivateKey } from '../../../../core/peers/wg-config.ts'
import { formatEndsIn } from './countdown.ts'
import { $, api, isApiError, show, showError } from './dom.ts'
import { generateKeyPair } from './keygen.ts'

interface IssuedPeer {
  id: string
  address: string
  addresses: string[]
  expiresAt: string
  gateways: Array<{ name: string; endpoint: string; routes: string[]; enrolled: boolean }>
  pendingGateways?: string[]
  config: string
}

/** What the user typed survives a sign-in elsewhere (an old tab after sign-out): kept for this tab only. */
const DRAFT_KEY = 'keygate.device-name'
/** Set while a private key exists in this page that was not downloaded: leaving would lose it. */
let unsavedKey = false

const form = $('#device-form') as HTMLFormElement | null
const errorBox = $('#device-error')
const status = $('#device-status')

function setStatus(text: string): void {
  if (status !== null) status.textContent = text
}

async function create(event: SubmitEvent): Promise<void> {
  event.preventDefault()
  if (form === null) return
  const button = form.querySelector('button[type="submit"]') as HTMLButtonElement | null
  if (button) button.disabled = true
  show(errorBox, false)
  const name = (new FormData(form).get('name') ?? '').toString().trim()
  try {
    setStatus('Generating a key pair in this browser…')
    performance.mark('keygate-keygen-start')
    const keys = await generateKeyPair(new URLSearchParams(location.search).has('noble'))
    performance.measure('keygate-keygen', 'keygate-keygen-start')
    setStatus('Asking Keygate for access (only the public key is sent)…')
    const issued = await api<IssuedPeer>('POST', '/api/v1/peers', {
      publicKey: keys.publicKey,
      name: name || undefined,
    })
    const config = fillPrivateKey(issued.config, keys.privateKey)
    unsavedKey = true
    sessionStorage.removeItem(DRAFT_KEY)
    await showResult(issued, config, name, keys.method)
    setStatus('')
    form.classList.add('hidden')
  } catch (error) {
    setStatus('')
    if (isApiError(error) && error.code === 'STEP_UP_REQUIRED') {
      location.assign(`/step-up?returnTo=${encodeURIComponent('/devices/new')}`)
      return
    }
    // Signed out (or the sign-in is too old) since this page loaded: keep what was typed, offer a link.
    if (isApiError(error) && error.status === 401) {
      sessionStorage.setItem(DRAFT_KEY, name)
      showSignInAgain(error.code === 'UNAUTHENTICATED' ? 'You are signed out.' : error.message)
      return
    }
    showError(errorBox, error)
  } finally {
    if (button) button.disabled = false
  }
}

async function showResult(issued: IssuedPeer, config: string, name: string, method: string): Promise<void> {
  const result = $('#device-result')
  if (result === null) return
  const text = $('#config-text', result)
  if (text !== null) text.textContent = config
  const download = $('#config-download', result)
  // A blob: URL lives in this page only; downloading it sends nothing over the network.
  const fileUrl = URL.createObjectURL(new Blob([config], { type: 'text/plain' }))
  download?.addEventListener('click', () => {
    const link = document.createElement('a')
    link.href = fileUrl
    link.download = deviceFileName(name, issued.id)
    unsavedKey = false
    document.body.append(link)
    link.click()
    link.remove()
  })
  const canvas = $('#config-qr', result) as HTMLCanvasElement | null
  if (canvas !== null)
    await QRCode.toCanvas(canvas, config, { errorCorrectionLevel: 'M', margin: 2, scale: 4 })
  const summary = $('#lease-summary', result)
  if (summary !== null) {
    const gateways = issued.gateways
      .map((g) => `${g.name} (${g.routes.join(', ') || 'no routes'})`)
      .join('; ')
    summary.textContent = `Address ${issued.addresses.join(', ')}. Gateways: ${gateways || 'none'}. Access ${formatEndsIn(Date.parse(issued.expiresAt), Date.now())}.`
  }
  const notEnrolled = issued.pendingGateways ?? issued.gateways.filter((g) => !g.enrolled).map((g) => g.name)
  const pending = $('#gateways-pending', result)
  if (pending !== null && notEnrolled.length > 0) {
    pending.textContent = `Not yet online: ${notEnrolled.join(', ')}. Their entries will be missing from this file; create a new one once they are up.`
    show(pending)
  }
  result.dataset.leaseId = issued.id
  result.dataset.keyMethod = method
  show(result)
  $('h2', result)?.focus()
}

function showSignInAgain(message: string): void {
  if (errorBox === null) return
  const p = document.createElement('p')
  p.textContent = `${message} Sign in again, then come back: the name you typed is kept.`
  const link = document.createElement('a')
  link.className = 'button'
  link.href = '/?returnTo=%2Fdevices%2Fnew'
  link.id = 'device-sign-in'
  link.textContent = 'Sign in again'
  errorBox.replaceChildren(p, link)
  errorBox.className = 'notice bad'
  show(errorBox)
  errorBox.focus()
}

function restoreDraft(): void {
  const input = form?.querySelector<HTMLInputElement>('input[name="name"]')
  const draft = sessionStorage.getItem(DRAFT_KEY)
  if (input && draft !== null && input.value === '') input.value = draft
}

// The private key lives only in this page until it is downloaded (or scanned): warn before losing it.
window.addEventListener('beforeunload', (event) => {
  if (!unsavedKey) return
  event.preventDefault()
  event.returnValue = ''
})

restoreDraft()
form?.addEventListener('submit', (event) => void create(event as SubmitEvent))
