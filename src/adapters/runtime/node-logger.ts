/**
 * The Logger port on Node, through pino: JSON lines (`{"level","time","event",…fields}`, one object per
 * line, for log shippers) or, for a person at a terminal, pino-pretty's readable lines. One switch,
 * KEYGATE_LOG_FORMAT=pretty|json (or the agent's --log-format); by default pretty when the output is a
 * terminal and JSON otherwise. The Worker keeps json-logger.ts (console lines that workerd collects).
 */
import { pino } from 'pino'
import { prettyFactory } from 'pino-pretty'
import type { LogFields, Logger } from '../../core/ports.ts'
import { type LogLevel, redactSecretFields } from './json-logger.ts'

export type LogFormat = 'pretty' | 'json'

export interface NodeLoggerOptions {
  level?: LogLevel
  format?: LogFormat
  /** Where lines go (default stdout); one call per line, newline included. */
  write?: (line: string) => void
  /** Colours in pretty output (default: when stdout is a colour terminal). */
  colorize?: boolean
}

/** KEYGATE_LOG_FORMAT, else pretty on a terminal and JSON anywhere else. */
export function resolveLogFormat(
  value: string | undefined,
  isTerminal: boolean = process.stdout.isTTY === true,
): LogFormat {
  if (value === 'pretty' || value === 'json') return value
  return isTerminal ? 'pretty' : 'json'
}

export function createNodeLogger(options: NodeLoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => process.stdout.write(line))
  const format = options.format ?? resolveLogFormat(process.env.KEYGATE_LOG_FORMAT)
  let sink: { write(line: string): void }
  if (format === 'pretty') {
    const prettify = prettyFactory({
      colorize: options.colorize ?? (process.stdout.isTTY === true && process.stdout.hasColors()),
      messageKey: 'event',
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      singleLine: true,
    })
    sink = { write: (line) => write(prettify(line)) }
  } else {
    sink = { write }
  }
  const base = pino(
    {
      level: options.level ?? 'info',
      base: null,
      messageKey: 'event',
      timestamp: pino.stdTimeFunctions.isoTime,
      // Pretty output wants pino's numeric levels to colour them; JSON readers want the name.
      formatters: format === 'json' ? { level: (label) => ({ level: label }) } : {},
    },
    sink,
  )
  const log =
    (level: LogLevel) =>
    (event: string, fields: LogFields = {}) =>
      base[level](redactSecretFields(fields), event)
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }
}
