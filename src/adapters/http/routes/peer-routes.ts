/**
 * The user's own API: `GET /api/v1/me`, and leases under `/api/v1/peers`.
 */
import { Hono } from 'hono'
import { type IssuedLease, issueLease, subjectOf } from '../../../core/broker/issue-lease.ts'
import {
  listOwnLeases,
  ownLeaseConfig,
  renewOwnLease,
  revokeOwnLease,
  viewLease,
} from '../../../core/broker/manage-leases.ts'
import { endClientLease, renewClientLease } from '../../../core/device/client-lease.ts'
import { evaluatePolicy, isPolicyAdmin } from '../../../core/policy/index.ts'
import type { AppDeps, AppEnv } from '../app-env.ts'
import { clientCredential, deviceDeps } from '../client-auth.ts'
import { readJson, requireSession } from '../request.ts'

export function peerRoutes(deps: Pick<AppDeps, 'broker' | 'devices'>) {
  const { broker } = deps
  const routes = new Hono<AppEnv>()

  routes.get('/me', async (c) => {
    const session = requireSession(c.get('session'))
    const policy = broker.policy()
    const now = broker.clock.now()
    const decision = evaluatePolicy(policy, { subject: subjectOf(session) }, now)
    return c.json({
      identity: {
        idp: session.idpId,
        issuer: session.issuer,
        subject: session.subject,
        email: session.email,
        groups: session.groups,
      },
      auth: {
        ...session.auth,
        authTime:
          session.auth.authTime === null ? null : new Date(session.auth.authTime * 1000).toISOString(),
      },
      decision: decision.allow
        ? {
            allow: true,
            gateways: decision.grants,
            expiresAt: new Date(decision.expiresAt).toISOString(),
            reasons: decision.reasons,
          }
        : { allow: false, code: decision.code, stepUp: decision.stepUp, reasons: decision.reasons },
      admin: isPolicyAdmin(policy, subjectOf(session)),
      policyHash: policy.hash,
    })
  })

  routes.post('/peers', async (c) => {
    const session = requireSession(c.get('session'))
    const body = await readJson(c.req.raw)
    const issued = await issueLease(broker, session, {
      publicKey: body.publicKey,
      name: body.name,
      gateways: body.gateways,
      idempotencyKey: c.req.header('idempotency-key'),
    })
    return c.json(issuedBody(issued, broker.clock.now()), 201)
  })

  routes.get('/peers/:id/config', async (c) => {
    const session = requireSession(c.get('session'))
    const issued = await ownLeaseConfig(broker, session, c.req.param('id'))
    c.header('Cache-Control', 'no-store')
    return c.json(issuedBody(issued, broker.clock.now()))
  })

  routes.get('/peers', async (c) => {
    const session = requireSession(c.get('session'))
    const now = broker.clock.now()
    return c.json({ peers: (await listOwnLeases(broker, session)).map((lease) => viewLease(lease, now)) })
  })

  routes.delete('/peers/:id', async (c) => {
    // `keygate logout`: the client credential ends its own lease (and itself), nothing else.
    const credential = clientCredential(c)
    if (credential !== null) {
      await endClientLease(deviceDeps(deps), credential, c.req.param('id'))
      return c.body(null, 204)
    }
    const session = requireSession(c.get('session'))
    const { lease, alreadyEnded } = await revokeOwnLease(
      broker,
      session,
      c.req.param('id'),
      c.req.header('idempotency-key'),
    )
    return c.json({ ...viewLease(lease, broker.clock.now()), alreadyEnded })
  })

  routes.post('/peers/:id/renew', async (c) => {
    // The terminal client renews with its credential: same key and address, the lease's own sign-in.
    const credential = clientCredential(c)
    if (credential !== null) {
      const lease = await renewClientLease(
        deviceDeps(deps),
        credential,
        c.req.param('id'),
        c.req.header('idempotency-key'),
      )
      return c.json(viewLease(lease, broker.clock.now()))
    }
    const session = requireSession(c.get('session'))
    const lease = await renewOwnLease(broker, session, c.req.param('id'), c.req.header('idempotency-key'))
    return c.json(viewLease(lease, broker.clock.now()))
  })

  return routes
}

/** Issuance's answer, also given to a retry and to the owner fetching the config again. */
function issuedBody(issued: IssuedLease, now: number) {
  return {
    ...viewLease(issued.lease, now),
    address: issued.lease.addressV4,
    gateways: issued.gateways,
    // Granted but not enrolled yet: their [Peer] is missing from this config (fetch it again later).
    pendingGateways: issued.gateways.filter((g) => !g.enrolled).map((g) => g.name),
    config: issued.config,
  }
}
