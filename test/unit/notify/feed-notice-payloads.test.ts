// NOTIFY payloads for feed wake-ups stay under PostgreSQL's 8,000-byte limit whatever the change
// touches: names in chunks, or one "wake all" when there would be too many chunks or a name too long.
import { describe, expect, it } from 'vitest'
import {
  feedNoticePayloads,
  MAX_NOTIFY_CHUNKS,
  MAX_NOTIFY_PAYLOAD_BYTES,
} from '../../../src/adapters/notify/pg-change-notifier.ts'

const bytes = (text: string) => new TextEncoder().encode(text).length
const names = (n: number, length: number) =>
  Array.from({ length: n }, (_, i) => `${String(i).padStart(5, '0')}-${'g'.repeat(length - 6)}`)

describe('feedNoticePayloads', () => {
  it('splits 400 gateways with 24-character names into payloads under the limit, covering each once', () => {
    const gateways = names(400, 24)
    const payloads = feedNoticePayloads('me', gateways)
    expect(payloads.length).toBeGreaterThan(1)
    for (const payload of payloads) expect(bytes(payload)).toBeLessThanOrEqual(MAX_NOTIFY_PAYLOAD_BYTES)
    const covered = payloads.flatMap((p) => (JSON.parse(p) as { gateways: string[] }).gateways)
    expect(covered.sort()).toEqual([...gateways].sort())
  })

  it('sends one "wake all" when the names would take more than the chunk limit', () => {
    const gateways = names(MAX_NOTIFY_CHUNKS * 400, 40)
    expect(feedNoticePayloads('me', gateways).map((p) => JSON.parse(p))).toEqual([{ from: 'me', all: true }])
  })

  it('sends one "wake all" for a name that alone exceeds the limit, and counts bytes, not characters', () => {
    expect(feedNoticePayloads('me', ['x'.repeat(9_000)]).map((p) => JSON.parse(p))).toEqual([
      { from: 'me', all: true },
    ])
    const wide = names(300, 10).map((n) => `${n}-ünïcödé-ünïcödé`)
    for (const payload of feedNoticePayloads('me', wide))
      expect(bytes(payload)).toBeLessThanOrEqual(MAX_NOTIFY_PAYLOAD_BYTES)
  })

  it('names each gateway once, and sends nothing for nothing', () => {
    expect(feedNoticePayloads('me', ['a', 'b', 'a'])).toEqual([
      JSON.stringify({ from: 'me', gateways: ['a', 'b'] }),
    ])
    expect(feedNoticePayloads('me', [])).toEqual([])
  })
})
