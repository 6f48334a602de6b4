/**
 * Turning an expiry time into "ends in 7 h 12 min", in words a user reads at a glance, and deciding when
 * it becomes a warning (the last 15 minutes: enough to renew without dropping the tunnel).
 */

export const WARNING_MS = 15 * 60_000

export function formatRemaining(ms: number): string {
  if (ms <= 0) return 'ended'
  const totalSeconds = Math.floor(ms / 1000)
  const hours = Math.floor(totalSeconds / 3600)
  const minutes = Math.floor((totalSeconds % 3600) / 60)
  const seconds = totalSeconds % 60
  if (hours > 0) return `${hours} h ${String(minutes).padStart(2, '0')} min`
  if (minutes >= 15) return `${minutes} min`
  return `${minutes}:${String(seconds).padStart(2, '0')}`
}

export function isWarning(ms: number): boolean {
  return ms > 0 && ms <= WARNING_MS
}
