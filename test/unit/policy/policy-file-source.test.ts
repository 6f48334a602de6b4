// The Node policy source on a real directory: start-up refuses a bad file; reloads swap or keep the last good.
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  openPolicyFileSource,
  type PolicyFileSource,
} from '../../../src/adapters/policy/policy-file-source.ts'
import { isKeygateError } from '../../../src/core/errors.ts'
import type { CompiledPolicy } from '../../../src/core/policy/index.ts'
import type { Logger } from '../../../src/core/ports.ts'

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

  it('serialises overlapping reloads so the last write wins', async () => {
    await writeFile(path, policyFor('alice@example.com'))
    const { logger } = recordingLogger()
    source = await openPolicyFileSource({ path, logger, watch: false })
    await writeFile(path, policyFor('bob@example.com'))
    const a = source.reload()
    await writeFile(path, policyFor('dave@example.com'))
    const b = source.reload()
    await Promise.all([a, b])
    expect(source.current().grants[0]!.src).toEqual(['user:dave@example.com'])
  })
})
