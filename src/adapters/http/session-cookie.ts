/**
 * The browser's two cookies, both encrypted JWTs (jose, `dir` + A256GCM, so they are signed and
 * opaque): the short-lived pre-login cookie that carries PKCE verifier, state, nonce and where to
 * return between `/auth/:idp/login` and the callback (so starting a sign-in writes nothing to the
 * database), and the session cookie, which names a session id and nothing else: the claims stay in the
 * store (session-liveness.ts), so a long group list never outgrows the browser's 4 KB cookie limit.
 * HttpOnly, SameSite=Lax, Secure (and the `__Host-` prefix) on https.
 */
import type { Context } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { EncryptJWT, jwtDecrypt } from 'jose'
import type { PendingLogin } from '../../core/ports.ts'
import { deriveSubkey } from '../crypto/derive-subkey.ts'

export interface CookieCodec {
  readonly secure: boolean
  readonly sessionCookie: string
  readonly loginCookie: string
  seal(payload: object, expiresAt: number, purpose: string): Promise<string>
  open<T>(token: string, purpose: string): Promise<T | null>
}

/** Derives an independent 256-bit key for cookies from KEYGATE_SECRET (HKDF-SHA256, WebCrypto). */
export async function createCookieCodec(secret: string, publicUrl: string): Promise<CookieCodec> {
  const key = await deriveSubkey(secret, 'keygate', 'cookies v1', 256)
  const secure = publicUrl.startsWith('https:')
  // Decrypting is WebCrypto work on every request; a token that decrypted once is the same token, so
  // its payload is remembered (bounded). Expiry is still checked by the caller on every use.
  const opened = new Map<string, unknown>()
  return {
    secure,
    sessionCookie: secure ? '__Host-kg_session' : 'kg_session',
    loginCookie: secure ? '__Host-kg_login' : 'kg_login',
    async seal(payload, expiresAt, purpose) {
      return new EncryptJWT({ ...payload })
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
        .setAudience(purpose)
        .setIssuedAt()
        .setExpirationTime(Math.floor(expiresAt / 1000))
        .encrypt(key)
    },
    async open<T>(token: string, purpose: string) {
      const cacheKey = `${purpose} ${token}`
      const known = opened.get(cacheKey)
      if (known !== undefined) return known as T
      try {
        const { payload } = await jwtDecrypt(token, key, { audience: purpose })
        // Login cookies are single-use: only sessions are worth remembering.
        if (purpose === 'session') {
          if (opened.size >= 10_000) opened.delete(opened.keys().next().value as string)
          opened.set(cacheKey, payload)
        }
        return payload as T
      } catch {
        return null
      }
    },
  }
}

function cookieOptions(codec: CookieCodec, expiresAt: number) {
  return {
    httpOnly: true,
    secure: codec.secure,
    sameSite: 'Lax' as const,
    path: '/',
    expires: new Date(expiresAt),
  }
}

export async function writeLoginCookie(
  c: Context,
  codec: CookieCodec,
  pending: PendingLogin,
  expiresAt: number,
) {
  setCookie(
    c,
    codec.loginCookie,
    await codec.seal(pending, expiresAt, 'login'),
    cookieOptions(codec, expiresAt),
  )
}

export async function readLoginCookie(c: Context, codec: CookieCodec): Promise<PendingLogin | null> {
  const token = getCookie(c, codec.loginCookie)
  return token === undefined ? null : codec.open<PendingLogin>(token, 'login')
}

export function clearLoginCookie(c: Context, codec: CookieCodec) {
  deleteCookie(c, codec.loginCookie, { path: '/', secure: codec.secure })
}

/** What the session cookie says: which session, and until when the browser should keep it. */
export interface SessionCookie {
  sessionId: string
  expiresAt: number
}

export async function writeSessionCookie(c: Context, codec: CookieCodec, session: SessionCookie) {
  setCookie(
    c,
    codec.sessionCookie,
    await codec.seal({ sid: session.sessionId }, session.expiresAt, 'session'),
    cookieOptions(codec, session.expiresAt),
  )
}

/** The session id of a cookie this server sealed (a tampered or foreign one opens to null). */
export async function readSessionCookie(c: Context, codec: CookieCodec): Promise<string | null> {
  const token = getCookie(c, codec.sessionCookie)
  if (token === undefined) return null
  const payload = await codec.open<{ sid?: unknown }>(token, 'session')
  return typeof payload?.sid === 'string' ? payload.sid : null
}

export function clearSessionCookie(c: Context, codec: CookieCodec) {
  deleteCookie(c, codec.sessionCookie, { path: '/', secure: codec.secure })
}
