// A logger that lets a test wait for one event instead of sleeping: `seen` settles with the fields of the
// first line logged under that event name; every other line is dropped.
import type { LogFields, Logger } from '../../src/core/ports.ts'

export function waitingLogger(event: string): { logger: Logger; seen: Promise<LogFields> } {
  let resolve!: (fields: LogFields) => void
  const seen = new Promise<LogFields>((r) => {
    resolve = r
  })
  const log = (name: string, fields?: LogFields) => {
    if (name === event) resolve(fields ?? {})
  }
  return { logger: { debug: log, info: log, warn: log, error: log }, seen }
}
