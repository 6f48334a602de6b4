/**
 * What route handlers read from a request, shared by every route module: a JSON object body, a bearer
 * token, and the signed-in session a route requires. Bad input is a clear 400 or 401, never a 500.
 */
import type { SessionContext } from '../../core/broker/broker-deps.ts'
import { KeygateError } from '../../core/errors.ts'

/** JSON object bodies only; a wrong type or broken JSON is a clear 400, never a 500. */
export async function readJson(request: Request): Promise<Record<string, unknown>> {
  const type = request.headers.get('content-type') ?? ''
  if (!type.toLowerCase().startsWith('application/json')) {
    throw new KeygateError('INVALID_REQUEST', 'Send a JSON body with Content-Type: application/json')
  }
  let value: unknown
  try {
    value = await request.json()
  } catch (error) {
    if (error instanceof KeygateError) throw error
    throw new KeygateError('INVALID_REQUEST', 'The body is not valid JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new KeygateError('INVALID_REQUEST', 'The body must be a JSON object')
  }
  return value as Record<string, unknown>
}

/** The token of an `Authorization: Bearer …` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '')
  return match?.[1] ?? null
}

export function requireSession(session: SessionContext | null): SessionContext {
  if (session === null) throw new KeygateError('UNAUTHENTICATED', 'Sign in first: no valid session')
  return session
}
