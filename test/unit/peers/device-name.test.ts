import { describe, expect, it } from 'vitest'
import { isKeygateError } from '../../../src/core/errors.ts'
import {
  deviceFileName,
  MAX_DEVICE_NAME_LENGTH,
  parseDeviceName,
} from '../../../src/core/peers/device-name.ts'

function refusal(value: unknown): string | null {
  try {
    parseDeviceName(value)
    return null
  } catch (error) {
    if (!isKeygateError(error, 'INVALID_REQUEST')) throw error
    return error.message
  }
}

describe('device names', () => {
  it.each([
    ['a curly apostrophe', 'Zoë’s laptop'],
    ['dashes', 'work – laptop — 2'],
    ['accents', 'Ordinateur de Hélène'],
    ['emoji', 'phone 📱 🇫🇷'],
    ['CJK', '工作电脑'],
    ['ASCII punctuation', 'laptop #2 (home) & "office"'],
  ])('accepts %s', (_label, name) => {
    expect(parseDeviceName(name)).toBe(name)
  })

  it('stores the NFC form and trims; an empty name is no name', () => {
    expect(parseDeviceName('  He\u0301le\u0300ne  ')).toBe('H\u00e9l\u00e8ne')
    expect(parseDeviceName('   ')).toBeNull()
    expect(parseDeviceName(undefined)).toBeNull()
  })

  it.each([
    ['a zero-width space', 'lap\u200btop', 'U+200B'],
    ['a newline', 'laptop\nPostUp = rm -rf /', 'U+000A'],
    ['a right-to-left override', 'pot\u202Epal', 'U+202E'],
    ['a line separator', 'a\u2028b', 'U+2028'],
    ['a NUL', 'a\u0000b', 'U+0000'],
    ['an unpaired surrogate', 'a\ud800b', 'U+D800'],
  ])('refuses %s and names it', (_label, name, point) => {
    expect(refusal(name)).toContain(point)
  })

  it('counts characters, not UTF-16 units', () => {
    expect(parseDeviceName('📱'.repeat(64))).toBe('📱'.repeat(64))
    expect(refusal('📱'.repeat(65))).toContain('at most 64')
    expect(refusal(42)).toContain('must be a string')
  })
})

describe('config file names', () => {
  const ID = 'lse_7Hq2ZpX9'

  it('stays readable: accents folded, other characters become dashes, within 15 characters', () => {
    expect(deviceFileName('Zoë’s laptop', ID)).toBe('Zoe-s-lapt-zpx9.conf')
    expect(deviceFileName('work', ID)).toBe('work-zpx9.conf')
    for (const name of ['Zoë’s laptop', 'a'.repeat(40), 'x y z', '....', '-a-']) {
      const file = deviceFileName(name, ID)
      expect(file).toMatch(/^[a-zA-Z0-9_=+.-]{1,15}\.conf$/)
    }
  })

  it('is never emptied: an emoji-only or missing name still gets a name', () => {
    expect(deviceFileName('📱📱', ID)).toBe('keygate-zpx9.conf')
    expect(deviceFileName(null, ID)).toBe('keygate-zpx9.conf')
  })

  it('keeps two devices with the same name apart', () => {
    expect(deviceFileName('laptop', 'lse_aaaa1111')).not.toBe(deviceFileName('laptop', 'lse_bbbb2222'))
  })
})

describe('device names, exactly', () => {
  function errorOf(value: unknown): { message: string; details: unknown } | null {
    try {
      parseDeviceName(value)
      return null
    } catch (error) {
      if (!isKeygateError(error, 'INVALID_REQUEST')) throw error
      return { message: error.message, details: error.details }
    }
  }

  it('names the refused character and says what is fine', () => {
    expect(errorOf('a\u0007b')).toEqual({
      message:
        '"name" contains U+0007, an invisible or line-breaking character; remove it (letters, digits, punctuation, accents and emoji are fine)',
      details: { field: 'name', character: 'U+0007' },
    })
    // A format character outside the BMP, named by its whole code point.
    expect(errorOf('tag\u{E0001}')?.details).toEqual({ field: 'name', character: 'U+E0001' })
    expect(errorOf('a\u2029b')?.details).toEqual({ field: 'name', character: 'U+2029' })
    expect(errorOf('a\udc00')?.details).toEqual({ field: 'name', character: 'U+DC00' })
    expect(errorOf('\u00adsoft')?.details).toEqual({ field: 'name', character: 'U+00AD' })
  })

  it('refuses a 65-character name saying how long it is, and takes 64', () => {
    expect(MAX_DEVICE_NAME_LENGTH).toBe(64)
    expect(parseDeviceName('x'.repeat(64))).toBe('x'.repeat(64))
    expect(errorOf('x'.repeat(65))).toEqual({
      message: '"name" must be at most 64 characters; this one has 65',
      details: { field: 'name' },
    })
    expect(errorOf(['laptop'])?.message).toBe('"name" must be a string')
    expect(parseDeviceName(null)).toBeNull()
    expect(parseDeviceName('\u00a0 laptop \u3000')).toBe('laptop')
  })
})

describe('config file names, exactly', () => {
  it.each([
    [
      'a lease id of four characters or more: its last four, lower case',
      'laptop',
      'lse_7Hq2ZpX9',
      'laptop-zpx9.conf',
    ],
    ['a short lease id: all of it', 'laptop', 'a-B', 'laptop-ab.conf'],
    [
      'a lease id with no letter or digit: no suffix, 15 characters',
      'a'.repeat(40),
      '_-_',
      `${'a'.repeat(15)}.conf`,
    ],
    ['no suffix and no name', null, '', 'keygate.conf'],
    ['the cut falls on a dash, which goes', 'abcdefghi jklm', 'lse_1234', 'abcdefghi-1234.conf'],
    ['the cut falls on dots and dashes, which go', 'abcdefgh.-.jk', 'lse_1234', 'abcdefgh-1234.conf'],
    ['leading and trailing dots and dashes go', '..-a b-..', 'lse_1234', 'a-b-1234.conf'],
    ['a run of other characters is one dash', 'a!!!?b', 'lse_1234', 'a-b-1234.conf'],
    ["wg-quick's own punctuation stays", 'a_b=c+d.e', 'lse_1234', 'a_b=c+d.e-1234.conf'],
    ['compatibility forms and marks are folded', 'ﬁle e\u0301\u0301', 'lse_1234', 'file-e-1234.conf'],
    ['an undefined name', undefined, 'lse_1234', 'keygate-1234.conf'],
  ])('%s', (_name, name, leaseId, expected) => {
    expect(deviceFileName(name, leaseId)).toBe(expected)
  })
})
