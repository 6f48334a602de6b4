/**
 * Device names as people type them, and the file name a device's config is saved under.
 *
 * A name is free text: curly apostrophes, dashes, accents and emoji are all fine. Only characters that
 * are invisible or break a line are refused (Unicode Cc, Cf, Zl, Zp, and unpaired surrogates), each named
 * by its code point, because such a character makes two names look alike or hides text; where a name is
 * written into a config it is a sanitised comment anyway (wg-config.ts).
 */
import { KeygateError } from '../errors.ts'

/** In characters (code points), not UTF-16 units: an emoji counts once. */
export const MAX_DEVICE_NAME_LENGTH = 64

/** wg-quick takes the interface name from the file name: at most 15 of [a-zA-Z0-9_=+.-]. */
const MAX_INTERFACE_NAME = 15
const ID_SUFFIX_LENGTH = 4

const REFUSED = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u

/** The name to store, or null for none; a clear INVALID_REQUEST naming what is wrong otherwise. */
export function parseDeviceName(value: unknown): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string') throw new KeygateError('INVALID_REQUEST', '"name" must be a string')
  // NFC, so "é" typed as one character or as e + accent is the same name.
  const name = value.normalize('NFC').trim()
  if (name.length === 0) return null
  const refused = REFUSED.exec(name)
  if (refused !== null) {
    const point = codePoint(refused[0])
    throw new KeygateError(
      'INVALID_REQUEST',
      `"name" contains ${point}, an invisible or line-breaking character; remove it (letters, digits, punctuation, accents and emoji are fine)`,
      { details: { field: 'name', character: point } },
    )
  }
  const length = [...name].length
  if (length > MAX_DEVICE_NAME_LENGTH) {
    throw new KeygateError(
      'INVALID_REQUEST',
      `"name" must be at most ${MAX_DEVICE_NAME_LENGTH} characters; this one has ${length}`,
      { details: { field: 'name' } },
    )
  }
  return name
}

/**
 * The .conf file name for a device: readable (accents folded, other characters become "-"), never empty,
 * and distinct per lease (the end of the lease id), within wg-quick's 15-character interface name.
 */
export function deviceFileName(name: string | null | undefined, leaseId: string): string {
  const suffix = leaseId
    .replace(/[^a-zA-Z0-9]/g, '')
    .slice(-ID_SUFFIX_LENGTH)
    .toLowerCase()
  const room = MAX_INTERFACE_NAME - (suffix === '' ? 0 : suffix.length + 1)
  const readable = (name ?? '')
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^a-zA-Z0-9_=+.]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, room)
    .replace(/[-.]+$/, '')
  const base = readable === '' ? 'keygate'.slice(0, room) : readable
  return `${suffix === '' ? base : `${base}-${suffix}`}.conf`
}

function codePoint(character: string): string {
  return `U+${(character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`
}
