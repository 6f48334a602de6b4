/**
 * Picks the WireGuardInterface implementation for a named interface: the UAPI socket when a userspace
 * implementation serves one, otherwise the `wg` tool (kernel interfaces).
 */
import { access } from 'node:fs/promises'
import type { WireGuardInterface } from '../../core/sync/peer-state.ts'
import { createUapiInterface, DEFAULT_UAPI_DIR, uapiSocketPath } from './uapi-interface.ts'
import { createWgCliInterface } from './wg-cli-interface.ts'

export type WireGuardBackend = 'auto' | 'uapi' | 'wg'

export async function openWireGuardInterface(
  name: string,
  backend: WireGuardBackend = 'auto',
  options: { socketDir?: string } = {},
): Promise<WireGuardInterface> {
  if (!/^[A-Za-z0-9_.=+-]{1,15}$/.test(name))
    throw new Error(`not a valid interface name: ${JSON.stringify(name)}`)
  const socketDir = options.socketDir ?? DEFAULT_UAPI_DIR
  if (backend === 'uapi') return createUapiInterface(name, { socketDir })
  if (backend === 'wg') return createWgCliInterface(name)
  const hasSocket = await access(uapiSocketPath(name, socketDir)).then(
    () => true,
    () => false,
  )
  return hasSocket ? createUapiInterface(name, { socketDir }) : createWgCliInterface(name)
}
