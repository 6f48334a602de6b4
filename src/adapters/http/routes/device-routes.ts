/**
 * The terminal client's API: the RFC 8628 endpoints (`/device/authorize`, `/device/token`) and what a
 * client credential may do with its one lease (read it, watch it). Renewing and ending a lease with a
 * credential share the peers' routes (peer-routes.ts).
 *
 * The token endpoint answers errors in OAuth's shape (RFC 6749 section 5.2, RFC 8628 section 3.5:
 * `{ "error": "authorization_pending" }`, status 400), since that is what device-flow clients parse;
 * everything else uses Keygate's error body.
 */
import { Hono } from 'hono'
import { authenticateClient, viewClientLease, watchClientLease } from '../../../core/device/client-lease.ts'
import { pollDeviceToken, startDeviceAuthorization } from '../../../core/device/device-sign-in.ts'
import { KeygateError } from '../../../core/errors.ts'
import type { AppDeps, AppEnv } from '../app-env.ts'
import { clientCredential, deviceDeps, requestAddress } from '../client-auth.ts'
import { STATUS_OF } from '../errors.ts'
import { readJson } from '../request.ts'

export function deviceRoutes(app: Pick<AppDeps, 'broker' | 'devices' | 'config'>) {
  const routes = new Hono<AppEnv>()

  routes.post('/device/authorize', async (c) => {
    const deps = deviceDeps(app)
    const body = await readBody(c.req.raw)
    const credential = clientCredential(c)
    // A fresh sign-in for a lease the client holds: the credential proves which lease (it may be past its
    // renewable age, never past its end).
    const renewal =
      credential === null
        ? undefined
        : (await authenticateClient(deps, credential, String(body.lease_id ?? body.leaseId ?? ''))).lease
    const response = await startDeviceAuthorization(deps, {
      publicKey: body.public_key ?? body.publicKey,
      name: body.name,
      clientAddress: requestAddress(c),
      baseUrl: app.config.url,
      ...(renewal === undefined ? {} : { renewal }),
    })
    c.header('Cache-Control', 'no-store')
    return c.json(response)
  })

  routes.post('/device/token', async (c) => {
    const result = await pollDeviceToken(deviceDeps(app), await readBody(c.req.raw))
    c.header('Cache-Control', 'no-store')
    if (!result.ok) {
      return c.json(
        {
          error: result.error,
          error_description: result.description,
          ...(result.interval === undefined ? {} : { interval: result.interval }),
        },
        // RFC 6749 section 5.2: every token-endpoint error is a 400, INVALID_REQUEST's status.
        STATUS_OF.INVALID_REQUEST,
      )
    }
    return c.json(result.body)
  })

  routes.get('/peers/:id', async (c) => {
    const credential = requireCredential(c.req.header('authorization'), clientCredential(c))
    const deps = deviceDeps(app)
    c.header('Cache-Control', 'no-store')
    return c.json(
      await viewClientLease(
        deps,
        await authenticateClient(deps, credential, c.req.param('id'), { allowEnded: true }),
      ),
    )
  })

  // The client feed: a long poll on the client's own lease (`since` = the last state it saw).
  routes.get('/peers/:id/watch', async (c) => {
    const credential = requireCredential(c.req.header('authorization'), clientCredential(c))
    c.header('Cache-Control', 'no-store')
    return c.json(
      await watchClientLease(deviceDeps(app), credential, c.req.param('id'), {
        since: c.req.query('since'),
        wait: c.req.query('wait'),
      }),
    )
  })

  return routes
}

function requireCredential(header: string | undefined, credential: string | null): string {
  if (credential !== null) return credential
  throw new KeygateError(
    header === undefined ? 'UNAUTHENTICATED' : 'CLIENT_CREDENTIAL_INVALID',
    'Send the client credential as a Bearer token',
  )
}

/** RFC 8628 clients send forms; Keygate's own client may send JSON. Either becomes a flat object. */
async function readBody(request: Request): Promise<Record<string, unknown>> {
  const type = (request.headers.get('content-type') ?? '').toLowerCase()
  if (type.startsWith('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(await request.text()))
  }
  if (type.startsWith('application/json')) return readJson(request)
  throw new KeygateError(
    'INVALID_REQUEST',
    'Send application/x-www-form-urlencoded (RFC 8628) or application/json',
  )
}
