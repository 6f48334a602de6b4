/**
 * Per-request state on Workers. An isolate serves many requests and keeps the composed app between
 * them, but I/O objects (a database socket) belong to the request that opened them: workerd refuses to
 * use them from another request. So the app is built once per isolate against a Store that looks up
 * the current request's store here, through AsyncLocalStorage (available with nodejs_compat).
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { KeygateError } from '../../core/errors.ts'
import type { Store } from '../../core/ports.ts'

export interface RequestScope {
  store: Store
  /** The incoming request, when there is one (a cron run has none). */
  request: Request | null
}

const storage = new AsyncLocalStorage<RequestScope>()

export function runInRequestScope<T>(scope: RequestScope, work: () => Promise<T>): Promise<T> {
  return storage.run(scope, work)
}

export function currentRequestScope(): RequestScope {
  const scope = storage.getStore()
  if (scope === undefined) {
    throw new KeygateError('INTERNAL', 'No request scope: the Worker touched the database outside a request')
  }
  return scope
}

/**
 * A Store that forwards every call to the current request's store. Closing it does nothing: each
 * request's store is closed by the entrypoint once the response is out.
 */
export function requestScopedStore(): Store {
  return new Proxy({} as Store, {
    get(_target, name) {
      if (name === 'close') return () => Promise.resolve()
      return (...args: unknown[]) => {
        const store = currentRequestScope().store as unknown as Record<
          PropertyKey,
          (...a: unknown[]) => unknown
        >
        const method = store[name]
        if (typeof method !== 'function') throw new TypeError(`Store has no method ${String(name)}`)
        return method.apply(store, args)
      }
    },
  })
}
