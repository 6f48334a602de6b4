/**
 * Per-request state on Workers. An isolate serves many requests and keeps the composed app between
 * them, but I/O objects (a database socket) belong to the request that opened them: workerd refuses to
 * use them from another request. So the app is built once per isolate against a Store that looks up
 * the current request's store here, through AsyncLocalStorage (available with nodejs_compat).
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { DeviceStore } from '../../core/device/device-store.ts'
import { KeygateError } from '../../core/errors.ts'
import type { Store } from '../../core/ports.ts'
import type { FactorStore } from '../../core/step-up/index.ts'

export interface RequestScope {
  store: Store
  factors: FactorStore
  devices: DeviceStore
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
 * An object that forwards every method call to the current request's instance (its Store, its
 * FactorStore). `close` does nothing: each request's store is closed by the entrypoint once the
 * response is out.
 */
export function requestScoped<T extends object>(pick: (scope: RequestScope) => T): T {
  return new Proxy({} as T, {
    get(_target, name) {
      if (name === 'close') return () => Promise.resolve()
      return (...args: unknown[]) => {
        const target = pick(currentRequestScope()) as Record<PropertyKey, unknown>
        const method = target[name]
        if (typeof method !== 'function')
          throw new TypeError(`No method ${String(name)} in the request scope`)
        return (method as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
}
