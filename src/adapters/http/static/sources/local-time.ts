/**
 * Every page: rewrites each server-written `<time data-local>` (UTC, the zone named) in the reader's own
 * time zone, the zone named too, and keeps the UTC text as the hover title. Pages that add times later
 * (a lease that just ended) call `showLocalTimes` on what they added.
 */

const format = new Intl.DateTimeFormat(undefined, {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  timeZoneName: 'short',
})

export function localTime(iso: string): string | null {
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? null : format.format(date)
}

export function showLocalTimes(root: ParentNode = document): void {
  for (const element of root.querySelectorAll<HTMLTimeElement>('time[data-local]')) {
    const text = localTime(element.dateTime)
    if (text === null) continue
    if (!element.title) element.title = element.textContent ?? ''
    element.textContent = text
  }
}

showLocalTimes()
