/**
 * One gateway's feed page, or the gateway behind one credential, read through the batched store reads
 * the broker itself uses (Store.readGatewayFeeds, Store.findGatewaysByCredentials): the port has no
 * single-item forms, so tests exercise the very statements production runs.
 */
import type { Gateway } from '../../src/core/model.ts'
import type { GatewayFeedPage, Store } from '../../src/core/ports.ts'

export async function readFeed(
  store: Pick<Store, 'readGatewayFeeds'>,
  gateway: string,
  since: number,
  limit: number,
  now: number,
): Promise<GatewayFeedPage> {
  const [page] = await store.readGatewayFeeds([{ gateway, since }], limit, now)
  // Without a gatewayId the read never answers "removed".
  if (page == null) throw new Error(`no feed page for ${gateway}`)
  return page
}

export async function gatewayByCredential(
  store: Pick<Store, 'findGatewaysByCredentials'>,
  credentialHash: string,
): Promise<Gateway | null> {
  const [gateway] = await store.findGatewaysByCredentials([credentialHash])
  return gateway ?? null
}
