/**
 * The IdPs' discovery documents and JWKS in Workers KV, so that a fresh isolate (and Workers start
 * them often: per location, after idling, after a deploy) signs users in without first fetching
 * `/.well-known/openid-configuration` and `jwks_uri` again.
 *
 * Why KV and not memory or the database: module memory dies with the isolate, which is exactly the
 * case to cover; the database would put IdP metadata behind the user's data store and a migration.
 * KV is global, read-optimised and eventually consistent (about a minute), which suits a cache whose
 * stale entry costs one extra fetch at worst: openid-client refetches the JWKS on an unknown `kid`, and
 * the adapter ignores a document whose issuer is not the configured one. Without the KV binding, each
 * isolate keeps its own copy in memory.
 */
import type { ExportedJWKSCache, ServerMetadata } from 'openid-client'
import type { OidcMetadataCache } from '../idp/oidc-identity-provider.ts'
import type { KvBinding } from './worker-bindings.ts'

/** Discovery documents change rarely (endpoints, supported algorithms); an hour bounds a stale one. */
export const METADATA_TTL_SECONDS = 60 * 60
/** openid-client uses a key set for 5 minutes before downloading it again; keeping it longer is useless. */
export const JWKS_TTL_SECONDS = 5 * 60

const PREFIX = 'keygate:oidc:v1:'

export function createKvMetadataCache(kv: KvBinding | undefined): OidcMetadataCache {
  const store = kv ?? memoryKv()
  const read = async <T>(key: string): Promise<T | null> =>
    ((await store.get(key, 'json')) as T | null) ?? null
  return {
    getServerMetadata: (issuer) => read<ServerMetadata>(`${PREFIX}metadata:${issuer}`),
    putServerMetadata: (issuer, metadata) =>
      store.put(`${PREFIX}metadata:${issuer}`, JSON.stringify(metadata), {
        expirationTtl: METADATA_TTL_SECONDS,
      }),
    getJwks: (issuer) => read<ExportedJWKSCache>(`${PREFIX}jwks:${issuer}`),
    putJwks: (issuer, jwks) =>
      store.put(`${PREFIX}jwks:${issuer}`, JSON.stringify(jwks), { expirationTtl: JWKS_TTL_SECONDS }),
  }
}

/** The fallback without a KV binding: this isolate's memory, with the same expiry rules. */
function memoryKv(): KvBinding {
  const entries = new Map<string, { value: string; expiresAt: number }>()
  return {
    async get(key) {
      const entry = entries.get(key)
      if (entry === undefined || entry.expiresAt <= Date.now()) return null
      return JSON.parse(entry.value) as unknown
    },
    async put(key, value, options) {
      entries.set(key, { value, expiresAt: Date.now() + (options?.expirationTtl ?? 60) * 1000 })
    },
  }
}
