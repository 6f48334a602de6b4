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
import type { AppDeps, AppEnv } from '../app-env.ts'
import { bearerToken, readJson } from '../request.ts'

export function gatewayRoutes({ broker }: Pick<AppDeps, 'broker'>) {
  const routes = new Hono<AppEnv>()

  routes.post('/gateways/enroll', async (c) => {
    const response = await enrollGateway(
      broker,
      bearerToken(c.req.header('authorization')),
      await readJson(c.req.raw),
    )
    return c.json(response)
  })

  routes.get('/gateways/sync', async (c) => {
    const gateway = await authenticateGateway(broker, bearerToken(c.req.header('authorization')))
    c.header('Cache-Control', 'no-store')
    return c.json(
      await syncGateway(broker, gateway, {
        since: c.req.query('since'),
        wait: c.req.query('wait'),
        protocol: c.req.query('protocol'),
      }),
    )
  })

  routes.post('/gateways/status', async (c) => {
    const gateway = await authenticateGateway(broker, bearerToken(c.req.header('authorization')))
    await recordGatewayStatus(broker, gateway, await readJson(c.req.raw))
    return c.body(null, 204)
  })

  return routes
}
