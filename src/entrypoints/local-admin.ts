/**
 * Asking the running server as the local admin: the server writes a token into its data dir (mode 0600,
 * admin-token.ts) so that CLI verbs on the same host go through it instead of opening the embedded
 * database it holds. Reading that file is the whole authentication: whoever can read the data dir may
 * act as the admin anyway. Its own module so `gateway add`, `gateway remove`, `scim token` and
 * `demo gateway` share one way of asking.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../core/config.ts'
import { KeygateError } from '../core/errors.ts'
import { ADMIN_TOKEN_FILE } from './admin-token.ts'

export type ServerAnswer = Record<string, unknown>

/**
 * The server's answer to an admin request; null when there is no token file or no server answering at
 * KEYGATE_URL (the caller then works offline or says what to start). An error answer throws its code.
 */
export async function askRunningServer(
  config: Pick<Config, 'dataDir' | 'url'>,
  request: { method: string; path: string },
): Promise<ServerAnswer | null> {
  const token = await readFile(join(config.dataDir, ADMIN_TOKEN_FILE), 'utf8').then(
    (text) => text.trim(),
    () => null,
  )
  if (token === null) return null
  const response = await fetch(`${config.url}${request.path}`, {
    method: request.method,
    headers: { authorization: `Bearer ${token}` },
  }).catch(() => null)
  if (response === null) return null
  const body = (await response.json()) as ServerAnswer & { error?: { code: string; message: string } }
  if (!response.ok) {
    throw new KeygateError(
      (body.error?.code as 'INTERNAL') ?? 'INTERNAL',
      body.error?.message ?? `server answered ${response.status}`,
    )
  }
  return body
}

/** A one-time enrollment token for gateway `name` from the running server, or null without one. */
export async function enrollmentTokenFromServer(
  config: Pick<Config, 'dataDir' | 'url'>,
  name: string,
): Promise<{ token: string; expiresAt: string } | null> {
  const body = await askRunningServer(config, {
    method: 'POST',
    path: `/api/v1/admin/gateways/${encodeURIComponent(name)}/enrollment-token`,
  })
  if (body === null) return null
  if (typeof body.token !== 'string') throw new KeygateError('INTERNAL', 'the server sent no token')
  return { token: body.token, expiresAt: typeof body.expiresAt === 'string' ? body.expiresAt : '' }
}
