/**
 * The portal's side of the terminal client's sign-in: `GET /device` (the RFC 8628 verification URI),
 * where a signed-in person enters or confirms the user code, sees which device asks and from where, and
 * approves (`POST /device/:id/approve`) or refuses (`POST /device/:id/refuse`). Sign-in first, with the
 * same IdP, MFA and step-up as the rest of the portal; a user code is only looked up for a signed-in
 * person, and wrong codes are audited (and limited by the app's rate limit on this path).
 */
import { type Context, Hono } from 'hono'
import type { SessionContext } from '../../../core/broker/broker-deps.ts'
import { subjectOf } from '../../../core/broker/issue-lease.ts'
import {
  approveDevice,
  findPendingAuthorization,
  isNewerSignIn,
  refuseDevice,
} from '../../../core/device/device-sign-in.ts'
import { formatUserCode, normalizeUserCode } from '../../../core/device/user-code.ts'
import { isKeygateError, type KeygateError } from '../../../core/errors.ts'
import { evaluatePolicy } from '../../../core/policy/index.ts'
import type { AppDeps, AppEnv } from '../app-env.ts'
import { deviceDeps } from '../client-auth.ts'
import { STATUS_OF } from '../errors.ts'
import { DeviceApprovalPage, DeviceCodePage, DeviceDonePage } from '../pages/device-approval-page.tsx'
import { ErrorPage } from '../pages/error-page.tsx'
import { renderPage } from '../pages/layout.tsx'
import { adviseOnDenial, signInAgainUrl, viewerOf } from '../pages/page-context.ts'

type DeviceContext = Context<AppEnv>

export type DeviceApprovalRouteDeps = Pick<AppDeps, 'broker' | 'devices'>

export function deviceApprovalRoutes(app: DeviceApprovalRouteDeps) {
  const routes = new Hono<AppEnv>()

  routes.get('/device', async (c) => {
    const typed = c.req.query('user_code') ?? ''
    const returnTo = `/device${typed === '' ? '' : `?user_code=${encodeURIComponent(typed.slice(0, 16))}`}`
    const session = c.get('session')
    if (session === null) return c.redirect(`/?returnTo=${encodeURIComponent(returnTo)}`, 303)
    const deps = deviceDeps(app)
    const viewer = viewerOf(session, deps)
    c.header('Cache-Control', 'no-store')
    if (typed === '') return renderPage(c, DeviceCodePage({ viewer, userCode: '', error: null }))
    const found = await findPendingAuthorization(deps, session, typed)
    if (found === null) {
      const error =
        normalizeUserCode(typed) === null
          ? 'That is not a device code: it has eight letters, like BCDF-GHJK.'
          : 'No device is waiting with that code. Check it, or start again on the device (codes last 10 minutes).'
      return renderPage(c, DeviceCodePage({ viewer, userCode: typed, error }), STATUS_OF.NOT_FOUND)
    }
    // Renewing a lease's sign-in needs a newer sign-in than the lease's own: go and get one first.
    if (found.purpose === 'renew') {
      const lease = found.leaseId === null ? null : await deps.store.getLease(found.leaseId)
      if (lease !== null && !isNewerSignIn(session.auth.authTime, lease.auth.authTime)) {
        return c.redirect(signInAgainUrl(session, returnTo), 303)
      }
    }
    // Step up before showing Approve, as the "new device" page does: a demand the person can meet now.
    const now = deps.clock.now()
    const decision = evaluatePolicy(deps.policy(), { subject: subjectOf(session) }, now)
    if (!decision.allow) {
      const advice = adviseOnDenial(deps.policy(), session, decision, now, returnTo)
      if (advice.next.kind === 'step-up') return c.redirect(advice.next.href, 303)
    }
    return renderPage(
      c,
      DeviceApprovalPage({
        viewer,
        request: {
          id: found.id,
          userCode: formatUserCode(found.userCode),
          deviceName: found.deviceName,
          clientAddress: found.clientAddress,
          requestedAt: new Date(found.createdAt).toISOString(),
          purpose: found.purpose,
        },
      }),
    )
  })

  routes.post('/device/:id/approve', async (c) => {
    const session = c.get('session')
    if (session === null) return c.redirect('/?returnTo=%2Fdevice', 303)
    const deps = deviceDeps(app)
    try {
      const { authorization } = await approveDevice(deps, session, c.req.param('id'))
      return renderPage(
        c,
        DeviceDonePage({
          viewer: viewerOf(session, deps),
          approved: true,
          deviceName: authorization.deviceName,
        }),
      )
    } catch (error) {
      return errorPage(c, app, session, error, 'Could not approve the device')
    }
  })

  routes.post('/device/:id/refuse', async (c) => {
    const session = c.get('session')
    if (session === null) return c.redirect('/?returnTo=%2Fdevice', 303)
    const deps = deviceDeps(app)
    try {
      const authorization = await refuseDevice(deps, session, c.req.param('id'))
      return renderPage(
        c,
        DeviceDonePage({
          viewer: viewerOf(session, deps),
          approved: false,
          deviceName: authorization.deviceName,
        }),
      )
    } catch (error) {
      return errorPage(c, app, session, error, 'Could not refuse the device')
    }
  })

  return routes
}

function errorPage(
  c: DeviceContext,
  app: DeviceApprovalRouteDeps,
  session: SessionContext,
  error: unknown,
  title: string,
) {
  if (!isKeygateError(error)) throw error
  const deps = app.broker
  const refusal = error as KeygateError
  // A policy refusal gets the portal's advice (step up, sign in again), never a step ending in it again.
  const now = deps.clock.now()
  const decision = evaluatePolicy(deps.policy(), { subject: subjectOf(session) }, now)
  const isRefusal = ['POLICY_DENIED', 'MFA_REQUIRED', 'STEP_UP_REQUIRED', 'AUTH_TOO_OLD'].includes(
    refusal.code,
  )
  const advice =
    decision.allow || !isRefusal ? null : adviseOnDenial(deps.policy(), session, decision, now, '/device')
  const next = advice === null || advice.next.kind === 'ask-admin' ? null : advice.next
  return renderPage(
    c,
    ErrorPage({
      viewer: viewerOf(session, deps),
      title,
      message: refusal.message,
      code: refusal.code,
      reasons: refusal.reasons ?? [],
      ...(next === null ? {} : { back: next }),
    }),
    STATUS_OF[refusal.code],
  )
}
