// parsePolicySyntax's answer itself: the tree only when the text parsed cleanly, and whether the file was
// empty (nothing but whitespace and comments) as opposed to broken.
import { describe, expect, it } from 'vitest'
import { DiagnosticSink } from '../../../src/core/policy/diagnostics.ts'
import { parsePolicySyntax } from '../../../src/core/policy/parse-policy.ts'

const parse = (source: string) => parsePolicySyntax(source, new DiagnosticSink('f', source))

describe('parsePolicySyntax', () => {
  it('an empty file has no tree and says it is empty', () => {
    expect(parse('')).toEqual({ root: null, empty: true })
    expect(parse(' // nothing\n/* yet */\n')).toEqual({ root: null, empty: true })
  })

  it('a broken file has no tree, even a partial one, and is not empty', () => {
    expect(parse('{ "grants": [ }')).toEqual({ root: null, empty: false })
    expect(parse('{ "a": 1 "b": 2 }')).toEqual({ root: null, empty: false })
  })

  it('a clean file gives its tree', () => {
    const { root, empty } = parse('{ "grants": [] }')
    expect(empty).toBe(false)
    expect(root?.type).toBe('object')
    expect(root?.children?.[0]?.children?.[0]?.value).toBe('grants')
  })
})
