/**
 * The "my access" page: how long each lease has left, kept current (a warning in the last 15 minutes,
 * and a browser notification then if the user allowed it), and a light poll of the user's leases so a
 * lease revoked elsewhere (by an admin, from another device) shows as ended, when and by whom, and moves
 * from "Active devices" to "Recently ended" without a reload.
 */
import { formatEndsIn, isWarning } from './countdown.ts'
import { $, api, show } from './dom.ts'
import { localTime } from './local-time.ts'

interface LeaseView {
  id: string
  state: 'active' | 'revoked' | 'expired'
  expiresAt: string
  revokedAt: string | null
  revokedReason: string | null
}

const POLL_MS = 5_000
// The server's clock decides expiry; the page corrects for a phone whose clock is off.
const serverNow = Number(document.body.dataset.now ?? Date.now())
const clockOffset = serverNow - Date.now()
const now = () => Date.now() + clockOffset

const notified = new Set<string>()

function leaseCards(): HTMLElement[] {
  return [...document.querySelectorAll<HTMLElement>('[data-lease-id]')]
}

function tick(): void {
  for (const card of leaseCards()) {
    const timer = $('[data-expires]', card)
    if (timer === null || card.dataset.state !== 'active') continue
    const expiresAt = Date.parse(timer.dataset.expires ?? '')
    const remaining = expiresAt - now()
    if (remaining <= 0) {
      markEnded(card, 'expired', 'This access has expired. Create a new configuration to connect again.')
      continue
    }
    const warning = isWarning(remaining)
    const endsIn = formatEndsIn(expiresAt, now())
    timer.textContent = warning ? `${endsIn}. Renew now to keep the tunnel.` : endsIn
    timer.classList.toggle('warning', warning)
    if (warning) notifyOnce(card)
  }
}

function notifyOnce(card: HTMLElement): void {
  const id = card.dataset.leaseId ?? ''
  if (notified.has(id) || !('Notification' in window) || Notification.permission !== 'granted') return
  notified.add(id)
  new Notification('Keygate: access ends soon', {
    body: `${card.dataset.leaseName || 'Your device'} loses access in less than 15 minutes. Renew to keep it.`,
    tag: `keygate-${id}`,
  })
}

function markEnded(card: HTMLElement, state: string, message: string): void {
  if (card.dataset.state === state) return
  card.dataset.state = state
  card.classList.add('ended')
  const label = $('.state', card)
  if (label !== null) {
    label.textContent = state
    label.className = `state ${state}`
  }
  const timer = $('[data-expires]', card)
  if (timer !== null) {
    timer.textContent = 'ended'
    timer.classList.remove('warning')
  }
  const ended = $('[data-ended-message]', card)
  if (ended !== null) {
    ended.textContent = message
    show(ended)
  }
  $('.actions', card)?.remove()
  // An ended device is no longer an active one.
  const endedList = $('#ended-leases')
  if (endedList !== null && card.parentElement !== endedList) {
    endedList.prepend(card)
    show($('#ended-section'))
    const active = $('#active-leases')
    show($('#no-active-leases'), active !== null && active.children.length === 0)
  }
}

/** "Revoked 2 Dec 2026, 15:05 CET by an administrator." in the reader's zone. */
function revokedMessage(lease: LeaseView): string {
  const when = lease.revokedAt === null ? 'just now' : (localTime(lease.revokedAt) ?? 'just now')
  const reason = lease.revokedReason ?? ''
  const by =
    reason === 'revoked by its owner'
      ? ' by you'
      : reason.startsWith('revoked ')
        ? ` ${reason.slice('revoked '.length)}`
        : reason === ''
          ? ''
          : ` (${reason})`
  return `Revoked ${when}${by}.`
}

async function poll(): Promise<void> {
  try {
    const { peers } = await api<{ peers: LeaseView[] }>('GET', '/api/v1/peers')
    const byId = new Map(peers.map((p) => [p.id, p]))
    for (const card of leaseCards()) {
      const lease = byId.get(card.dataset.leaseId ?? '')
      if (lease === undefined || lease.state === 'active') {
        const timer = $('[data-expires]', card)
        if (lease !== undefined && timer !== null) timer.dataset.expires = lease.expiresAt
        continue
      }
      const why = lease.state === 'revoked' ? revokedMessage(lease) : 'This access has expired.'
      markEnded(card, lease.state, why)
    }
  } catch (error) {
    if ((error as { status?: number }).status === 401) {
      const notice = $('#session-notice')
      if (notice !== null) {
        notice.textContent = 'Your session has ended. Sign in again to manage your access.'
        notice.className = 'notice warn'
      }
      return
    }
  }
}

function setUpNotifications(): void {
  const button = $('#notify-button') as HTMLButtonElement | null
  if (button === null || !('Notification' in window) || Notification.permission !== 'default') return
  show(button)
  button.addEventListener('click', async () => {
    await Notification.requestPermission()
    show(button, false)
  })
}

setUpNotifications()
tick()
setInterval(tick, 1_000)
setInterval(() => void poll(), POLL_MS)
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') void poll()
})
