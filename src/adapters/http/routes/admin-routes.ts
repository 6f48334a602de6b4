/**
 * The administrators' API under `/api/v1/admin`: all leases, gateways, the audit log, the live policy.
 * Admins are whoever the live policy's `admins` names; that check runs on every request, so a policy
 * reload that removes an admin takes effect at once.
 */
import { Hono } from 'hono'
import { checkAdminAccess } from '../../../core/broker/admin-access.ts'
import { createEnrollmentToken, hashSecret, removeGateway } from '../../../core/broker/gateway-feed.ts'
import { describeGateways } from '../../../core/broker/gateway-health.ts'
import {
  signOutEverywhere,
  suspendIdentity,
  unsuspendIdentity,
} from '../../../core/broker/identity-lifecycle.ts'
import { revokeLeaseAsAdmin, viewLease } from '../../../core/broker/manage-leases.ts'
import { createScimToken } from '../../../core/broker/scim-provisioning.ts'
import { KeygateError } from '../../../core/errors.ts'
import type { AppDeps, AppEnv } from '../app-env.ts'
import { NOT_READY_STATUS } from '../errors.ts'
import { policyStatusJson } from '../readiness.ts'
import { bearerToken, requireSession } from '../request.ts'

/** How long an export's hold on the audit prune lasts after its latest page. */
export const AUDIT_EXPORT_HOLD_MS = 10 * 60_000

export type AdminRouteDeps = Pick<
  AppDeps,
  'broker' | 'config' | 'readiness' | 'policyStatus' | 'localAdminTokenHash'
>

export function adminRoutes(deps: AdminRouteDeps) {
  const { broker } = deps
  const routes = new Hono<AppEnv>()

  routes.use(async (c, next) => {
    const token = bearerToken(c.req.header('authorization'))
    // The local CLI (same host, data dir readable) acts as an admin through the token file the server wrote.
    if (
      token !== null &&
      deps.localAdminTokenHash !== undefined &&
      hashSecret(token) === deps.localAdminTokenHash
    ) {
      c.set('adminActor', 'local-cli')
      c.set('adminKeyOwner', 'local-cli')
      return next()
    }
    const session = requireSession(c.get('session'))
    const refusal = checkAdminAccess(broker.policy(), session)
    if (refusal !== null) throw refusal
    c.set('adminActor', session.email ?? session.subject)
    c.set('adminKeyOwner', session.identityId)
    await next()
  })

  routes.post('/gateways/:name/enrollment-token', async (c) => {
    const name = c.req.param('name')
    const { token, expiresAt } = await createEnrollmentToken(broker, name, c.get('adminActor') ?? 'admin')
    return c.json({ gateway: name, token, expiresAt: new Date(expiresAt).toISOString() }, 201)
  })

  routes.delete('/gateways/:name', async (c) => {
    const removed = await removeGateway(broker, c.req.param('name'), c.get('adminActor') ?? 'admin')
    return c.json({ gateway: removed.name, removed: true })
  })

  routes.post('/identities/:id/suspend', async (c) => {
    const done = await suspendIdentity(broker, c.req.param('id'), c.get('adminActor') ?? 'admin')
    return c.json({
      identity: done.identity.id,
      suspended: true,
      sessionsEnded: done.sessionsEnded,
      leasesRevoked: done.leasesRevoked,
    })
  })

  routes.delete('/identities/:id/suspend', async (c) => {
    const identity = await unsuspendIdentity(broker, c.req.param('id'), c.get('adminActor') ?? 'admin')
    return c.json({ identity: identity.id, suspended: false })
  })

  routes.post('/identities/:id/sign-out', async (c) => {
    const done = await signOutEverywhere(broker, c.req.param('id'), c.get('adminActor') ?? 'admin', 'admin')
    return c.json({ identity: c.req.param('id'), sessionsEnded: done.sessionsEnded })
  })

  routes.post('/scim/:idp/token', async (c) => {
    const token = await createScimToken(broker, c.req.param('idp'), c.get('adminActor') ?? 'admin')
    return c.json({ idp: c.req.param('idp'), token, baseUrl: `${deps.config.url}/scim/v2` }, 201)
  })

  routes.get('/leases', async (c) => {
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
    const { lease, alreadyEnded } = await revokeLeaseAsAdmin(
      broker,
      c.get('adminActor') ?? 'admin',
      c.req.param('id'),
      {
        owner: c.get('adminKeyOwner') ?? c.get('adminActor') ?? 'admin',
        key: c.req.header('idempotency-key'),
      },
    )
    return c.json({ ...viewLease(lease, broker.clock.now()), alreadyEnded })
  })

  // `/readyz` with its details (policy path and reload errors, database errors), for admins only.
  routes.get('/readiness', async (c) => {
    const readiness = await deps.readiness()
    return c.json(readiness, readiness.ready ? 200 : NOT_READY_STATUS)
  })

  routes.get('/gateways', async (c) => {
    const gateways = await describeGateways(broker)
    return c.json({
      gateways: gateways.map((g) => ({
        ...g,
        lastSeenAt: g.lastSeenAt === null ? null : new Date(g.lastSeenAt).toISOString(),
      })),
    })
  })

  routes.get('/audit', async (c) => {
    const limit = Math.min(Math.max(Number(c.req.query('limit') ?? 100) || 100, 1), 1000)
    // An export (JSON lines, or a later page of a paged read) holds the retention prune while it runs, so
    // a prune never deletes the older events it is about to read.
    if (c.req.query('format') === 'jsonl' || c.req.query('before') !== undefined) {
      await broker.store.holdAudit(
        `export:${c.get('adminActor') ?? 'admin'}`,
        broker.clock.now() + AUDIT_EXPORT_HOLD_MS,
      )
    }
    const events = await broker.store.listAudit({
      identityId: c.req.query('identity'),
      type: c.req.query('type'),
      typePrefix: c.req.query('typePrefix'),
      email: c.req.query('email'),
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

  // The live policy with its status (load time, tests, last reload errors), as readiness shows it.
  routes.get('/policy', (c) => {
    const policy = broker.policy()
    return c.json({
      ...policyStatusJson(deps.policyStatus()),
      gateways: [...policy.gateways.keys()],
      network: policy.network,
    })
  })

  return routes
}
