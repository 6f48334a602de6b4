/**
 * The agent's HTTP client for the broker's gateway endpoints (protocol in core/sync/protocol.ts).
 *
 * Answers are validated before the agent sees them. Failures say whether retrying can help: network
 * errors, timeouts, 408, 429 and 5xx are retryable (the broker is restarting or overloaded); other 4xx,
 * such as a revoked credential, are not and are reported with the broker's error code.
 */
import type { ErrorCode } from '../../core/errors.ts'
import { ERROR_CODES, isKeygateError, KeygateError } from '../../core/errors.ts'
import { isLoopbackUrl } from '../../core/identity/loopback.ts'
import type { FailureKind } from '../../core/sync/backoff.ts'
import {
  ENROLL_PATH,
  type EnrollRequest,
  type EnrollResponse,
  PROTOCOL_VERSION,
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
  /** How to retry (core/sync/backoff.ts): nobody listening, overloaded, another failure, or refused. */
  readonly kind: FailureKind
  /** The broker's Retry-After, in ms, when it sent one. */
  readonly retryAfterMs: number | null

  constructor(
    message: string,
    options: {
      retryable: boolean
      status?: number | null
      code?: ErrorCode | null
      cause?: unknown
      kind?: FailureKind
      retryAfterMs?: number | null
    },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'BrokerError'
    this.retryable = options.retryable
    this.status = options.status ?? null
    this.code = options.code ?? null
    this.kind = options.kind ?? (options.retryable ? 'failed' : 'refused')
    this.retryAfterMs = options.retryAfterMs ?? null
  }
}

/** Retry-After as delta-seconds or an HTTP date, in ms from `now`; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null || value.trim() === '') return null
  if (/^\d{1,9}$/.test(value.trim())) return Number(value.trim()) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? null : Math.max(0, at - now)
}

export interface BrokerClientOptions {
  fetch?: typeof fetch
  /** Timeout for enroll and status; sync adds its wait to this. */
  timeoutMs?: number
  /**
   * Allow plain http to a broker that is not on loopback (the credential and every preshared key would
   * cross the network in clear). Off by default; `--allow-plain-http` on the command line.
   */
  allowPlainHttp?: boolean
}

/** Refuses a broker URL that is not http(s), or plain http off loopback without the explicit allowance. */
export function checkBrokerUrl(brokerUrl: string, allowPlainHttp = false): URL {
  let base: URL
  try {
    base = new URL(brokerUrl)
  } catch {
    throw new KeygateError('BROKER_URL_INSECURE', `not a URL: ${JSON.stringify(brokerUrl)}`)
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new KeygateError('BROKER_URL_INSECURE', 'the broker URL must be http(s)')
  if (base.protocol === 'http:' && !allowPlainHttp && !isLoopbackUrl(base))
    throw new KeygateError(
      'BROKER_URL_INSECURE',
      `refusing plain http to ${base.host}: the credential and preshared keys would cross the network in clear; use https, or pass --allow-plain-http`,
    )
  return base
}

export function createBrokerClient(brokerUrl: string, options: BrokerClientOptions = {}): BrokerClient {
  const base = checkBrokerUrl(brokerUrl, options.allowPlainHttp)
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
      // A caller's abort (the agent stopping) is not a broker failure; anything else here means nobody
      // answered: refused, reset, unreachable, or no answer within the timeout.
      throw new BrokerError(`${method} ${path}: ${describeFetchError(error)} (${root})`, {
        retryable: true,
        kind: 'unreachable',
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
      const overloaded = response.status === 503 || response.status === 429
      throw new BrokerError(`${method} ${path}: ${response.status} ${code ?? ''} ${message}`.trim(), {
        retryable,
        status: response.status,
        code,
        kind: overloaded ? 'overloaded' : retryable ? 'failed' : 'refused',
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), Date.now()),
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

  /**
   * A malformed answer is treated as retryable: a broker being upgraded may answer oddly for a moment. An
   * answer in another protocol version is not: the agent backs off at its longest delay and says so.
   */
  function validated<T>(parse: (json: unknown) => T, json: unknown, what: string): T {
    try {
      return parse(json)
    } catch (error) {
      const mismatch = isKeygateError(error) && error.code === 'GATEWAY_PROTOCOL_UNSUPPORTED'
      throw new BrokerError(`${what}: ${error instanceof Error ? error.message : String(error)}`, {
        retryable: !mismatch,
        code: mismatch ? 'GATEWAY_PROTOCOL_UNSUPPORTED' : null,
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
      const path = `${SYNC_PATH}?since=${since}&wait=${waitSeconds}&protocol=${PROTOCOL_VERSION}`
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

function describeFetchError(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined
  const code = typeof cause?.code === 'string' ? ` ${cause.code}` : ''
  return `${error instanceof Error ? error.message : String(error)}${code}`
}

/**
 * `--broker URL[,URL…]`: one checked client per URL, in the operator's order. Which one is asked, and when
 * the agent moves on to the next, is core/sync/broker-rotation.ts's rule.
 */
export function createBrokerClients(urls: string, options: BrokerClientOptions = {}): BrokerClient[] {
  return urls
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '')
    .map((url) => createBrokerClient(url, options))
}
