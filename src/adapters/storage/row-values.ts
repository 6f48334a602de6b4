/**
 * Reading raw row values the same way on both drivers, and writing times as SQL parameters.
 *
 * postgres.js (as drizzle configures it) returns timestamps as text and int8 as strings; PGlite returns
 * Dates and numbers. These helpers accept either, so the store's mappers do not care which driver ran.
 */
import { KeygateError } from '../../core/errors.ts'
import type { Row } from './sql-runner.ts'

/** A time parameter for SQL: ISO text, cast with `::timestamptz` at the use site. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString()
}

// PostgreSQL's ISO output: `2026-01-02 03:04:05.678+00` (minutes on the offset only when non-zero).
const PG_TIMESTAMP = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2})(?::?(\d{2}))?$/

function parseTime(value: unknown, column: string): number {
  if (value instanceof Date) return value.getTime()
  if (typeof value === 'number') return value
  if (typeof value === 'string') {
    const match = PG_TIMESTAMP.exec(value)
    const ms =
      match === null
        ? Date.parse(value)
        : Date.parse(`${match[1]}T${match[2]}${match[3]}:${match[4] ?? '00'}`)
    if (!Number.isNaN(ms)) return ms
  }
  throw new KeygateError('INTERNAL', `unexpected time in column ${column}`)
}

export function timeOf(row: Row, column: string): number {
  return parseTime(row[column], column)
}

export function timeOrNull(row: Row, column: string): number | null {
  const value = row[column]
  return value === null || value === undefined ? null : parseTime(value, column)
}

export function numberOf(row: Row, column: string): number {
  const value = row[column]
  if (typeof value === 'number') return value
  if (typeof value === 'string' || typeof value === 'bigint') return Number(value)
  throw new KeygateError('INTERNAL', `unexpected number in column ${column}`)
}

export function numberOrNull(row: Row, column: string): number | null {
  const value = row[column]
  return value === null || value === undefined ? null : numberOf(row, column)
}

export function textOf(row: Row, column: string): string {
  const value = row[column]
  if (typeof value === 'string') return value
  throw new KeygateError('INTERNAL', `unexpected text in column ${column}`)
}

export function textOrNull(row: Row, column: string): string | null {
  const value = row[column]
  return value === null || value === undefined ? null : textOf(row, column)
}

/** jsonb arrives parsed from both drivers; text (json through a cast) is parsed here. */
export function jsonOf<T>(row: Row, column: string): T {
  const value = row[column]
  return (typeof value === 'string' ? JSON.parse(value) : value) as T
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Ids are UUIDs; anything else can match no row, and must not reach a `::uuid` cast (a SQL error). */
export function isUuid(value: string): boolean {
  return UUID.test(value)
}
