/**
 * The user's own API: `GET /api/v1/me`, and leases under `/api/v1/peers`.
 */
import { Hono } from 'hono'
import { issueLease, subjectOf } from '../../../core/broker/issue-lease.ts'
import {
  listOwnLeases,
  renewOwnLease,
  revokeOwnLease,
  viewLease,
} from '../../../core/broker/manage-leases.ts'
import { KeygateError } from '../../../core/errors.ts'
import { evaluatePolicy, isPolicyAdmin } from '../../../core/policy/index.ts'
import { type AppEnv, requireSession } from '../app.ts'

export function peerRoutes() {
  const routes = new Hono<AppEnv>()

  routes.get('/me', async (c) => {
    const { broker } = c.get('deps')
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
    const { broker } = c.get('deps')
    const session = requireSession(c.get('session'))
    const body = await readJson(c.req.raw)
    const issued = await issueLease(broker, session, {
      publicKey: body.publicKey,
      name: body.name,
      gateways: body.gateways,
    })
    const now = broker.clock.now()
    return c.json(
      {
        ...viewLease(issued.lease, now),
        address: issued.lease.addressV4,
        gateways: issued.gateways,
        config: issued.config,
      },
      201,
    )
  })

  routes.get('/peers', async (c) => {
    const { broker } = c.get('deps')
    const session = requireSession(c.get('session'))
    const now = broker.clock.now()
    return c.json({ peers: (await listOwnLeases(broker, session)).map((lease) => viewLease(lease, now)) })
  })

  routes.delete('/peers/:id', async (c) => {
    const { broker } = c.get('deps')
    const session = requireSession(c.get('session'))
    const lease = await revokeOwnLease(broker, session, c.req.param('id'))
    return c.json(viewLease(lease, broker.clock.now()))
  })

  routes.post('/peers/:id/renew', async (c) => {
    const { broker } = c.get('deps')
    const session = requireSession(c.get('session'))
    const lease = await renewOwnLease(broker, session, c.req.param('id'))
    return c.json(viewLease(lease, broker.clock.now()))
  })

  return routes
}

/** JSON object bodies only; a wrong type or broken JSON is a clear 400, never a 500. */
export async function readJson(request: Request): Promise<Record<string, unknown>> {
  const type = request.headers.get('content-type') ?? ''
  if (!type.toLowerCase().startsWith('application/json')) {
    throw new KeygateError('INVALID_REQUEST', 'Send a JSON body with Content-Type: application/json')
  }
  let value: unknown
  try {
    value = await request.json()
  } catch (error) {
    if (error instanceof KeygateError) throw error
    throw new KeygateError('INVALID_REQUEST', 'The body is not valid JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new KeygateError('INVALID_REQUEST', 'The body must be a JSON object')
  }
  return value as Record<string, unknown>
}
