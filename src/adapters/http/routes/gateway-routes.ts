/**
 * The gateway agent's protocol over HTTP: enroll, long-poll sync, status (src/core/sync/protocol.ts).
 */
import { Hono } from 'hono'
import {
  authenticateGateway,
  enrollGateway,
  recordGatewayStatus,
  syncGateway,
} from '../../../core/broker/gateway-feed.ts'
import type { AppEnv } from '../app.ts'
import { readJson } from './peer-routes.ts'

export function gatewayRoutes() {
  const routes = new Hono<AppEnv>()

  routes.post('/gateways/enroll', async (c) => {
    const response = await enrollGateway(
      c.get('deps').broker,
      bearerToken(c.req.header('authorization')),
      await readJson(c.req.raw),
    )
    return c.json(response)
  })

  routes.get('/gateways/sync', async (c) => {
    const { broker } = c.get('deps')
    const gateway = await authenticateGateway(broker, bearerToken(c.req.header('authorization')))
    c.header('Cache-Control', 'no-store')
    return c.json(
      await syncGateway(broker, gateway, { since: c.req.query('since'), wait: c.req.query('wait') }),
    )
  })

  routes.post('/gateways/status', async (c) => {
    const { broker } = c.get('deps')
    const gateway = await authenticateGateway(broker, bearerToken(c.req.header('authorization')))
    await recordGatewayStatus(broker, gateway, await readJson(c.req.raw))
    return c.body(null, 204)
  })

  return routes
}

export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '')
  return match?.[1] ?? null
}
