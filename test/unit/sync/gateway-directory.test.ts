// The gateway directory's credential memory (issue 11.8): a bad gateway credential repeated costs one
// store query per staleness window, not one per request; enrolment clears the memory at once.
import { describe, expect, it } from 'vitest'
import { createGatewayDirectory } from '../../../src/core/broker/gateway-directory.ts'
import type { Gateway } from '../../../src/core/model.ts'
import type { Store } from '../../../src/core/ports.ts'

function countingStore(known: Map<string, Gateway>) {
  const calls = { lookups: 0, statements: 0 }
  const store = {
    async findGatewaysByCredentials(hashes: readonly string[]) {
      calls.lookups += hashes.length
      calls.statements++
      return hashes.map((hash) => known.get(hash) ?? null)
    },
    async listGateways() {
      return [...known.values()]
    },
  } as unknown as Store
  return { store, calls }
}

describe('gateway directory credentials', () => {
  it('a bad credential repeated costs one lookup per window (misses are cached briefly)', async () => {
    let now = 0
    const known = new Map<string, Gateway>()
    const { store, calls } = countingStore(known)
    const directory = createGatewayDirectory(store, { now: () => now }, 2_000)
    for (let i = 0; i < 100; i++) expect(await directory.byCredential('bad-hash')).toBeNull()
    expect(calls.lookups).toBe(1)
    now += 2_000
    expect(await directory.byCredential('bad-hash')).toBeNull()
    expect(calls.lookups).toBe(2)
  })

  it('enrolment (invalidate) makes a newly known credential count at once', async () => {
    const known = new Map<string, Gateway>()
    const { store } = countingStore(known)
    const directory = createGatewayDirectory(store, { now: () => 0 }, 2_000)
    expect(await directory.byCredential('h')).toBeNull()
    known.set('h', { name: 'gw-a' } as Gateway)
    directory.invalidate()
    expect((await directory.byCredential('h'))?.name).toBe('gw-a')
  })

  it('a thousand agents reconnecting at once cost a few statements, each answered with its own gateway', async () => {
    const known = new Map<string, Gateway>()
    for (let i = 0; i < 1000; i++) known.set(`hash-${i}`, { name: `gw-${i}` } as Gateway)
    const { store, calls } = countingStore(known)
    const directory = createGatewayDirectory(store, { now: () => 0 }, 2_000)
    const found = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => directory.byCredential(i % 10 === 9 ? `bad-${i}` : `hash-${i}`)),
    )
    expect(found.map((gateway) => gateway?.name ?? null)).toEqual(
      Array.from({ length: 1000 }, (_, i) => (i % 10 === 9 ? null : `gw-${i}`)),
    )
    expect(calls.lookups).toBe(1000)
    expect(calls.statements).toBe(4)
  })
})

describe('gateway directory by name', () => {
  function listingStore(list: Gateway[]) {
    const calls = { lists: 0 }
    let fail: Error | null = null
    const store = {
      async listGateways() {
        calls.lists++
        if (fail !== null) throw fail
        return list
      },
    } as unknown as Store
    return {
      store,
      calls,
      failNext: (e: Error) => {
        fail = e
      },
      recover: () => {
        fail = null
      },
    }
  }

  it('reads the store once per window, however many lookups, and again at the window’s end', async () => {
    let now = 1_800_000_000_000
    const { store, calls } = listingStore([{ name: 'gw-a' } as Gateway])
    const directory = createGatewayDirectory(store, { now: () => now }, 2_000)
    expect((await directory.get('gw-a'))?.name).toBe('gw-a')
    now += 1_999
    expect(await directory.get('gw-b')).toBeNull()
    expect(calls.lists).toBe(1)
    now += 1
    await directory.get('gw-a')
    expect(calls.lists).toBe(2)
    directory.invalidate()
    await directory.get('gw-a')
    expect(calls.lists).toBe(3)
  })

  it('concurrent lookups share one read; a failed read is not remembered', async () => {
    const { store, calls, failNext, recover } = listingStore([{ name: 'gw-a' } as Gateway])
    const directory = createGatewayDirectory(store, { now: () => 0 }, 2_000)
    const both = await Promise.all([directory.get('gw-a'), directory.get('gw-a')])
    expect(both.map((g) => g?.name)).toEqual(['gw-a', 'gw-a'])
    expect(calls.lists).toBe(1)
    directory.invalidate()
    failNext(new Error('db down'))
    await expect(directory.get('gw-a')).rejects.toThrow('db down')
    recover()
    expect((await directory.get('gw-a'))?.name).toBe('gw-a')
    expect(calls.lists).toBe(3)
  })
})

describe('gateway directory credential memory bound', () => {
  it('keeps at most 10,000 credentials, forgetting the one looked up longest ago', async () => {
    let now = 0
    const known = new Map<string, Gateway>()
    const { store, calls } = countingStore(known)
    const directory = createGatewayDirectory(store, { now: () => now }, 2_000)
    await directory.byCredential('h0')
    await directory.byCredential('h1')
    now += 2_000
    for (let i = 2; i < 10_000; i++) await directory.byCredential(`h${i}`)
    await directory.byCredential('h1') // stale, looked up again: now the most recent
    await directory.byCredential('new-1') // one more: the one looked up longest ago (h0) goes
    await directory.byCredential('new-2') // and then h2, not h1
    const before = calls.lookups
    for (const kept of ['h1', 'h3', 'new-1', 'new-2']) await directory.byCredential(kept)
    expect(calls.lookups).toBe(before)
    await directory.byCredential('h0')
    await directory.byCredential('h2')
    expect(calls.lookups).toBe(before + 2)
  })
})
