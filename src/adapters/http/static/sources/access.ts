/**
 * The "my access" page: live countdowns to each lease's expiry (a warning in the last 15 minutes, and a
 * browser notification then if the user allowed it), and a light poll of the user's leases so a lease
 * revoked elsewhere (by an admin, from another device) shows as ended without a reload.
 */
import { formatRemaining, isWarning } from './countdown.ts'
import { $, api, show } from './dom.ts'

interface LeaseView {
  id: string
  state: 'active' | 'revoked' | 'expired'
  expiresAt: string
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
    const remaining = Date.parse(timer.dataset.expires ?? '') - now()
    if (remaining <= 0) {
      markEnded(card, 'expired', 'This access has expired. Create a new configuration to connect again.')
      continue
    }
    const warning = isWarning(remaining)
    timer.textContent = warning
      ? `ends in ${formatRemaining(remaining)}. Renew now to keep the tunnel.`
      : `ends in ${formatRemaining(remaining)}`
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
      const why =
        lease.state === 'revoked'
          ? `This access was ${lease.revokedReason ?? 'revoked'}.`
          : 'This access has expired.'
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
