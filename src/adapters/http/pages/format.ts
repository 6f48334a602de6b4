/**
 * How pages write times and durations: absolute times in UTC with the zone named (a user abroad is not
 * misled by a server's zone), durations in hours and minutes.
 */

export function formatTime(ms: number | string | null): string {
  if (ms === null) return '—'
  const date = new Date(ms)
  if (Number.isNaN(date.getTime())) return '—'
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

export function formatDuration(ms: number): string {
  if (ms <= 0) return 'ended'
  const minutes = Math.floor(ms / 60_000)
  const hours = Math.floor(minutes / 60)
  return hours > 0 ? `${hours} h ${String(minutes % 60).padStart(2, '0')} min` : `${minutes} min`
}
