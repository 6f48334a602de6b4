// The OpenAPI document is the contract clients read: every route the shipped app registers must be in it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { corePolicy } from '../../fixtures/policies.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'

let broker: TestBroker
beforeAll(async () => {
  broker = await startTestBroker({ policy: corePolicy() })
})
afterAll(async () => {
  await broker?.close()
})

/** Hono's `:name` and `:name{regex}` path parameters in OpenAPI's `{name}` form. */
function toOpenApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}')
}

describe('/openapi.json', () => {
  it('documents every route the app registers, with its method', async () => {
    const doc = (await (await broker.api(null, '/openapi.json')).json()) as {
      paths: Record<string, Record<string, unknown>>
    }
    const registered = broker.server.app.routes
      // Middleware registers ALL handlers on patterns; only concrete method routes are endpoints.
      .filter((route) => route.method !== 'ALL' && !route.path.includes('*'))
      .map((route) => `${route.method} ${toOpenApiPath(route.path)}`)
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
      ),
    )
    const missing = [...new Set(registered)].filter((route) => !documented.has(route)).sort()
    expect(missing).toEqual([])
  })
})
