// Where a diagnostic points and how it reads: every syntax error's wording, one per line, line and column
// over every line ending, JSON paths for any key, and the one-line format the CLI prints.
import { describe, expect, it } from 'vitest'
import { childPath, DiagnosticSink, LineIndex } from '../../../src/core/policy/diagnostics.ts'
import { formatDiagnostic, loadPolicy, type PolicyDiagnostic } from '../../../src/core/policy/index.ts'
import { FILE } from './helpers.ts'

function errorsOf(source: string): PolicyDiagnostic[] {
  const result = loadPolicy(source, FILE)
  if (result.ok) throw new Error('expected the policy to be refused')
  return result.errors
}

describe('syntax errors', () => {
  const HUJSON = 'the policy file is HuJSON: JSON plus comments and trailing commas'
  it.each([
    ['{ "a": 1 "b": 2 }', 10, 'expected a comma', 'a comma is missing between two entries'],
    ['{ "a" 1 }', 7, 'expected a colon', 'write "key": value'],
    ['{ 1: 2 }', 3, 'expected a key', 'keys are double-quoted strings'],
    ['{ "a": }', 8, 'expected a value', 'a value is missing (or there is an extra comma)'],
    ['{ "a": 1', 9, 'expected }', 'an object is not closed with }'],
    ['{ "a": [1', 10, 'expected ]', 'an array is not closed with ]'],
    ['{} {}', 4, 'unexpected text after the end of the policy', 'the file must hold exactly one object'],
    ["{ 'a': 1 }", 3, 'unexpected symbol', 'strings need double quotes; true, false and null are lower case'],
    ['{ "a": "b', 8, 'unterminated string', 'a string is not closed with "'],
    ['{ /* x ', 3, 'unterminated comment', 'a /* comment is not closed with */'],
    [
      '{ "a": "\\q" }',
      8,
      'invalid escape sequence',
      'in strings, only \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX escapes exist',
    ],
    ['{ "a": "\\u00zz" }', 8, 'syntax error (InvalidUnicode)', HUJSON],
  ])('%s', (source, col, message, hint) => {
    expect(errorsOf(source)).toEqual([
      { file: FILE, line: 1, col, path: '', code: 'POLICY_SYNTAX', message, hint, severity: 'error' },
    ])
  })

  it('reports the first error of each line only, and nothing about the content', () => {
    const errors = errorsOf('{\n "a": 1 "b": 2 "c": 3,\n "d" 4, "grants": 5 }')
    expect(errors.map((e) => [e.line, e.col, e.message])).toEqual([
      [2, 9, 'expected a comma'],
      [3, 6, 'expected a colon'],
    ])
  })

  it('an empty file, or one of only comments, is an empty policy; a non-object is refused', () => {
    expect(loadPolicy('', FILE).ok).toBe(true)
    expect(loadPolicy('  /* nothing */\n// yet\n', FILE).ok).toBe(true)
    expect(errorsOf('[]')).toEqual([
      {
        file: FILE,
        line: 1,
        col: 1,
        path: '',
        code: 'WRONG_TYPE',
        message: 'expected policy (an object), got an array',
        hint: '',
        severity: 'error',
      },
    ])
    expect(errorsOf('\n  "grants"').map((e) => [e.line, e.col, e.message])).toEqual([
      [2, 3, 'expected policy (an object), got a string'],
    ])
  })
})

describe('positions', () => {
  it('count lines over \\n, \\r\\n and a lone \\r, columns from 1', () => {
    const index = new LineIndex('ab\ncd\r\nef\rgh\n\nij')
    const at = (offset: number) => index.position(offset)
    expect(
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map((o) => Object.values(at(o)).join(':')),
    ).toEqual([
      '1:1',
      '1:2',
      '1:3',
      '2:1',
      '2:2',
      '2:3',
      '2:4',
      '3:1',
      '3:2',
      '3:3',
      '4:1',
      '4:2',
      '4:3',
      '5:1',
      '6:1',
    ])
    expect(at(16)).toEqual({ line: 6, col: 3 })
  })

  it('a policy with Windows line endings is pinned to the same lines', () => {
    const errors = errorsOf('{\r\n  "grants": [],\r\n  "bogus": 1,\r\n}\r\n')
    expect(errors.map((e) => [e.line, e.col, e.code])).toEqual([[3, 3, 'UNKNOWN_KEY']])
  })
})

describe('JSON paths', () => {
  it('join plain keys with dots, indexes with brackets, and quote any other key', () => {
    expect(childPath('', 'grants')).toBe('grants')
    expect(childPath('grants', 0)).toBe('grants[0]')
    expect(childPath('grants[0]', 'dst')).toBe('grants[0].dst')
    expect(childPath('', 3)).toBe('[3]')
    expect(childPath('a', '_b$1')).toBe('a._b$1')
    expect(childPath('a', '$')).toBe('a.$')
    expect(childPath('gateways', 'eu-1')).toBe('gateways["eu-1"]')
    expect(childPath('', 'group:eng')).toBe('["group:eng"]')
    expect(childPath('a', '1x')).toBe('a["1x"]')
    expect(childPath('a', 'x y')).toBe('a["x y"]')
    expect(childPath('a', 'x"')).toBe('a["x\\""]')
  })
})

describe('formatDiagnostic', () => {
  const base: PolicyDiagnostic = {
    file: 'p.hujson',
    line: 3,
    col: 7,
    path: 'grants[0]',
    code: 'X',
    message: 'went wrong',
    hint: 'fix it',
    severity: 'error',
  }

  it('file:line:col path: message (hint: …), warnings marked, the root named', () => {
    expect(formatDiagnostic(base)).toBe('p.hujson:3:7 grants[0]: went wrong (hint: fix it)')
    expect(formatDiagnostic({ ...base, hint: '' })).toBe('p.hujson:3:7 grants[0]: went wrong')
    expect(formatDiagnostic({ ...base, severity: 'warning' })).toBe(
      'p.hujson:3:7 grants[0]: warning: went wrong (hint: fix it)',
    )
    expect(formatDiagnostic({ ...base, path: '' })).toBe('p.hujson:3:7 (root): went wrong (hint: fix it)')
  })

  it('keeps the hint on the first line of a multi-line message', () => {
    expect(formatDiagnostic({ ...base, message: 'failed:\n  one\n  two' })).toBe(
      'p.hujson:3:7 grants[0]: failed: (hint: fix it)\n  one\n  two',
    )
  })
})

describe('DiagnosticSink', () => {
  it('keeps errors and warnings apart, each with its file, position and severity', () => {
    const sink = new DiagnosticSink('f.hujson', 'x\ny')
    sink.error({ offset: 2, path: 'a' }, 'E', 'bad', 'h')
    sink.warning({ offset: 0, path: 'b' }, 'W', 'odd')
    sink.error({ offset: 0, path: '' }, 'E2', 'worse')
    expect(sink.file).toBe('f.hujson')
    expect(sink.position(2)).toEqual({ line: 2, col: 1 })
    expect(sink.errors).toEqual([
      {
        file: 'f.hujson',
        line: 2,
        col: 1,
        path: 'a',
        code: 'E',
        message: 'bad',
        hint: 'h',
        severity: 'error',
      },
      {
        file: 'f.hujson',
        line: 1,
        col: 1,
        path: '',
        code: 'E2',
        message: 'worse',
        hint: '',
        severity: 'error',
      },
    ])
    expect(sink.warnings).toEqual([
      {
        file: 'f.hujson',
        line: 1,
        col: 1,
        path: 'b',
        code: 'W',
        message: 'odd',
        hint: '',
        severity: 'warning',
      },
    ])
  })
})
