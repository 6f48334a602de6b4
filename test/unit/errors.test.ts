// KeygateError, the one error type: what it carries, and how callers recognise it.
import { describe, expect, it } from 'vitest'
import { isKeygateError, KeygateError } from '../../src/core/errors.ts'

describe('KeygateError', () => {
  it('carries its code, message, reasons and details, and is an Error named for itself', () => {
    const reasons = [{ code: 'NO_MATCHING_GRANT' as const, message: 'no grant' }]
    const error = new KeygateError('POLICY_DENIED', 'denied', {
      reasons,
      details: { decision: 'NO_MATCHING_GRANT' },
    })
    expect(error).toBeInstanceOf(Error)
    expect(error.name).toBe('KeygateError')
    expect(error.code).toBe('POLICY_DENIED')
    expect(error.message).toBe('denied')
    expect(error.reasons).toBe(reasons)
    expect(error.details).toEqual({ decision: 'NO_MATCHING_GRANT' })
    expect(String(error)).toBe('KeygateError: denied')
  })

  it('keeps a cause when given one, and has none otherwise', () => {
    const cause = new Error('socket closed')
    expect(new KeygateError('IDP_UNAVAILABLE', 'down', { cause }).cause).toBe(cause)
    const plain = new KeygateError('INTERNAL', 'x')
    expect('cause' in plain).toBe(false)
    expect(plain.reasons).toBeUndefined()
    expect(plain.details).toBeUndefined()
  })

  it('is recognised by code, and nothing else passes for it', () => {
    const error = new KeygateError('NOT_FOUND', 'gone')
    expect(isKeygateError(error)).toBe(true)
    expect(isKeygateError(error, 'NOT_FOUND')).toBe(true)
    expect(isKeygateError(error, 'INTERNAL')).toBe(false)
    expect(isKeygateError(Object.assign(new Error('gone'), { code: 'NOT_FOUND' }), 'NOT_FOUND')).toBe(false)
    expect(isKeygateError({ name: 'KeygateError', code: 'NOT_FOUND' })).toBe(false)
    expect(isKeygateError(null)).toBe(false)
  })
})
