import { describe, expect, it } from 'vitest'
import { isKeygateError } from '../../../src/core/errors.ts'
import { deviceFileName, parseDeviceName } from '../../../src/core/peers/device-name.ts'

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
