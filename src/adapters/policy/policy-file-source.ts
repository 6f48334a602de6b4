/**
 * The live policy on Node: read from KEYGATE_POLICY, swapped atomically when the file changes or on
 * demand (SIGHUP). A reload that fails to parse, validate or pass its tests keeps the last good policy
 * and records why; start-up with a bad policy fails, so Keygate never runs with no policy or allow-all.
 *
 * The directory is watched rather than the file: editors save by writing a new file and renaming it over
 * the old one (and Kubernetes swaps a symlink), which ends a watch on the file itself. Events are
 * debounced, and a reload whose content hash has not changed does nothing (it is not even compiled again).
 */
import { type FSWatcher, watch } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { KeygateError } from '../../core/errors.ts'
import {
  type CompiledPolicy,
  formatDiagnostic,
  hashPolicySource,
  loadPolicy,
  type PolicyDiagnostic,
  type PolicyStatus,
  type PolicyTestResult,
} from '../../core/policy/index.ts'
import type { Clock, Logger } from '../../core/ports.ts'

export type PolicySwapListener = (previous: CompiledPolicy, next: CompiledPolicy) => void | Promise<void>

export interface PolicyFileSourceOptions {
  path: string
  logger: Logger
  clock?: Clock
  /** Watch the file's directory and reload on change (default true). */
  watch?: boolean
  debounceMs?: number
}

export type PolicyReloadOutcome =
  | { result: 'swapped'; previousHash: string; hash: string }
  | { result: 'unchanged'; hash: string }
  | { result: 'failed'; errors: PolicyDiagnostic[] }

export interface PolicySourceStatus {
  path: string
  hash: string
  /** When the live policy was loaded (ms since epoch). */
  lastLoadedAt: number
  lastAttemptAt: number
  /** Why the latest reload failed; null after a success. */
  lastError: PolicyDiagnostic[] | null
  reloadsSucceeded: number
  reloadsFailed: number
  /** The in-file tests of the live policy, as they ran when it was loaded (all passed, or it would not be live). */
  testResults: Array<{ id: string; user: string; passed: boolean; diff: string[] }>
}

export interface PolicyFileSource {
  /** The live policy. Cheap; call it per request so a swap applies to the next request. */
  current(): CompiledPolicy
  reload(): Promise<PolicyReloadOutcome>
  /** Listeners run after each swap, one after another; their failures are logged, never undo the swap. */
  onSwap(listener: PolicySwapListener): () => void
  status(): PolicySourceStatus
  /** The same state as the policy-status port reads it (readiness, the admin API and console). */
  policyStatus(): PolicyStatus
  close(): void
}

function fileError(path: string, error: unknown): PolicyDiagnostic {
  return {
    file: path,
    line: 1,
    col: 1,
    path: '',
    code: 'POLICY_UNREADABLE',
    message: `cannot read the policy file: ${error instanceof Error ? error.message : String(error)}`,
    hint: 'check KEYGATE_POLICY and the file permissions',
    severity: 'error',
  }
}

function emptyOnReload(path: string): PolicyDiagnostic {
  return {
    file: path,
    line: 1,
    col: 1,
    path: '',
    code: 'POLICY_EMPTY',
    message: 'the policy file is empty; kept the live policy',
    hint: 'an editor or a copy may be mid-write (the next change reloads again); to grant nothing on purpose, write {}',
    severity: 'error',
  }
}

/** `live` on a reload: its text unchanged answers "unchanged" without compiling it again. */
async function readAndLoad(path: string, live: CompiledPolicy | null) {
  let source: string
  try {
    source = await readFile(path, 'utf8')
  } catch (error) {
    return { ok: false as const, errors: [fileError(path, error)], warnings: [] }
  }
  // Writers truncate before they write: a reload that catches the file in between would read an empty
  // policy (which grants nothing) and revoke every live lease. Going to "nothing" takes an explicit {}.
  if (live !== null && source.trim() === '') {
    return { ok: false as const, errors: [emptyOnReload(path)], warnings: [] }
  }
  // The directory's other files wake the watch too (the broker writes its admin token next to a policy
  // kept in the data directory): compiling 1,000 gateways' policy again for nothing cost half a second
  // of the event loop right as the broker came up (docs/benchmarks.md, "Broker restart").
  if (live !== null && hashPolicySource(source) === live.hash)
    return { ok: true as const, policy: live, warnings: [], testResults: [] }
  return loadPolicy(source, path)
}

/** Loads the policy once (throwing POLICY_INVALID with every error when it is bad), then keeps it live. */
export async function openPolicyFileSource(options: PolicyFileSourceOptions): Promise<PolicyFileSource> {
  const { path, logger } = options
  const clock = options.clock ?? { now: () => Date.now() }
  const debounceMs = options.debounceMs ?? 100

  const first = await readAndLoad(path, null)
  for (const w of first.warnings) logger.warn('policy.warning', { message: formatDiagnostic(w) })
  if (!first.ok) {
    const text = first.errors.map(formatDiagnostic).join('\n')
    throw new KeygateError('POLICY_INVALID', `The policy ${path} cannot be loaded:\n${text}`, {
      reasons: first.errors.map((e) => ({
        code: e.code,
        message: e.message,
        source: `${e.file}:${e.line}:${e.col} ${e.path}`,
      })),
    })
  }
  let live = first.policy
  const startedAt = clock.now()
  const state: PolicySourceStatus = {
    path,
    hash: live.hash,
    lastLoadedAt: startedAt,
    lastAttemptAt: startedAt,
    lastError: null,
    testResults: summariseTests(first.testResults),
    reloadsSucceeded: 0,
    reloadsFailed: 0,
  }
  logger.info('policy.loaded', {
    path,
    hash: live.hash,
    grants: live.grants.length,
    tests: first.testResults.length,
  })
  const listeners = new Set<PolicySwapListener>()

  async function reloadOnce(): Promise<PolicyReloadOutcome> {
    state.lastAttemptAt = clock.now()
    const result = await readAndLoad(path, live)
    if (!result.ok) {
      state.reloadsFailed++
      state.lastError = result.errors
      logger.error('policy.reload_failed', {
        path,
        keptHash: live.hash,
        errors: result.errors.map(formatDiagnostic),
      })
      return { result: 'failed', errors: result.errors }
    }
    state.reloadsSucceeded++
    state.lastError = null
    if (result.policy.hash === live.hash) return { result: 'unchanged', hash: live.hash }
    for (const w of result.warnings) logger.warn('policy.warning', { message: formatDiagnostic(w) })
    const previous = live
    live = result.policy
    state.testResults = summariseTests(result.testResults)
    state.hash = live.hash
    state.lastLoadedAt = clock.now()
    logger.info('policy.swapped', { path, previousHash: previous.hash, hash: live.hash })
    for (const listener of listeners) {
      try {
        await listener(previous, live)
      } catch (error) {
        logger.error('policy.swap_listener_failed', {
          error: error instanceof Error ? error.message : String(error),
        })
      }
    }
    return { result: 'swapped', previousHash: previous.hash, hash: live.hash }
  }

  // Reloads never overlap: a request during one runs once more after it, so the last write always wins.
  let running: Promise<PolicyReloadOutcome> | null = null
  let again: Promise<PolicyReloadOutcome> | null = null
  function reload(): Promise<PolicyReloadOutcome> {
    if (running === null) {
      running = reloadOnce().finally(() => {
        running = null
      })
      return running
    }
    again ??= running.then(
      () => {
        again = null
        return reload()
      },
      () => {
        again = null
        return reload()
      },
    )
    return again
  }

  let watcher: FSWatcher | null = null
  let timer: ReturnType<typeof setTimeout> | null = null
  if (options.watch ?? true) {
    try {
      watcher = watch(dirname(path), { persistent: false }, () => {
        if (timer !== null) clearTimeout(timer)
        timer = setTimeout(() => {
          timer = null
          void reload()
        }, debounceMs)
      })
      watcher.on('error', (error) => logger.error('policy.watch_failed', { path, error: error.message }))
    } catch (error) {
      logger.warn('policy.watch_unavailable', {
        path,
        error: error instanceof Error ? error.message : String(error),
      })
    }
  }

  return {
    current: () => live,
    reload,
    onSwap(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    status: () => ({ ...state, lastError: state.lastError === null ? null : [...state.lastError] }),
    policyStatus: () => ({
      hash: live.hash,
      fileName: live.fileName,
      loadedAt: state.lastLoadedAt,
      lastAttemptAt: state.lastAttemptAt,
      lastReloadErrors: state.lastError === null ? null : [...state.lastError],
      tests: state.testResults.map((t) => ({ ...t, diff: [...t.diff] })),
    }),
    close() {
      if (timer !== null) clearTimeout(timer)
      watcher?.close()
      watcher = null
    },
  }
}

function summariseTests(results: readonly PolicyTestResult[]): PolicySourceStatus['testResults'] {
  return results.map(({ id, user, passed, diff }) => ({ id, user, passed, diff }))
}
