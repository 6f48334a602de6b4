/**
 * The Worker's bindings (wrangler.toml) as Keygate sees them, and their translation into the same
 * `Environment` the Node server reads from `process.env`, so one parser (core/config.ts,
 * core/identity) serves both runtimes.
 *
 * The binding shapes are declared here, structurally, instead of pulling in @cloudflare/workers-types
 * for three small interfaces.
 */
import type { Environment } from '../../core/config.ts'

/** Hyperdrive hands the Worker a connection string to its pooled endpoint (locally: the real server). */
export interface HyperdriveBinding {
  readonly connectionString: string
}

/** The part of Workers KV the caches use. */
export interface KvBinding {
  get(key: string, type: 'json'): Promise<unknown>
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>
}

export interface WorkerExecutionContext {
  waitUntil(promise: Promise<unknown>): void
}

export interface WorkerScheduledController {
  readonly scheduledTime: number
  readonly cron: string
}

export interface WorkerBindings {
  HYPERDRIVE: HyperdriveBinding
  KEYGATE_CACHE?: KvBinding
  [name: string]: unknown
}

/** Only string bindings are configuration; objects (Hyperdrive, KV) are wired separately. */
export function environmentFromBindings(bindings: WorkerBindings): Environment {
  const env: Environment = {}
  for (const [name, value] of Object.entries(bindings)) {
    if (typeof value === 'string') env[name] = value
  }
  return env
}
