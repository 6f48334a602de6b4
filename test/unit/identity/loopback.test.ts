import { describe, expect, it } from 'vitest'
import { isLoopbackHost, isLoopbackUrl } from '../../../src/core/identity/loopback.ts'

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

describe('isLoopbackHost', () => {
  it('takes every address of 127.0.0.0/8, written with one to three digits per octet', () => {
    for (const host of [
      '127.0.0.1',
      '127.255.255.255',
      '127.10.200.30',
      '127.1.22.255',
      'LOCALHOST',
      '[::1]',
    ]) {
      expect(isLoopbackHost(host), host).toBe(true)
    }
  })

  it('refuses octets past 255, extra text before the address, and other hosts', () => {
    for (const host of ['127.256.0.1', '127.0.256.1', '127.0.0.256', 'x127.0.0.1', '1127.0.0.1', '::2']) {
      expect(isLoopbackHost(host), host).toBe(false)
    }
  })
})
