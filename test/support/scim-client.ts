// SCIM requests as an IdP's provisioning client sends them (bearer token, application/scim+json), and the
// local admin token a test broker writes into its data dir, to make the SCIM token with.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ADMIN_TOKEN_FILE } from '../../src/entrypoints/admin-token.ts'

// biome-ignore lint/suspicious/noExplicitAny: SCIM bodies are read loosely; each test asserts what it uses
export type ScimJson = Record<string, any>

export interface ScimAnswer {
  status: number
  contentType: string | null
  body: ScimJson
}

export type ScimCall = (method: string, path: string, body?: unknown) => Promise<ScimAnswer>

export async function localAdminToken(dataDir: string): Promise<string> {
  return (await readFile(join(dataDir, ADMIN_TOKEN_FILE), 'utf8')).trim()
}

/** Makes the IdP's SCIM token through the admin API, as `keygate scim token IDP` does. */
export async function createScimToken(origin: string, dataDir: string, idp: string): Promise<string> {
  const response = await fetch(`${origin}/api/v1/admin/scim/${idp}/token`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await localAdminToken(dataDir)}` },
  })
  if (response.status !== 201) throw new Error(`token: HTTP ${response.status} ${await response.text()}`)
  return ((await response.json()) as { token: string }).token
}

export function scimClient(origin: string, token: string): ScimCall {
  return async (method, path, body) => {
    const response = await fetch(`${origin}/scim/v2${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/scim+json',
        ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    })
    const text = await response.text()
    return {
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: text === '' ? {} : (JSON.parse(text) as ScimJson),
    }
  }
}

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User'
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group'
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp'
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error'
