/**
 * The session middleware: every request gets `c.var.session`, the live session its cookie names, or null.
 * The cookie (sealed, session-cookie.ts) says which session; the store, through the liveness memory, says
 * whether it is still live and what it stands for. Routes read the session only from here.
 */
import { createMiddleware } from 'hono/factory'
import type { SessionContext } from '../../core/broker/broker-deps.ts'
import type { Clock } from '../../core/ports.ts'
import type { AppEnv } from './app-env.ts'
import { type CookieCodec, readSessionCookie } from './session-cookie.ts'
import type { SessionLiveness } from './session-liveness.ts'

export function sessionMiddleware(cookies: CookieCodec, sessions: SessionLiveness, clock: Clock) {
  return createMiddleware<AppEnv>(async (c, next) => {
    c.set('session', await loadSession(c, cookies, sessions, clock))
    await next()
  })
}

async function loadSession(
  c: Parameters<typeof readSessionCookie>[0],
  cookies: CookieCodec,
  sessions: SessionLiveness,
  clock: Clock,
): Promise<SessionContext | null> {
  const sessionId = await readSessionCookie(c, cookies)
  if (sessionId === null) return null
  return sessions.read(sessionId, clock.now())
}
