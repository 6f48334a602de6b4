// The Node policy source on a real directory: start-up refuses a bad file; reloads swap or keep the last good.
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  openPolicyFileSource,
  type PolicyFileSource,
} from '../../../src/adapters/policy/policy-file-source.ts'
import { isKeygateError } from '../../../src/core/errors.ts'
import type * as policyModule from '../../../src/core/policy/index.ts'
import type { CompiledPolicy } from '../../../src/core/policy/index.ts'
import type { Logger } from '../../../src/core/ports.ts'

// Counts compilations, passing each through: a reload of an unchanged file must not compile it again.
const compiled = vi.hoisted(() => ({ count: 0 }))
vi.mock('../../../src/core/policy/index.ts', async (importOriginal) => {
  const original = await importOriginal<typeof policyModule>()
  return {
    ...original,
    loadPolicy: (...args: Parameters<typeof original.loadPolicy>) => {
      compiled.count++
      return original.loadPolicy(...args)
    },
  }
})

function recordingLogger() {
  const events: Array<{ level: string; event: string; fields?: Record<string, unknown> }> = []
  const log = (level: string) => (event: string, fields?: Record<string, unknown>) =>
    events.push({ level, event, fields })
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }
  return { logger, events }
}

const policyFor = (user: string) => `{
  "gateways": { "eu-1": { "endpoint": "127.0.0.1:51820", "routes": { "prod": ["10.10.0.0/16"] } } },
  "grants": [ { "src": ["user:${user}"], "dst": ["eu-1:*"] } ],
}`

describe('openPolicyFileSource', () => {
  let dir: string
  let path: string
  let source: PolicyFileSource | null = null

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keygate-policy-'))
    path = join(dir, 'policy.hujson')
  })
  afterEach(async () => {
    source?.close()
    source = null
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses to start with a bad policy, naming every error', async () => {
    await writeFile(path, '{ "grants": [ { "src": ["alice"] } ] }')
    const { logger } = recordingLogger()
    const error = await openPolicyFileSource({ path, logger, watch: false }).catch((e: unknown) => e)
    expect(isKeygateError(error, 'POLICY_INVALID')).toBe(true)
    const message = (error as Error).message
    expect(message).toContain(`${path}:1:25 grants[0].src[0]: "alice" is not a member`)
    expect(message).toContain(`${path}:1:15 grants[0]: grant needs "dst"`)
  })

  it('refuses to start without a file', async () => {
    const { logger } = recordingLogger()
    await expect(
      openPolicyFileSource({ path: join(dir, 'missing.hujson'), logger, watch: false }),
    ).rejects.toThrow(/cannot read the policy file/)
  })

  it('keeps the last good policy when a reload fails, and records why', async () => {
    await writeFile(path, policyFor('alice@example.com'))
    const { logger, events } = recordingLogger()
    let now = 1000
    source = await openPolicyFileSource({ path, logger, watch: false, clock: { now: () => now } })
    const good = source.current()

    now = 2000
    await writeFile(path, policyFor('alice@example.com').replace('eu-1:*', 'eu-2:*'))
    const outcome = await source.reload()
    expect(outcome).toMatchObject({ result: 'failed', errors: [{ code: 'UNKNOWN_GATEWAY', line: 3 }] })
    expect(source.current()).toBe(good)
    expect(source.status()).toMatchObject({
      hash: good.hash,
      lastLoadedAt: 1000,
      lastAttemptAt: 2000,
      reloadsFailed: 1,
      reloadsSucceeded: 0,
      lastError: [{ code: 'UNKNOWN_GATEWAY' }],
    })
    expect(events.find((e) => e.event === 'policy.reload_failed')?.fields).toMatchObject({
      keptHash: good.hash,
    })
  })

  it('swaps on reload and tells listeners the previous and next policy', async () => {
    await writeFile(path, policyFor('alice@example.com'))
    const { logger } = recordingLogger()
    source = await openPolicyFileSource({ path, logger, watch: false })
    const first = source.current()
    const swaps: Array<[CompiledPolicy, CompiledPolicy]> = []
    source.onSwap((previous, next) => {
      swaps.push([previous, next])
    })
    source.onSwap(() => {
      throw new Error('listener broke')
    })

    expect(await source.reload()).toEqual({ result: 'unchanged', hash: first.hash })
    expect(swaps).toEqual([])

    await writeFile(path, policyFor('bob@example.com'))
    const outcome = await source.reload()
    expect(outcome).toMatchObject({ result: 'swapped', previousHash: first.hash })
    expect(source.current().hash).not.toBe(first.hash)
    expect(swaps).toEqual([[first, source.current()]])
    expect(source.status()).toMatchObject({
      reloadsSucceeded: 2,
      lastError: null,
      hash: source.current().hash,
    })
  })

  it("does not compile the policy again when another file in its directory changes (the broker's admin token)", async () => {
    await writeFile(path, policyFor('alice@example.com'))
    const { logger } = recordingLogger()
    source = await openPolicyFileSource({ path, logger, debounceMs: 20 })
    const before = compiled.count
    const reloads = source.status().reloadsSucceeded
    await writeFile(join(dir, 'admin-token'), 'kga_x\n')
    while (source.status().reloadsSucceeded === reloads) await new Promise((r) => setTimeout(r, 10))
    expect(source.status().hash).toBe(source.current().hash)
    expect(compiled.count).toBe(before)
    // A changed policy is still compiled and swapped in.
    await writeFile(path, policyFor('bob@example.com'))
    expect(await source.reload()).toMatchObject({ result: 'swapped' })
    expect(compiled.count).toBe(before + 1)
  })

  it('a failing in-file test keeps the policy from going live', async () => {
    await writeFile(path, policyFor('alice@example.com'))
    const { logger } = recordingLogger()
    source = await openPolicyFileSource({ path, logger, watch: false })
    const before = source.current()
    const withTest = policyFor('alice@example.com').replace(
      '],\n}',
      '],\n  "tests": [ { "user": "alice@example.com", "expect": { "deny": "NO_MATCHING_GRANT" } } ],\n}',
    )
    await writeFile(path, withTest)
    expect(await source.reload()).toMatchObject({
      result: 'failed',
      errors: [{ code: 'POLICY_TEST_FAILED' }],
    })
    expect(source.current()).toBe(before)
  })

  it('reloads by itself when an editor saves by renaming over the file', async () => {
    await writeFile(path, policyFor('alice@example.com'))
    const { logger } = recordingLogger()
    source = await openPolicyFileSource({ path, logger, debounceMs: 20 })
    const swapped = new Promise<string>((resolve) => source!.onSwap((_, next) => resolve(next.hash)))
    const tmp = join(dir, '.policy.hujson.swp')
    await writeFile(tmp, policyFor('carol@example.com'))
    await rename(tmp, path)
    const hash = await Promise.race([
      swapped,
      new Promise<string>((_, reject) => setTimeout(() => reject(new Error('no reload within 3s')), 3000)),
    ])
    expect(hash).toBe(source.current().hash)
    expect(await readFile(path, 'utf8')).toContain('carol@example.com')
    expect(source.current().grants[0]!.src).toEqual(['user:carol@example.com'])
  })

  it('serialises overlapping reloads: a swap and its listeners finish before the next reload reads the file', async () => {
    await writeFile(path, policyFor('alice@example.com'))
    const { logger } = recordingLogger()
    source = await openPolicyFileSource({ path, logger, watch: false })
    // The first swap's listener is held open until the second reload has been asked for, so overlapping
    // reloads would run two listeners at once and could swap out of order.
    let inFlight = 0
    let maxInFlight = 0
    const swaps: Array<[string, string]> = []
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let entered!: () => void
    const firstListenerRunning = new Promise<void>((resolve) => {
      entered = resolve
    })
    source.onSwap(async (previous, next) => {
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      if (swaps.length === 0) {
        swaps.push([previous.hash, next.hash])
        entered()
        await held
      } else {
        swaps.push([previous.hash, next.hash])
      }
      inFlight--
    })
    await writeFile(path, policyFor('bob@example.com'))
    const a = source.reload()
    // The next write waits until the first reload has read its file and is held in its listener (a
    // write racing that read could be seen half-done, and an empty file never goes live).
    await firstListenerRunning
    await writeFile(path, policyFor('dave@example.com'))
    const b = source.reload()
    // Give an unserialised second reload every chance to read, compile and swap while the first is held.
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setTimeout(resolve, 50))
    release()
    await Promise.all([a, b])
    expect(maxInFlight).toBe(1)
    expect(swaps).toHaveLength(2)
    // Each swap starts from what the one before it made live.
    expect(swaps[1]![0]).toBe(swaps[0]![1])
    expect(source.current().hash).toBe(swaps[1]![1])
    expect(source.current().grants[0]!.src).toEqual(['user:dave@example.com'])
  })
})
