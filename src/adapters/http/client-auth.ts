/**
 * What the terminal client's routes share: the device store (absent on a broker built without it, which
 * then has no device sign-in), the client credential from `Authorization: Bearer kgd_…`, and the
 * client's address as the runtime sees it.
 */
import type { Context } from 'hono'
import type { DeviceDeps } from '../../core/device/device-sign-in.ts'
import { KeygateError } from '../../core/errors.ts'
import type { AppDeps, AppEnv } from './app-env.ts'

export const CLIENT_CREDENTIAL_PREFIX = 'kgd_'

/** Asked per request, so a broker built without the device store answers 404 on these routes only. */
export function deviceDeps(deps: Pick<AppDeps, 'broker' | 'devices'>): DeviceDeps {
  if (deps.devices === undefined) throw new KeygateError('NOT_FOUND', 'Device sign-in is not enabled here')
  return { ...deps.broker, devices: deps.devices }
}

/** The client credential of the request, or null when it carries none (a browser, a session). */
export function clientCredential(c: Context<AppEnv>): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')
  const token = match?.[1]
  return token?.startsWith(CLIENT_CREDENTIAL_PREFIX) ? token : null
}

/** The socket's peer on Node (@hono/node-server puts the request in env), CF-Connecting-IP on Workers. */
export function requestAddress(c: Context<AppEnv>): string | null {
  const fromCloudflare = c.req.header('cf-connecting-ip')
  if (fromCloudflare) return fromCloudflare
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined
  return env?.incoming?.socket?.remoteAddress ?? null
}
