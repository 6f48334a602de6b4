/**
 * `Idempotency-Key` on the requests that act on a lease: issue, renew, revoke. One mechanism for the
 * three: the key is stored by the store in the very statement that acts (never on its own), so a retry
 * after a commit whose answer was lost finds what was done and gets the answer again, rebuilt from the
 * lease, without acting twice. Keys belong to an owner (an identity, or the server's own admin CLI),
 * are remembered for a day, and the same key with another request is refused (IDEMPOTENCY_KEY_REUSED).
 */
import { isKeygateError, KeygateError } from '../errors.ts'
import type { IdempotencyRecord, Store } from '../ports.ts'

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255
/** How long a retry with the same key returns the first result. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000
/** Keys one owner holds at once; the oldest are forgotten past it. */
export const MAX_IDEMPOTENCY_KEYS_PER_OWNER = 100

/** A request sent with an `Idempotency-Key`. */
export interface KeyedRequest {
  owner: string
  key: string
  /** The normalised request: what a retry must repeat exactly. */
  fingerprint: string
}

/**
 * The request under its `Idempotency-Key` header, or null when none was sent. `request` is what makes
 * two requests the same one: the body for issuance, the operation and the lease for renew and revoke.
 */
export function keyedRequest(owner: string, header: unknown, request: object): KeyedRequest | null {
  const key = parseIdempotencyKey(header)
  return key === null ? null : { owner, key, fingerprint: JSON.stringify(request) }
}

/** What the store writes together with the act, or nothing for a request without a key. */
export function idempotencyRecord(keyed: KeyedRequest | null, now: number): IdempotencyRecord | undefined {
  if (keyed === null) return undefined
  return {
    owner: keyed.owner,
    key: keyed.key,
    fingerprint: keyed.fingerprint,
    expiresAt: now + IDEMPOTENCY_KEY_TTL_MS,
    maxPerOwner: MAX_IDEMPOTENCY_KEYS_PER_OWNER,
  }
}

/**
 * The lease an earlier request under this key acted on, or null when the key is new (or forgotten).
 * The same key with a different request is refused.
 */
export async function leaseActedOnBefore(
  store: Pick<Store, 'findIdempotencyKey'>,
  keyed: KeyedRequest | null,
  now: number,
): Promise<string | null> {
  if (keyed === null) return null
  const stored = await store.findIdempotencyKey(keyed.owner, keyed.key, now)
  if (stored === null) return null
  if (stored.fingerprint !== keyed.fingerprint) {
    throw new KeygateError(
      'IDEMPOTENCY_KEY_REUSED',
      'This Idempotency-Key was used for a different request; use a new key for a new request',
    )
  }
  return stored.leaseId
}

/**
 * After the store refused a keyed act, a concurrent request under the same key may have done it first:
 * then its result is the answer (found with `replay`); otherwise the refusal stands.
 */
export async function answerOfConcurrentTwin<T>(
  keyed: KeyedRequest | null,
  error: unknown,
  replay: () => Promise<T | null>,
): Promise<T> {
  if (keyed !== null && isKeygateError(error)) {
    const earlier = await replay()
    if (earlier !== null) return earlier
  }
  throw error
}

function parseIdempotencyKey(value: unknown): string | null {
  if (value === undefined || value === null) return null
  // Printable ASCII without spaces at the ends: keys are opaque client tokens (often UUIDs).
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_IDEMPOTENCY_KEY_LENGTH ||
    !/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value)
  ) {
    throw new KeygateError(
      'INVALID_REQUEST',
      `The Idempotency-Key header must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters`,
    )
  }
  return value
}
