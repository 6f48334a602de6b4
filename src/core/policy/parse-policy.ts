/**
 * Turning HuJSON text (JSON with comments and trailing commas) into a syntax tree that keeps offsets.
 *
 * jsonc-parser recovers after a syntax error and keeps going, so one pass reports every syntax error in
 * the file; the tree is only trusted when there were none.
 */
import { type Node, type ParseError, parseTree, printParseErrorCode } from 'jsonc-parser'
import type { DiagnosticSink } from './diagnostics.ts'

export type SyntaxNode = Node

const SYNTAX_HINTS: Record<string, string> = {
  CommaExpected: 'a comma is missing between two entries',
  ColonExpected: 'write "key": value',
  PropertyNameExpected: 'keys are double-quoted strings',
  ValueExpected: 'a value is missing (or there is an extra comma)',
  CloseBraceExpected: 'an object is not closed with }',
  CloseBracketExpected: 'an array is not closed with ]',
  EndOfFileExpected: 'the file must hold exactly one object',
  InvalidSymbol: 'strings need double quotes; true, false and null are lower case',
  UnexpectedEndOfString: 'a string is not closed with "',
  UnexpectedEndOfComment: 'a /* comment is not closed with */',
  InvalidEscapeCharacter: 'in strings, only \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX escapes exist',
}

const SYNTAX_MESSAGES: Record<string, string> = {
  CommaExpected: 'expected a comma',
  ColonExpected: 'expected a colon',
  PropertyNameExpected: 'expected a key',
  ValueExpected: 'expected a value',
  CloseBraceExpected: 'expected }',
  CloseBracketExpected: 'expected ]',
  EndOfFileExpected: 'unexpected text after the end of the policy',
  InvalidSymbol: 'unexpected symbol',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfComment: 'unterminated comment',
  InvalidEscapeCharacter: 'invalid escape sequence',
}

/** The root node, or null when the file is empty (only whitespace and comments) or has syntax errors. */
export function parsePolicySyntax(
  source: string,
  sink: DiagnosticSink,
): { root: SyntaxNode | null; empty: boolean } {
  const errors: ParseError[] = []
  const root = parseTree(source, errors, {
    allowTrailingComma: true,
    disallowComments: false,
    allowEmptyContent: true,
  })
  // After one syntax error the parser often trips over the rest of that line; only the first is useful.
  let lastLine = -1
  for (const error of errors) {
    const { line } = sink.position(error.offset)
    if (line === lastLine) continue
    lastLine = line
    const name = printParseErrorCode(error.error)
    sink.error(
      { offset: error.offset, path: '' },
      'POLICY_SYNTAX',
      SYNTAX_MESSAGES[name] ?? `syntax error (${name})`,
      SYNTAX_HINTS[name] ?? 'the policy file is HuJSON: JSON plus comments and trailing commas',
    )
  }
  if (errors.length > 0) return { root: null, empty: false }
  return { root: root ?? null, empty: root === undefined }
}
