// Open redirect through returnTo / the step-up next value (issue 10.3): only same-origin paths pass;
// what browsers would turn into another origin (a tab or newline they strip, a backslash they read as a
// slash, a protocol-relative URL) becomes "/".
import { describe, expect, it } from 'vitest'
import { safeReturnTo } from '../../../src/adapters/http/return-to.ts'

const ORIGIN = 'http://localhost:8080'

describe('safeReturnTo', () => {
  it('keeps same-origin paths with their query and fragment', () => {
    expect(safeReturnTo('/step-up?returnTo=%2F', ORIGIN)).toBe('/step-up?returnTo=%2F')
    expect(safeReturnTo('/devices#new', ORIGIN)).toBe('/devices#new')
    expect(safeReturnTo('/%09/evil.example', ORIGIN)).toBe('/%09/evil.example')
  })

  it('refuses whatever a browser could resolve to another origin, or a header could not carry', () => {
    for (const value of [
      '/\t/evil.example', // what `returnTo=/%09/evil.example` decodes to: browsers strip the tab
      '/\n/evil.example',
      '/\r\nSet-Cookie: x=1',
      '//evil.example',
      '/\\evil.example',
      '\\/evil.example',
      'https://evil.example/',
      'javascript:alert(1)',
      '/\u0000',
      '/\u007f',
      '',
      undefined,
      null,
    ]) {
      expect(safeReturnTo(value, ORIGIN), JSON.stringify(value)).toBe('/')
    }
  })

  it('gives the same answers without an origin (only paths are accepted)', () => {
    expect(safeReturnTo('/x?y=1')).toBe('/x?y=1')
    expect(safeReturnTo('/\t/evil.example')).toBe('/')
  })
})
