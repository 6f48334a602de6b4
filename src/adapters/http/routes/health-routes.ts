/**
 * Liveness, readiness, Prometheus metrics and the OpenAPI document.
 * `/healthz` says the process answers; `/readyz` says it can serve (database reachable, a policy live)
 * with a boolean per check and nothing else: anyone can ask it, so the details (policy path, reload
 * errors, test users, database errors) are served to admins only, at `/api/v1/admin/readiness`.
 */
import { Hono } from 'hono'
import type { AppDeps, AppEnv, Readiness } from '../app-env.ts'
import { NOT_READY_STATUS } from '../errors.ts'
import { openApiDocument } from '../openapi.ts'

export type HealthRouteDeps = Pick<AppDeps, 'readiness' | 'metrics' | 'config'>

export function healthRoutes(deps: HealthRouteDeps) {
  const routes = new Hono<AppEnv>()
  routes.get('/healthz', (c) => c.json({ ok: true }))
  routes.get('/readyz', async (c) => {
    const readiness = await deps.readiness()
    return c.json(publicReadiness(readiness), readiness.ready ? 200 : NOT_READY_STATUS)
  })
  routes.get('/metrics', (c) => {
    c.header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
    return c.body(deps.metrics.render())
  })
  routes.get('/openapi.json', (c) => c.json(openApiDocument(deps.config.url)))
  return routes
}

/** What an anonymous caller may learn: ready or not, and which check failed. */
export function publicReadiness(readiness: Readiness): Readiness {
  return {
    ready: readiness.ready,
    checks: Object.fromEntries(
      Object.entries(readiness.checks).map(([name, check]) => [name, { ok: check.ok }]),
    ),
  }
}
