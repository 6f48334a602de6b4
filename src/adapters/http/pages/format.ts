/**
 * How pages write times and durations, on the server and (bundled) in the browser alike. The server
 * writes an absolute time in UTC, the zone named, inside a <time> element; the browser's local-time.js
 * rewrites it in the reader's own zone and keeps UTC on hover. Durations are words a person reads at a
 * glance ("7 h 12 min", "13 min"), never a ticking "13:59".
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** The instant as ISO 8601, or null for no time or an invalid one. */
export function isoTime(at: number | string | null): string | null {
  if (at === null) return null
  const date = new Date(at)
  return Number.isNaN(date.getTime()) ? null : date.toISOString()
}

/** "2 Dec 2026, 14:05 UTC": the one format of absolute times on every page. */
export function formatTime(at: number | string | null): string {
  const iso = isoTime(at)
  if (iso === null) return '—'
  const date = new Date(iso)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()}, ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`
}

/** "7 h 12 min", "13 min", "less than a minute"; whole days past 48 hours. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return 'less than a minute'
  const minutes = Math.floor(ms / 60_000)
  const hours = Math.floor(minutes / 60)
  if (hours >= 48) return `${Math.floor(hours / 24)} days`
  if (hours === 0) return `${minutes} min`
  return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`
}

/** "ends in 13 min" / "ended" for an expiry seen at `now`. */
export function formatEndsIn(expiresAt: number, now: number): string {
  return expiresAt <= now ? 'ended' : `ends in ${formatDuration(expiresAt - now)}`
}
