/**
 * Durations as policy authors write them: `8h`, `15m`, `1h30m`, `90s`, `2d`. Units descend and appear once,
 * so `30m1h` is refused rather than silently added up.
 */

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 } as const
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/

/** Milliseconds, or null when the text is not a duration. Zero is a valid parse; callers decide on sign. */
export function parseDuration(text: string): number | null {
  const match = DURATION.exec(text)
  if (match === null || text === '') return null
  const [, d, h, m, s] = match
  let total = 0
  for (const [digits, unit] of [
    [d, UNIT_MS.d],
    [h, UNIT_MS.h],
    [m, UNIT_MS.m],
    [s, UNIT_MS.s],
  ] as const) {
    if (digits !== undefined) total += Number(digits) * unit
  }
  return Number.isSafeInteger(total) ? total : null
}

/** The shortest text that parses back to the same duration (whole seconds; sub-second parts are dropped). */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s'
  let rest = Math.floor(ms / 1000)
  let out = ''
  for (const [unit, seconds] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / seconds)
    if (n > 0) {
      out += `${n}${unit}`
      rest -= n * seconds
    }
  }
  return out === '' ? '0s' : out
}
