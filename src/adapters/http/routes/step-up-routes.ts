/**
 * Keygate's own second factor over HTTP, mounted at `/step-up`: the page, TOTP enrolment and use as
 * same-origin form posts, WebAuthn ceremonies as JSON for step-up.js. A success sets `auth.stepUp` on
 * the stored session (same session id, so logout still ends it), which the policy counts and the next
 * lease records. The TOTP secret appears only in the enrolment page's body, never in a URL.
 */
import { type Context, Hono } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import QRCode from 'qrcode'
import { checkAdminAccess } from '../../../core/broker/admin-access.ts'
import type { SessionContext } from '../../../core/broker/broker-deps.ts'
import { isKeygateError, KeygateError } from '../../../core/errors.ts'
import type { AuthFacts } from '../../../core/model.ts'
import type { StepUpService } from '../../step-up/step-up-service.ts'
import type { AppDeps, AppEnv } from '../app-env.ts'
import { isServerFault, STATUS_OF } from '../errors.ts'
import { renderPage } from '../pages/layout.tsx'
import { signInAgainUrl, viewerOf } from '../pages/page-context.ts'
import { StepUpPage, TotpEnrolPage } from '../pages/step-up-page.tsx'
import { readJson } from '../request.ts'
import { safeReturnTo } from '../return-to.ts'
import type { SessionLiveness } from '../session-liveness.ts'

type StepUpContext = Context<AppEnv>

export interface StepUpRouteDeps extends Pick<AppDeps, 'broker'> {
  service: StepUpService
  /** The session-liveness memory: an upgraded session is re-read from the store on its next request. */
  sessions: SessionLiveness
}

export function stepUpRoutes(deps: StepUpRouteDeps) {
  const { service, broker } = deps
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
      const enrolmentCode = stringField(form.enrolmentCode)
      const enrolment = await service.beginTotpEnrolment(session, enrolmentCode)
      return totpEnrolPage(c, session, returnTo, enrolment, enrolmentCode, null, 200)
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
    const enrolmentCode = stringField(form.enrolmentCode)
    try {
      const auth = await service.confirmTotpEnrolment(session, factorId, form.code, enrolmentCode)
      await upgradeSession(c, deps, session, auth)
      return c.redirect(returnTo, 303)
    } catch (error) {
      // A wrong first code: show the same QR again (the factor stays unconfirmed) with the reason.
      if (isKeygateError(error, 'FACTOR_INVALID')) {
        const pending = await service.pendingTotpEnrolment(session, factorId)
        if (pending !== null)
          return totpEnrolPage(
            c,
            session,
            returnTo,
            pending,
            enrolmentCode,
            error.message,
            STATUS_OF[error.code],
          )
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
      await upgradeSession(c, deps, session, auth)
      return c.redirect(returnTo, 303)
    } catch (error) {
      return pageForError(c, session, returnTo, error)
    }
  })

  routes.post('/webauthn/register/options', async (c) => {
    const session = requireSessionJson(c)
    const body = await readJson(c.req.raw)
    c.header('Cache-Control', 'no-store')
    return c.json(await service.webauthnRegistrationOptions(session, body.enrolmentCode))
  })

  routes.post('/webauthn/register/verify', async (c) => {
    const session = requireSessionJson(c)
    const body = await readJson(c.req.raw)
    const auth = await service.verifyWebAuthnRegistration(
      session,
      body.response,
      body.label,
      body.enrolmentCode,
    )
    await upgradeSession(c, deps, session, auth)
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
    await upgradeSession(c, deps, session, auth)
    return c.json({ ok: true, next: safeReturnTo(stringField(body.returnTo)) })
  })

  async function stepUpPage(
    c: StepUpContext,
    session: SessionContext,
    returnTo: string,
    error: string | null,
    status: ContentfulStatusCode,
  ) {
    return renderPage(
      c,
      StepUpPage({
        viewer: viewerOf(session, broker),
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
    enrolmentCode: string | undefined,
    error: string | null,
    status: ContentfulStatusCode,
  ) {
    const qrSvg = await QRCode.toString(enrolment.uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
    return renderPage(
      c,
      TotpEnrolPage({
        viewer: viewerOf(session, broker),
        returnTo,
        factorId: enrolment.factorId,
        qrSvg,
        uri: enrolment.uri,
        secret: enrolment.secret,
        enrolmentCode: enrolmentCode ?? null,
        error,
      }),
      status,
    )
  }

  function pageForError(c: StepUpContext, session: SessionContext, returnTo: string, error: unknown) {
    // A fault on our side (a sealed secret no key opens, a database outage) is the operator's to read in
    // the log, not the person's on this page: the app's error handler logs it and answers generically.
    if (!isKeygateError(error) || isServerFault(error.code)) throw error
    if (error.code === 'RATE_LIMITED') {
      const retry = error.details?.retryAfterSeconds
      if (typeof retry === 'number') c.header('Retry-After', String(retry))
    }
    return stepUpPage(c, session, returnTo, error.message, STATUS_OF[error.code])
  }

  return routes
}

/**
 * `POST /api/v1/admin/identities/:id/enrolment-codes`: an admin issues a one-time code that lets that
 * identity enrol its first factor without IdP MFA (KEYGATE_FIRST_FACTOR). The same admin check as the
 * rest of the admin API, made here since this group is mounted beside it, not inside it.
 */
export function enrolmentCodeRoutes({ service, broker }: Pick<StepUpRouteDeps, 'service' | 'broker'>) {
  const routes = new Hono<AppEnv>()
  routes.post('/identities/:id/enrolment-codes', async (c) => {
    const session = requireSessionJson(c)
    const refusal = checkAdminAccess(broker.policy(), session)
    if (refusal !== null) throw refusal
    const { code, expiresAt } = await service.issueEnrolmentCode(
      session.email ?? session.subject,
      c.req.param('id'),
    )
    c.header('Cache-Control', 'no-store')
    return c.json({ code, expiresAt: new Date(expiresAt).toISOString() }, 201)
  })
  return routes
}

async function upgradeSession(
  c: StepUpContext,
  deps: Pick<StepUpRouteDeps, 'broker' | 'sessions'>,
  session: SessionContext,
  auth: AuthFacts,
) {
  // The claims live with the session row (the cookie names the session only): same id, so logout still ends it.
  await deps.broker.store.updateSessionAuth(session.sessionId, auth)
  deps.sessions.forget(session.sessionId)
  c.set('session', { ...session, auth })
}

function requireSessionJson(c: StepUpContext): SessionContext {
  const session = c.get('session')
  if (session === null) throw new KeygateError('UNAUTHENTICATED', 'Sign in first: no valid session')
  return session
}

function stringField(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}
