/**
 * Liveness, readiness, Prometheus metrics and the OpenAPI document.
 * `/healthz` says the process answers; `/readyz` says it can serve (database reachable, a policy live)
 * and carries the policy's reload state in its detail.
 */
import { Hono } from 'hono'
import type { AppEnv } from '../app.ts'
import { openApiDocument } from '../openapi.ts'

export interface Readiness {
  ready: boolean
  checks: Record<string, { ok: boolean; detail?: unknown }>
}

export function healthRoutes() {
  const routes = new Hono<AppEnv>()
  routes.get('/healthz', (c) => c.json({ ok: true }))
  routes.get('/readyz', async (c) => {
    const readiness = await c.get('deps').readiness()
    return c.json(readiness, readiness.ready ? 200 : 503)
  })
  routes.get('/metrics', (c) => {
    c.header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
    return c.body(c.get('deps').metrics.render())
  })
  routes.get('/openapi.json', (c) => c.json(openApiDocument(c.get('deps').config.url)))
  return routes
}
