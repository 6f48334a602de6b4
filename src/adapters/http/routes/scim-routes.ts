/**
 * `/scim/v2/*`: the SCIM 2.0 endpoint for an IdP's provisioning (Okta, Entra ID). The bearer token names
 * the IdP; the protocol itself is the SCIM service's (adapters/scim). Every answer, errors included, is a
 * SCIM message with `application/scim+json`, as RFC 7644 §3.1 and §3.12 say; nothing is cached.
 */

import type { Context } from 'hono'
import { Hono } from 'hono'
import { authenticateScim } from '../../../core/broker/scim-provisioning.ts'
import { isKeygateError } from '../../../core/errors.ts'
import { type RateDecision, rateLimitedError } from '../../../core/limits/rate-limit.ts'
import { handleScim, type ScimReply, scimError } from '../../scim/scim-service.ts'
import type { AppDeps, AppEnv } from '../app-env.ts'
import { STATUS_OF } from '../errors.ts'
import { bearerToken } from '../request.ts'

type Resource = Parameters<typeof handleScim>[1]['resource']
const RESOURCES: readonly Resource[] = [
  'Users',
  'Groups',
  'ServiceProviderConfig',
  'Schemas',
  'ResourceTypes',
]

function reply(c: Context, answer: ScimReply): Response {
  c.header('Cache-Control', 'no-store')
  if (answer.body === null) return c.body(null, answer.status as 204)
  return c.body(JSON.stringify(answer.body), answer.status as 200, {
    'Content-Type': 'application/scim+json; charset=utf-8',
  })
}

export interface ScimRouteDeps extends Pick<AppDeps, 'broker' | 'metrics'> {
  /**
   * Counts the request in the `scim` rate-limit bucket; over the limit the answer is a SCIM error with
   * status 429 and Retry-After (RFC 7644 §3.12 puts every error in SCIM's format; Okta and Entra ID
   * back off on 429 and honour Retry-After), before the token costs a lookup.
   */
  limit: (c: Context<AppEnv>) => Promise<RateDecision>
}

export function scimRoutes({ broker, metrics, limit }: ScimRouteDeps) {
  const routes = new Hono<AppEnv>()

  routes.use('*', async (c, next) => {
    const decision = await limit(c)
    if (decision.allowed) return next()
    const refusal = rateLimitedError('scim', decision)
    metrics.countError(refusal.code)
    c.header('Retry-After', String(decision.retryAfterSeconds))
    return reply(c, scimError(STATUS_OF[refusal.code], refusal.message))
  })

  routes.all('/:resource/:id?', async (c) => {
    let idpId: string
    try {
      idpId = await authenticateScim(broker, bearerToken(c.req.header('authorization')))
    } catch (error) {
      if (isKeygateError(error, 'UNAUTHENTICATED')) {
        c.header('WWW-Authenticate', 'Bearer realm="scim"')
        return reply(c, scimError(STATUS_OF[error.code], error.message))
      }
      throw error
    }
    const resource = c.req.param('resource') as Resource
    if (!RESOURCES.includes(resource))
      return reply(c, scimError(STATUS_OF.NOT_FOUND, `No SCIM resource type "${resource}"`))
    let body: unknown
    if (c.req.method === 'POST' || c.req.method === 'PUT' || c.req.method === 'PATCH') {
      const text = await c.req.text()
      try {
        body = JSON.parse(text)
      } catch {
        return reply(c, scimError(STATUS_OF.INVALID_REQUEST, 'The request body is not JSON', 'invalidSyntax'))
      }
    }
    const id = c.req.param('id')
    const answer = await handleScim(
      { deps: broker, idpId },
      { method: c.req.method, resource, ...(id === undefined ? {} : { id }), query: c.req.query(), body },
    )
    return reply(c, answer)
  })

  return routes
}
