/**
 * The agent's HTTP client for the broker's gateway endpoints (protocol in core/sync/protocol.ts).
 *
 * Answers are validated before the agent sees them. Failures say whether retrying can help: network
 * errors, timeouts, 408, 429 and 5xx are retryable (the broker is restarting or overloaded); other 4xx,
 * such as a revoked credential, are not and are reported with the broker's error code.
 */
import type { ErrorCode } from '../../core/errors.ts'
import { ERROR_CODES } from '../../core/errors.ts'
import {
  ENROLL_PATH,
  type EnrollRequest,
  type EnrollResponse,
  parseEnrollResponse,
  parseSyncResponse,
  STATUS_PATH,
  type StatusRequest,
  SYNC_PATH,
  type SyncResponse,
} from '../../core/sync/protocol.ts'

export interface BrokerClient {
  enroll(token: string, request: EnrollRequest): Promise<EnrollResponse>
  /** Long-polls for changes after `since`; resolves with an empty delta when nothing changed within `waitSeconds`. */
  sync(credential: string, since: number, waitSeconds: number, signal?: AbortSignal): Promise<SyncResponse>
  status(credential: string, request: StatusRequest): Promise<void>
}

export class BrokerError extends Error {
  readonly retryable: boolean
  readonly status: number | null
  readonly code: ErrorCode | null

  constructor(
    message: string,
    options: { retryable: boolean; status?: number | null; code?: ErrorCode | null; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'BrokerError'
    this.retryable = options.retryable
    this.status = options.status ?? null
    this.code = options.code ?? null
  }
}

export interface BrokerClientOptions {
  fetch?: typeof fetch
  /** Timeout for enroll and status; sync adds its wait to this. */
  timeoutMs?: number
}

export function createBrokerClient(brokerUrl: string, options: BrokerClientOptions = {}): BrokerClient {
  const base = new URL(brokerUrl)
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new Error('the broker URL must be http(s)')
  const root = base.href.replace(/\/+$/, '')
  const doFetch = options.fetch ?? fetch
  const timeoutMs = options.timeoutMs ?? 15_000

  async function call(
    method: 'GET' | 'POST',
    path: string,
    bearer: string,
    body: unknown,
    timeout: number,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const signals = [AbortSignal.timeout(timeout), ...(signal ? [signal] : [])]
    let response: Response
    try {
      response = await doFetch(`${root}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${bearer}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.any(signals),
      })
    } catch (error) {
      throw new BrokerError(`${method} ${path}: ${error instanceof Error ? error.message : String(error)}`, {
        retryable: true,
        cause: error,
      })
    }
    const text = await response.text().catch(() => '')
    if (!response.ok) {
      let code: ErrorCode | null = null
      let message = text.slice(0, 200)
      try {
        const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }
        if (
          typeof parsed.error?.code === 'string' &&
          (ERROR_CODES as readonly string[]).includes(parsed.error.code)
        ) {
          code = parsed.error.code as ErrorCode
        }
        if (typeof parsed.error?.message === 'string') message = parsed.error.message
      } catch {}
      const retryable = response.status >= 500 || response.status === 408 || response.status === 429
      throw new BrokerError(`${method} ${path}: ${response.status} ${code ?? ''} ${message}`.trim(), {
        retryable,
        status: response.status,
        code,
      })
    }
    if (response.status === 204 || text === '') return null
    try {
      return JSON.parse(text)
    } catch (error) {
      throw new BrokerError(`${method} ${path}: the answer is not JSON`, {
        retryable: true,
        status: response.status,
        cause: error,
      })
    }
  }

  /** A malformed answer is treated as retryable: a broker being upgraded may answer oddly for a moment. */
  function validated<T>(parse: (json: unknown) => T, json: unknown, what: string): T {
    try {
      return parse(json)
    } catch (error) {
      throw new BrokerError(`${what}: ${error instanceof Error ? error.message : String(error)}`, {
        retryable: true,
        cause: error,
      })
    }
  }

  return {
    async enroll(token, request) {
      return validated(
        parseEnrollResponse,
        await call('POST', ENROLL_PATH, token, request, timeoutMs),
        'enroll',
      )
    },
    async sync(credential, since, waitSeconds, signal) {
      const path = `${SYNC_PATH}?since=${since}&wait=${waitSeconds}`
      return validated(
        parseSyncResponse,
        await call('GET', path, credential, undefined, timeoutMs + waitSeconds * 1000, signal),
        'sync',
      )
    },
    async status(credential, request) {
      await call('POST', STATUS_PATH, credential, request, timeoutMs)
    },
  }
}
