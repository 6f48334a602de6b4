/**
 * The terminal client's HTTP calls to the broker: the RFC 8628 device sign-in (authorize, then poll the
 * token endpoint honouring `interval` and `slow_down`), and what its credential may do with its lease
 * (read, watch, renew, end). Errors come back as KeygateError with the broker's code.
 */
import type { ClientLeaseView } from '../../core/device/client-lease.ts'
import type { DeviceAuthorizationResponse, DeviceTokenBody } from '../../core/device/device-sign-in.ts'
import { DEVICE_CODE_GRANT_TYPE } from '../../core/device/device-sign-in.ts'
import { type ErrorCode, KeygateError } from '../../core/errors.ts'

export class DeviceSignInRefused extends Error {
  readonly error: string
  constructor(error: string, message: string) {
    super(message)
    this.error = error
  }
}

export function createBrokerClient(broker: string) {
  const base = broker.replace(/\/+$/, '')

  async function call<T>(path: string, init: RequestInit & { credential?: string } = {}): Promise<T> {
    const headers = new Headers(init.headers)
    if (init.credential !== undefined) headers.set('authorization', `Bearer ${init.credential}`)
    headers.set('accept', 'application/json')
    let response: Response
    try {
      response = await fetch(`${base}${path}`, { ...init, headers })
    } catch (error) {
      throw new KeygateError('BROKER_UNAVAILABLE', `Cannot reach the broker at ${base}: ${describe(error)}`)
    }
    if (response.status === 204) return undefined as T
    const body = (await response.json().catch(() => null)) as
      | (T & { error?: { code?: string; message?: string } })
      | null
    if (!response.ok) {
      const code = (body?.error?.code ?? 'INTERNAL') as ErrorCode
      throw new KeygateError(code, body?.error?.message ?? `The broker answered ${response.status}`, {
        details: { status: response.status },
      })
    }
    return body as T
  }

  return {
    base,
    authorize(input: { publicKey: string; name: string | null; leaseId?: string; credential?: string }) {
      const form = new URLSearchParams({ client_id: 'keygate', public_key: input.publicKey })
      if (input.name !== null) form.set('name', input.name)
      if (input.leaseId !== undefined) form.set('lease_id', input.leaseId)
      return call<DeviceAuthorizationResponse>('/api/v1/device/authorize', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
        ...(input.credential === undefined ? {} : { credential: input.credential }),
      })
    },

    /** Polls until approved (the lease), refused or expired (DeviceSignInRefused), or `signal` aborts. */
    async waitForToken(started: DeviceAuthorizationResponse, signal?: AbortSignal): Promise<DeviceTokenBody> {
      let interval = started.interval
      const deadline = Date.now() + started.expires_in * 1000
      while (Date.now() < deadline) {
        await sleep(interval * 1000, signal)
        const response = await fetch(`${base}/api/v1/device/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams({
            grant_type: DEVICE_CODE_GRANT_TYPE,
            device_code: started.device_code,
            client_id: 'keygate',
          }),
          ...(signal === undefined ? {} : { signal }),
        }).catch(() => null)
        if (response === null) continue // the broker is briefly away: keep polling until the code expires
        const body = (await response.json().catch(() => ({}))) as Record<string, unknown>
        if (response.ok) return body as unknown as DeviceTokenBody
        const error = String(body.error ?? '')
        if (error === 'authorization_pending') continue
        if (error === 'slow_down') {
          interval = typeof body.interval === 'number' ? body.interval : interval + 5
          continue
        }
        if (response.status >= 500) continue
        const message =
          typeof body.error_description === 'string'
            ? body.error_description
            : typeof (body.error as { message?: unknown })?.message === 'string'
              ? String((body.error as { message: string }).message)
              : `the broker answered ${response.status}`
        throw new DeviceSignInRefused(typeof body.error === 'string' ? body.error : 'error', message)
      }
      throw new DeviceSignInRefused('expired_token', 'The code expired before it was approved')
    },

    lease: (leaseId: string, credential: string) =>
      call<ClientLeaseView>(`/api/v1/peers/${encodeURIComponent(leaseId)}`, { credential }),

    watch: (leaseId: string, credential: string, since: string, waitSeconds: number, signal?: AbortSignal) =>
      call<ClientLeaseView>(
        `/api/v1/peers/${encodeURIComponent(leaseId)}/watch?since=${encodeURIComponent(since)}&wait=${waitSeconds}`,
        { credential, ...(signal === undefined ? {} : { signal }) },
      ),

    renew: (leaseId: string, credential: string) =>
      call<{ expiresAt: string }>(`/api/v1/peers/${encodeURIComponent(leaseId)}/renew`, {
        method: 'POST',
        credential,
      }),

    end: (leaseId: string, credential: string) =>
      call<void>(`/api/v1/peers/${encodeURIComponent(leaseId)}`, { method: 'DELETE', credential }),
  }
}

export type BrokerClient = ReturnType<typeof createBrokerClient>

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(signal.reason)
      },
      { once: true },
    )
  })
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error))
}
