/**
 * Keygate's own second factor over HTTP, mounted at `/step-up`: the page, TOTP enrolment and use as
 * same-origin form posts, WebAuthn ceremonies as JSON for step-up.js. A success re-issues the session
 * cookie with `auth.stepUp` set (same session id, so logout still ends it), which the policy counts and
 * the next lease records. The TOTP secret appears only in the enrolment page's body, never in a URL.
 */
import { type Context, Hono } from 'hono'
import QRCode from 'qrcode'
import type { SessionContext } from '../../../core/broker/broker-deps.ts'
import { isKeygateError, KeygateError } from '../../../core/errors.ts'
import type { AuthFacts } from '../../../core/model.ts'
import type { StepUpService } from '../../step-up/step-up-service.ts'
import type { AppEnv } from '../app.ts'
import { renderPage } from '../pages/layout.tsx'
import { signInAgainUrl, viewerOf } from '../pages/page-context.ts'
import { StepUpPage, TotpEnrolPage } from '../pages/step-up-page.tsx'
import { writeSessionCookie } from '../session-cookie.ts'
import { safeReturnTo } from './auth-routes.ts'
import { readJson } from './peer-routes.ts'

type StepUpContext = Context<AppEnv>

export function stepUpRoutes(service: StepUpService) {
  const routes = new Hono<AppEnv>()

  routes.get('/', async (c) => {
    const session = c.get('session')
    const returnTo = safeReturnTo(c.req.query('returnTo'))
    if (session === null)
      return c.redirect(`/?returnTo=${encodeURIComponent(`/step-up?returnTo=${returnTo}`)}`, 303)
    return stepUpPage(c, session, returnTo, null, 200)
  })

  routes.post('/totp/enrol', async (c) => {
    const session = c.get('session')
    if (session === null) return c.redirect('/', 303)
    const form = await c.req.parseBody()
    const returnTo = safeReturnTo(stringField(form.returnTo))
    try {
      const enrolment = await service.beginTotpEnrolment(session)
      return totpEnrolPage(c, session, returnTo, enrolment, null, 200)
    } catch (error) {
      return pageForError(c, session, returnTo, error)
    }
  })

  routes.post('/totp/confirm', async (c) => {
    const session = c.get('session')
    if (session === null) return c.redirect('/', 303)
    const form = await c.req.parseBody()
    const returnTo = safeReturnTo(stringField(form.returnTo))
    const factorId = stringField(form.factorId) ?? ''
    try {
      const auth = await service.confirmTotpEnrolment(session, factorId, form.code)
      await upgradeSession(c, session, auth)
      return c.redirect(returnTo, 303)
    } catch (error) {
      // A wrong first code: show the same QR again (the factor stays unconfirmed) with the reason.
      if (isKeygateError(error, 'FACTOR_INVALID')) {
        const pending = await service.pendingTotpEnrolment(session, factorId)
        if (pending !== null) return totpEnrolPage(c, session, returnTo, pending, error.message, 401)
      }
      return pageForError(c, session, returnTo, error)
    }
  })

  routes.post('/totp/verify', async (c) => {
    const session = c.get('session')
    if (session === null) return c.redirect('/', 303)
    const form = await c.req.parseBody()
    const returnTo = safeReturnTo(stringField(form.returnTo))
    try {
      const auth = await service.verifyTotp(session, form.code)
      await upgradeSession(c, session, auth)
      return c.redirect(returnTo, 303)
    } catch (error) {
      return pageForError(c, session, returnTo, error)
    }
  })

  routes.post('/webauthn/register/options', async (c) => {
    const session = requireSessionJson(c)
    c.header('Cache-Control', 'no-store')
    return c.json(await service.webauthnRegistrationOptions(session))
  })

  routes.post('/webauthn/register/verify', async (c) => {
    const session = requireSessionJson(c)
    const body = await readJson(c.req.raw)
    const auth = await service.verifyWebAuthnRegistration(session, body.response, body.label)
    await upgradeSession(c, session, auth)
    return c.json({ ok: true, next: safeReturnTo(stringField(body.returnTo)) })
  })

  routes.post('/webauthn/authenticate/options', async (c) => {
    const session = requireSessionJson(c)
    c.header('Cache-Control', 'no-store')
    return c.json(await service.webauthnAuthenticationOptions(session))
  })

  routes.post('/webauthn/authenticate/verify', async (c) => {
    const session = requireSessionJson(c)
    const body = await readJson(c.req.raw)
    const auth = await service.verifyWebAuthnAuthentication(session, body.response)
    await upgradeSession(c, session, auth)
    return c.json({ ok: true, next: safeReturnTo(stringField(body.returnTo)) })
  })

  async function stepUpPage(
    c: StepUpContext,
    session: SessionContext,
    returnTo: string,
    error: string | null,
    status: 200 | 400 | 401 | 403 | 404 | 429,
  ) {
    const { broker } = c.get('deps')
    const policy = broker.policy()
    return renderPage(
      c,
      StepUpPage({
        viewer: viewerOf(session, policy),
        returnTo,
        status: await service.status(session),
        current: session.auth.stepUp,
        error,
        signInAgainUrl: signInAgainUrl(session, `/step-up?returnTo=${encodeURIComponent(returnTo)}`),
        demand: null,
      }),
      status,
    )
  }

  async function totpEnrolPage(
    c: StepUpContext,
    session: SessionContext,
    returnTo: string,
    enrolment: { factorId: string; uri: string; secret: string },
    error: string | null,
    status: 200 | 401,
  ) {
    const qrSvg = await QRCode.toString(enrolment.uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
    return renderPage(
      c,
      TotpEnrolPage({
        viewer: viewerOf(session, c.get('deps').broker.policy()),
        returnTo,
        factorId: enrolment.factorId,
        qrSvg,
        secret: enrolment.secret,
        error,
      }),
      status,
    )
  }

  function pageForError(c: StepUpContext, session: SessionContext, returnTo: string, error: unknown) {
    if (!isKeygateError(error)) throw error
    if (error.code === 'RATE_LIMITED') {
      const retry = error.details?.retryAfterSeconds
      if (typeof retry === 'number') c.header('Retry-After', String(retry))
    }
    const status = (
      {
        FACTOR_INVALID: 401,
        RATE_LIMITED: 429,
        NOT_FOUND: 404,
        AUTH_TOO_OLD: 401,
        STEP_UP_REQUIRED: 403,
      } as const
    )[error.code as 'FACTOR_INVALID']
    return stepUpPage(c, session, returnTo, error.message, status ?? 400)
  }

  return routes
}

async function upgradeSession(c: StepUpContext, session: SessionContext, auth: AuthFacts) {
  const upgraded: SessionContext = { ...session, auth }
  await writeSessionCookie(c, c.get('deps').cookies, upgraded)
  c.set('session', upgraded)
}

function requireSessionJson(c: StepUpContext): SessionContext {
  const session = c.get('session')
  if (session === null) throw new KeygateError('UNAUTHENTICATED', 'Sign in first: no valid session')
  return session
}

function stringField(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}
