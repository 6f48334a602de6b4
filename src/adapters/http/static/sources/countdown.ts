/**
 * When an expiry becomes a warning: the last 15 minutes, enough to renew without dropping the tunnel.
 * The words themselves come from the pages' own format.ts, so the server and the browser say the same.
 */
export { formatDuration, formatEndsIn } from '../../pages/format.ts'

export const WARNING_MS = 15 * 60_000

export function isWarning(ms: number): boolean {
  return ms > 0 && ms <= WARNING_MS
}
