// Secrets at rest: sealed with one KEYGATE_SECRET, opened only with the same one.
import { describe, expect, it } from 'vitest'
import { createSecretBox } from '../../../src/adapters/crypto/secret-box.ts'
import { isKeygateError } from '../../../src/core/errors.ts'

describe('secret box', () => {
  it('round-trips bytes and text, with a fresh nonce each time', async () => {
    const box = createSecretBox('correct horse battery staple')
    const psk = crypto.getRandomValues(new Uint8Array(32))
    const sealed = await box.seal(psk)
    expect(sealed.split('.')).toHaveLength(5)
    expect(sealed).not.toContain(Buffer.from(psk).toString('base64url'))
    expect(await box.open(sealed)).toEqual(psk)
    expect(new TextDecoder().decode(await box.open(await box.seal('JBSWY3DPEHPK3PXP')))).toBe(
      'JBSWY3DPEHPK3PXP',
    )
    expect(await box.seal(psk)).not.toBe(sealed)
    // Another box over the same secret (a restarted broker) opens it too.
    expect(await createSecretBox('correct horse battery staple').open(sealed)).toEqual(psk)
  })

  it('refuses a value sealed under another secret, and an altered value', async () => {
    const sealed = await createSecretBox('secret one').seal('psk')
    const wrong = await createSecretBox('secret two')
      .open(sealed)
      .catch((e: unknown) => e)
    expect(isKeygateError(wrong)).toBe(true)
    expect((wrong as Error).message).toMatch(/neither the current one nor in KEYGATE_SECRET_PREVIOUS/)

    const parts = sealed.split('.')
    const tag = parts[4]!
    parts[4] = `${tag[0] === 'A' ? 'B' : 'A'}${tag.slice(1)}`
    const altered = await createSecretBox('secret one')
      .open(parts.join('.'))
      .catch((e: unknown) => e)
    expect(isKeygateError(altered)).toBe(true)
    const garbage = await createSecretBox('secret one')
      .open('not a jwe')
      .catch((e: unknown) => e)
    expect(isKeygateError(garbage)).toBe(true)
  })
})
