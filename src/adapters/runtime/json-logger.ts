/**
 * The Logger port as JSON lines on a writable sink (stdout on Node, console on Workers).
 * Fields whose names suggest a secret are redacted here as a last line of defence; callers should
 * never pass one in the first place.
 */
import type { LogFields, Logger } from '../../core/ports.ts'

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const
export type LogLevel = keyof typeof LEVELS

const SECRET_FIELD =
  /token|secret|password|private|psk|preshared|cookie|authorization|code_verifier|credential/i

export function createJsonLogger(write: (line: string) => void, minimum: LogLevel = 'info'): Logger {
  const log =
    (level: LogLevel) =>
    (event: string, fields: LogFields = {}) => {
      if (LEVELS[level] < LEVELS[minimum]) return
      write(JSON.stringify({ time: new Date().toISOString(), level, event, ...redactSecretFields(fields) }))
    }
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }
}

/** The fields with any whose name suggests a secret replaced by "[redacted]". */
export function redactSecretFields(fields: LogFields): LogFields {
  const safe: LogFields = {}
  for (const [key, value] of Object.entries(fields)) safe[key] = SECRET_FIELD.test(key) ? '[redacted]' : value
  return safe
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }
