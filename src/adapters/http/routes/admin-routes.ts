/**
 * The administrators' API under `/api/v1/admin`: all leases, gateways, the audit log, the live policy.
 * Admins are whoever the live policy's `admins` names; that check runs on every request, so a policy
 * reload that removes an admin takes effect at once.
 */
import { Hono } from 'hono'
import { checkAdminAccess } from '../../../core/broker/admin-access.ts'
import { createEnrollmentToken, hashSecret } from '../../../core/broker/gateway-feed.ts'
import { describeGateways } from '../../../core/broker/gateway-health.ts'
import { revokeLeaseAsAdmin, viewLease } from '../../../core/broker/manage-leases.ts'
import { KeygateError } from '../../../core/errors.ts'
import { type AppEnv, requireSession } from '../app.ts'
import { bearerToken } from './gateway-routes.ts'

export function adminRoutes() {
  const routes = new Hono<AppEnv>()

  routes.use(async (c, next) => {
    const deps = c.get('deps')
    const token = bearerToken(c.req.header('authorization'))
    // The local CLI (same host, data dir readable) acts as an admin through the token file the server wrote.
    if (
      token !== null &&
      deps.localAdminTokenHash !== undefined &&
      hashSecret(token) === deps.localAdminTokenHash
    ) {
      c.set('adminActor', 'local-cli')
      return next()
    }
    const session = requireSession(c.get('session'))
    const refusal = checkAdminAccess(deps.broker.policy(), session)
    if (refusal !== null) throw refusal
    c.set('adminActor', session.email ?? session.subject)
    await next()
  })

  routes.post('/gateways/:name/enrollment-token', async (c) => {
    const name = c.req.param('name')
    const { token, expiresAt } = await createEnrollmentToken(
      c.get('deps').broker,
      name,
      c.get('adminActor') ?? 'admin',
    )
    return c.json({ gateway: name, token, expiresAt: new Date(expiresAt).toISOString() }, 201)
  })

  routes.get('/leases', async (c) => {
    const { broker } = c.get('deps')
    const state = c.req.query('state')
    if (state !== undefined && state !== 'active' && state !== 'ended') {
      throw new KeygateError('INVALID_REQUEST', '"state" must be active or ended')
    }
    const now = broker.clock.now()
    const leases = await broker.store.listLeases(
      { identityId: c.req.query('identity'), gateway: c.req.query('gateway'), state },
      now,
    )
    return c.json({
      leases: leases.map((lease) => ({ ...viewLease(lease, now), identityId: lease.identityId })),
    })
  })

  routes.delete('/leases/:id', async (c) => {
    const { broker } = c.get('deps')
    const lease = await revokeLeaseAsAdmin(broker, c.get('adminActor') ?? 'admin', c.req.param('id'))
    return c.json(viewLease(lease, broker.clock.now()))
  })

  routes.get('/gateways', async (c) => {
    const gateways = await describeGateways(c.get('deps').broker)
    return c.json({
      gateways: gateways.map((g) => ({
        ...g,
        lastSeenAt: g.lastSeenAt === null ? null : new Date(g.lastSeenAt).toISOString(),
      })),
    })
  })

  routes.get('/audit', async (c) => {
    const { broker } = c.get('deps')
    const limit = Math.min(Math.max(Number(c.req.query('limit') ?? 100) || 100, 1), 1000)
    const events = await broker.store.listAudit({
      identityId: c.req.query('identity'),
      type: c.req.query('type'),
      before: c.req.query('before'),
      limit,
    })
    const view = events.map((e) => ({ ...e, at: new Date(e.at).toISOString() }))
    if (c.req.query('format') === 'jsonl') {
      c.header('Content-Type', 'application/x-ndjson')
      return c.body(view.map((e) => JSON.stringify(e)).join('\n') + (view.length > 0 ? '\n' : ''))
    }
    return c.json({ events: view, next: events.length === limit ? (events.at(-1)?.id ?? null) : null })
  })

  routes.get('/policy', (c) => {
    const policy = c.get('deps').broker.policy()
    return c.json({ hash: policy.hash, gateways: [...policy.gateways.keys()], network: policy.network })
  })

  return routes
}
