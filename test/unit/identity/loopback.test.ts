import { describe, expect, it } from 'vitest'
import { isLoopbackUrl } from '../../../src/core/identity/loopback.ts'

describe('isLoopbackUrl', () => {
  it.each([
    'http://localhost:8080',
    'http://127.0.0.1',
    'http://127.4.5.6:1/x',
    'http://[::1]:8080',
    'http://app.localhost',
  ])('%s is loopback', (url) => {
    expect(isLoopbackUrl(url)).toBe(true)
  })

  it.each([
    'http://example.com',
    'http://10.0.0.1',
    'http://127.0.0.1.evil.com',
    'http://0.0.0.0',
    'http://[::2]',
    'nope',
  ])('%s is not', (url) => {
    expect(isLoopbackUrl(url)).toBe(false)
  })
})
