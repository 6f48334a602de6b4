/**
 * The SCIM 2.0 service provider (RFC 7643/7644) on SCIMMY: SCIMMY owns the protocol (schemas and their
 * coercion, the filter grammar, PATCH semantics, ListResponse paging, the error format); this module maps
 * its resources onto the Store, per IdP, and hands every before/after to core's provisioning effects.
 *
 * SCIMMY keeps its declarations in module state, so they are made once per process; everything that
 * differs per request (the store, the IdP the token belongs to) travels in SCIMMY's `ctx` argument.
 * Okta's and Entra ID's quirks are smoothed here before SCIMMY sees a body: Entra sends PATCH values for
 * boolean attributes as the strings "True"/"False" (its capitalised ops SCIMMY accepts as they are).
 */
import SCIMMY from 'scimmy'
import type { BrokerDeps } from '../../core/broker/broker-deps.ts'
import { applyScimGroupChange, applyScimUserChange } from '../../core/broker/scim-provisioning.ts'
import type { ScimGroup, ScimUser } from '../../core/model.ts'

export const SCIM_BASE_PATH = '/scim/v2'
export const SCIM_MAX_RESULTS = 200

export interface ScimContext {
  deps: BrokerDeps
  idpId: string
}

export interface ScimReply {
  status: number
  body: unknown
}

type Json = Record<string, unknown>

const SCIMError = SCIMMY.Types.Error

let declared = false

function declareOnce(): void {
  if (declared) return
  declared = true
  SCIMMY.Config.set({
    patch: true,
    filter: { supported: true, maxResults: SCIM_MAX_RESULTS },
    sort: false,
    bulk: false,
    etag: false,
    changePassword: false,
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: 'One token per identity provider, made with `keygate scim token IDP`',
      },
    ],
  })
  SCIMMY.Resources.declare(SCIMMY.Resources.User, {
    basepath: SCIM_BASE_PATH,
    extensions: [{ schema: SCIMMY.Schemas.EnterpriseUser, required: false }],
    egress: (resource: SCIMMY.Types.Resource, ctx: ScimContext) => userEgress(resource, ctx),
    ingress: (resource: SCIMMY.Types.Resource, instance: unknown, ctx: ScimContext) =>
      userIngress(resource, instance, ctx),
    degress: (resource: SCIMMY.Types.Resource, ctx: ScimContext) => userDegress(resource, ctx),
  } as never)
  SCIMMY.Resources.declare(SCIMMY.Resources.Group, {
    basepath: SCIM_BASE_PATH,
    egress: (resource: SCIMMY.Types.Resource, ctx: ScimContext) => groupEgress(resource, ctx),
    ingress: (resource: SCIMMY.Types.Resource, instance: unknown, ctx: ScimContext) =>
      groupIngress(resource, instance, ctx),
    degress: (resource: SCIMMY.Types.Resource, ctx: ScimContext) => groupDegress(resource, ctx),
  } as never)
  SCIMMY.Resources.Schema.basepath(SCIM_BASE_PATH)
  SCIMMY.Resources.ResourceType.basepath(SCIM_BASE_PATH)
  SCIMMY.Resources.ServiceProviderConfig.basepath(SCIM_BASE_PATH)
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

function plain(value: unknown): Json {
  return JSON.parse(JSON.stringify(value ?? {})) as Json
}

function userResource(user: ScimUser): Json {
  return {
    ...user.resource,
    id: user.id,
    userName: user.userName,
    ...(user.externalId === null ? {} : { externalId: user.externalId }),
    active: user.active,
    meta: { resourceType: 'User', created: iso(user.createdAt), lastModified: iso(user.updatedAt) },
  }
}

function groupResource(group: ScimGroup): Json {
  return {
    id: group.id,
    displayName: group.displayName,
    ...(group.externalId === null ? {} : { externalId: group.externalId }),
    members: group.members.map((value) => ({ value, type: 'User' })),
    meta: { resourceType: 'Group', created: iso(group.createdAt), lastModified: iso(group.updatedAt) },
  }
}

/** `attr eq "value"` on one attribute, as Okta and Entra ask before they create: answered by an index. */
function simpleEquality(filter: unknown, attribute: string): string | undefined {
  if (!Array.isArray(filter) || filter.length !== 1) return undefined
  const expression = filter[0] as Record<string, unknown>
  const keys = Object.keys(expression)
  if (keys.length !== 1 || keys[0]?.toLowerCase() !== attribute.toLowerCase()) return undefined
  const test = expression[keys[0]!]
  if (!Array.isArray(test) || test.length !== 2 || String(test[0]).toLowerCase() !== 'eq') return undefined
  return typeof test[1] === 'string' ? test[1] : undefined
}

function matching(resource: SCIMMY.Types.Resource, list: Json[]): Json[] {
  const filter = (resource as { filter?: SCIMMY.Types.Filter }).filter
  return filter === undefined ? list : (filter.match(list) as Json[])
}

async function userEgress(resource: SCIMMY.Types.Resource, ctx: ScimContext): Promise<Json | Json[]> {
  const { store } = ctx.deps
  const id = (resource as { id?: string }).id
  if (id !== undefined) {
    const user = await store.getScimUser(ctx.idpId, id)
    if (user === null) throw new SCIMError(404, null as never, `Resource ${id} not found`)
    return userResource(user)
  }
  const userName = simpleEquality((resource as { filter?: unknown }).filter, 'userName')
  if (userName !== undefined) return (await store.listScimUsers(ctx.idpId, { userName })).map(userResource)
  return matching(resource, (await store.listScimUsers(ctx.idpId, {})).map(userResource))
}

function userInput(ctx: ScimContext, instance: unknown) {
  const body = plain(instance)
  const { id: _id, meta: _meta, userName, externalId, active, ...rest } = body
  return {
    idpId: ctx.idpId,
    userName: String(userName),
    externalId: typeof externalId === 'string' && externalId !== '' ? externalId : null,
    active: active !== false,
    resource: rest,
  }
}

async function userIngress(
  resource: SCIMMY.Types.Resource,
  instance: unknown,
  ctx: ScimContext,
): Promise<Json> {
  const { deps } = ctx
  const input = userInput(ctx, instance)
  const id = (resource as { id?: string }).id
  const now = deps.clock.now()
  const sameName = await deps.store.listScimUsers(ctx.idpId, { userName: input.userName })
  if (sameName.some((u) => u.id !== id)) {
    throw new SCIMError(409, 'uniqueness', `A user with userName "${input.userName}" already exists`)
  }
  if (id === undefined) {
    const created = await deps.store.createScimUser(input, now)
    await applyScimUserChange(deps, null, created)
    return userResource(created)
  }
  const before = await deps.store.getScimUser(ctx.idpId, id)
  if (before === null) throw new SCIMError(404, null as never, `Resource ${id} not found`)
  const after = await deps.store.replaceScimUser(ctx.idpId, id, input, now)
  if (after === null) throw new SCIMError(404, null as never, `Resource ${id} not found`)
  await applyScimUserChange(deps, before, after)
  return userResource(after)
}

async function userDegress(resource: SCIMMY.Types.Resource, ctx: ScimContext): Promise<void> {
  const id = (resource as { id?: string }).id ?? ''
  const before = await ctx.deps.store.getScimUser(ctx.idpId, id)
  if (before === null) throw new SCIMError(404, null as never, `Resource ${id} not found`)
  // Memberships go with the user: the groups it was in lose a member.
  const groups = await ctx.deps.store.listScimGroups(ctx.idpId, { memberId: id })
  await ctx.deps.store.deleteScimUser(ctx.idpId, id)
  await applyScimUserChange(ctx.deps, before, null)
  for (const group of groups) {
    await applyScimGroupChange(ctx.deps, group, { ...group, members: group.members.filter((m) => m !== id) })
  }
}

async function groupEgress(resource: SCIMMY.Types.Resource, ctx: ScimContext): Promise<Json | Json[]> {
  const { store } = ctx.deps
  const id = (resource as { id?: string }).id
  if (id !== undefined) {
    const group = await store.getScimGroup(ctx.idpId, id)
    if (group === null) throw new SCIMError(404, null as never, `Resource ${id} not found`)
    return groupResource(group)
  }
  const displayName = simpleEquality((resource as { filter?: unknown }).filter, 'displayName')
  if (displayName !== undefined) {
    return (await store.listScimGroups(ctx.idpId, { displayName })).map(groupResource)
  }
  return matching(resource, (await store.listScimGroups(ctx.idpId, {})).map(groupResource))
}

async function groupIngress(
  resource: SCIMMY.Types.Resource,
  instance: unknown,
  ctx: ScimContext,
): Promise<Json> {
  const { deps } = ctx
  const body = plain(instance)
  const members = Array.isArray(body.members)
    ? body.members.flatMap((m) => {
        const value = (m as { value?: unknown }).value
        return typeof value === 'string' ? [value] : []
      })
    : []
  const input = {
    idpId: ctx.idpId,
    displayName: String(body.displayName),
    externalId: typeof body.externalId === 'string' && body.externalId !== '' ? body.externalId : null,
    members,
  }
  const id = (resource as { id?: string }).id
  const now = deps.clock.now()
  if (id === undefined) {
    const created = await deps.store.createScimGroup(input, now)
    await applyScimGroupChange(deps, null, created)
    return groupResource(created)
  }
  const before = await deps.store.getScimGroup(ctx.idpId, id)
  if (before === null) throw new SCIMError(404, null as never, `Resource ${id} not found`)
  const after = await deps.store.replaceScimGroup(ctx.idpId, id, input, now)
  if (after === null) throw new SCIMError(404, null as never, `Resource ${id} not found`)
  await applyScimGroupChange(deps, before, after)
  return groupResource(after)
}

async function groupDegress(resource: SCIMMY.Types.Resource, ctx: ScimContext): Promise<void> {
  const id = (resource as { id?: string }).id ?? ''
  const before = await ctx.deps.store.deleteScimGroup(ctx.idpId, id)
  if (before === null) throw new SCIMError(404, null as never, `Resource ${id} not found`)
  await applyScimGroupChange(ctx.deps, before, null)
}

/** Entra ID sends boolean PATCH values as "True"/"False"; SCIM says JSON booleans. */
function normaliseEntraBooleans(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as Json).Operations)) return body
  const toBoolean = (value: unknown) =>
    typeof value === 'string' && /^(true|false)$/i.test(value) ? value.toLowerCase() === 'true' : value
  const operations = ((body as Json).Operations as unknown[]).map((op) => {
    if (typeof op !== 'object' || op === null) return op
    const { path, value } = op as Json
    if (typeof path === 'string' && path.toLowerCase() === 'active') return { ...op, value: toBoolean(value) }
    if (path === undefined && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const v = value as Json
      if ('active' in v) return { ...op, value: { ...v, active: toBoolean(v.active) } }
    }
    return op
  })
  return { ...(body as Json), Operations: operations }
}

function errorReply(error: unknown): ScimReply {
  if (error instanceof SCIMError) {
    return { status: error.status, body: new SCIMMY.Messages.ErrorResponse(error) }
  }
  throw error
}

export type ScimResourceName = 'Users' | 'Groups'

/** One SCIM request, already authenticated to an IdP. Answers are SCIM messages, errors included. */
export async function handleScim(
  ctx: ScimContext,
  request: {
    method: string
    resource: ScimResourceName | 'ServiceProviderConfig' | 'Schemas' | 'ResourceTypes'
    id?: string
    query: Record<string, string>
    body?: unknown
  },
): Promise<ScimReply> {
  declareOnce()
  try {
    switch (request.resource) {
      case 'ServiceProviderConfig':
        return { status: 200, body: await new SCIMMY.Resources.ServiceProviderConfig().read() }
      case 'Schemas':
        return { status: 200, body: await new SCIMMY.Resources.Schema(request.id as string).read() }
      case 'ResourceTypes':
        return { status: 200, body: await new SCIMMY.Resources.ResourceType(request.id as string).read() }
    }
    const Resource = request.resource === 'Users' ? SCIMMY.Resources.User : SCIMMY.Resources.Group
    const params: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(request.query)) {
      if (!['filter', 'startIndex', 'count', 'attributes', 'excludedAttributes'].includes(key)) continue
      params[key] = key === 'startIndex' || key === 'count' ? Number.parseInt(value, 10) : value
    }
    if (params.count !== undefined) params.count = Math.min(params.count as number, SCIM_MAX_RESULTS)
    else if (request.id === undefined) params.count = SCIM_MAX_RESULTS
    const target =
      request.id === undefined ? new Resource(params as never) : new Resource(request.id, params as never)
    switch (request.method) {
      case 'GET':
        return { status: 200, body: await target.read(ctx as never) }
      case 'POST':
        if (request.id !== undefined) throw new SCIMError(404, null as never, 'POST creates; it names no id')
        return { status: 201, body: await target.write(request.body as never, ctx as never) }
      case 'PUT':
        if (request.id === undefined) throw new SCIMError(404, null as never, 'PUT must name a resource')
        return { status: 200, body: await target.write(request.body as never, ctx as never) }
      case 'PATCH': {
        if (request.id === undefined) throw new SCIMError(404, null as never, 'PATCH must name a resource')
        const patched = await target.patch(normaliseEntraBooleans(request.body) as never, ctx as never)
        // Okta and Entra both expect the resource back, also when nothing changed.
        return { status: 200, body: patched ?? (await target.read(ctx as never)) }
      }
      case 'DELETE':
        if (request.id === undefined) throw new SCIMError(404, null as never, 'DELETE must name a resource')
        await target.dispose(ctx as never)
        return { status: 204, body: null }
      default:
        throw new SCIMError(405 as never, null as never, `${request.method} is not supported here`)
    }
  } catch (error) {
    return errorReply(error)
  }
}

/** A SCIM error message for failures outside SCIMMY (authentication, a body that is not JSON). */
export function scimError(status: number, detail: string, scimType?: string): ScimReply {
  return {
    status,
    body: {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: String(status),
      ...(scimType === undefined ? {} : { scimType }),
      detail,
    },
  }
}
