/**
 * The portal's pages, server-rendered with Hono's JSX: sign-in, my access (with renew and revoke as
 * same-origin form posts), new device, the denial page, the admin console, and the bundled static
 * assets. Every state change is a POST checked by the app's Origin-based CSRF guard; nothing secret is
 * ever put in a URL (the only query values are filters, lease ids and return paths).
 */

import { type Context, Hono } from 'hono'
import { checkAdminAccess } from '../../../core/broker/admin-access.ts'
import type { SessionContext } from '../../../core/broker/broker-deps.ts'
import { describeGateways } from '../../../core/broker/gateway-health.ts'
import { subjectOf } from '../../../core/broker/issue-lease.ts'
import {
  listOwnLeases,
  renewOwnLease,
  revokeLeaseAsAdmin,
  revokeOwnLease,
} from '../../../core/broker/manage-leases.ts'
import { isKeygateError, KeygateError } from '../../../core/errors.ts'
import { type Lease, leaseState } from '../../../core/model.ts'
import { evaluatePolicy } from '../../../core/policy/index.ts'
import type { AppEnv } from '../app.ts'
import { STATUS_OF } from '../errors.ts'
import { AccessPage, type LeaseCardView } from '../pages/access-page.tsx'
import { AdminAuditPage, type AdminAuditPageProps } from '../pages/admin-audit-page.tsx'
import { type AdminLeaseRow, AdminLeasesPage } from '../pages/admin-leases-page.tsx'
import { AdminOverviewPage, type GatewayRow, type PolicyStatusView } from '../pages/admin-overview-page.tsx'
import { DenialPage } from '../pages/denial-page.tsx'
import { DevicePage } from '../pages/device-page.tsx'
import { ErrorPage } from '../pages/error-page.tsx'
import { renderPage } from '../pages/layout.tsx'
import { needsFreshSignIn, nextStepFor, signInAgainUrl, viewerOf } from '../pages/page-context.ts'
import { SignInPage } from '../pages/sign-in-page.tsx'
import { findAsset } from '../static/static-assets.ts'
import { safeReturnTo } from './auth-routes.ts'

const ADMIN_PAGE_LIMIT = 200
const AUDIT_PAGE_SIZE = 50

type PortalContext = Context<AppEnv>

const NOTICES: Record<string, { kind: 'ok' | 'warn'; text: string }> = {
  renewed: { kind: 'ok', text: 'Renewed. The device keeps its key and address; only the expiry moved.' },
  revoked: { kind: 'ok', text: 'Revoked. The gateways drop the device now.' },
  stepped_up: { kind: 'ok', text: 'Second factor confirmed.' },
}

export function portalRoutes() {
  const routes = new Hono<AppEnv>()

  routes.get('/static/:file', (c) => {
    const found = findAsset(c.req.param('file'))
    if (found === null) throw new KeygateError('NOT_FOUND', 'No such static file')
    c.header('Content-Type', found.asset.type)
    c.header('Cache-Control', found.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    c.header('X-Content-Type-Options', 'nosniff')
    return c.body(found.asset.body)
  })

  routes.get('/', async (c) => {
    const session = c.get('session')
    if (session === null) return signInPage(c)
    return accessPage(c, session)
  })

  routes.post('/leases/:id/revoke', async (c) => {
    const session = c.get('session')
    if (session === null) return c.redirect('/', 303)
    const { broker } = c.get('deps')
    try {
      await revokeOwnLease(broker, session, c.req.param('id'))
    } catch (error) {
      return errorPage(c, session, error, 'Could not revoke')
    }
    return c.redirect('/?notice=revoked', 303)
  })

  // Renewal never drops the tunnel: same key, same address, only a later expiry. When the sign-in is too old
  // (or lacks a factor) the user is sent to fix that first and comes back to a page offering the renewal.
  routes.post('/leases/:id/renew', async (c) => {
    const session = c.get('session')
    if (session === null) return c.redirect('/', 303)
    const { broker } = c.get('deps')
    const id = c.req.param('id')
    const returnTo = renewReturnTo(id)
    const lease = await broker.store.getLease(id)
    if (lease !== null && lease.identityId === session.identityId && renewalNeedsSignIn(c, session, lease)) {
      return continuePage(c, session, signInAgainUrl(session, returnTo))
    }
    try {
      await renewOwnLease(broker, session, id)
    } catch (error) {
      if (
        isKeygateError(error) &&
        ['STEP_UP_REQUIRED', 'MFA_REQUIRED', 'AUTH_TOO_OLD'].includes(error.code)
      ) {
        const stepUp = (error.details?.stepUp ?? null) as Parameters<typeof nextStepFor>[1]['stepUp']
        const next = nextStepFor(
          session,
          { code: error.code, stepUp, reasons: error.reasons ?? [] },
          broker.clock.now(),
          returnTo,
        )
        if (next !== null) return continuePage(c, session, next.href, next.label)
      }
      return errorPage(c, session, error, 'Could not renew')
    }
    return c.redirect(`/?notice=renewed#lease-${encodeURIComponent(id)}`, 303)
  })

  routes.get('/devices/new', async (c) => {
    const session = c.get('session')
    if (session === null) return c.redirect('/?returnTo=%2Fdevices%2Fnew', 303)
    const { broker } = c.get('deps')
    const policy = broker.policy()
    const now = broker.clock.now()
    const decision = evaluatePolicy(policy, { subject: subjectOf(session) }, now)
    if (!decision.allow) {
      const next = nextStepFor(session, decision, now, '/devices/new')
      // A step-up the user can take right away is not a denial: go there instead of showing one.
      if (next !== null && decision.stepUp !== null) return c.redirect(next.href, 303)
      return denialPage(c, session, decision.code, decision.reasons, next)
    }
    return renderPage(
      c,
      DevicePage({ viewer: viewerOf(session, policy), gateways: decision.grants.map((g) => g.gateway) }),
    )
  })

  routes.get('/denied', async (c) => {
    const session = c.get('session')
    if (session === null) return c.redirect('/', 303)
    const { broker } = c.get('deps')
    const now = broker.clock.now()
    const decision = evaluatePolicy(broker.policy(), { subject: subjectOf(session) }, now)
    if (decision.allow) return c.redirect('/', 303)
    return denialPage(
      c,
      session,
      decision.code,
      decision.reasons,
      nextStepFor(session, decision, now, '/devices/new'),
    )
  })

  // ---- admin console: the same admin check as /api/v1/admin, on every request.
  routes.use('/admin', adminOnly)
  routes.use('/admin/*', adminOnly)

  routes.get('/admin', async (c) => {
    const session = c.get('session') as SessionContext
    const deps = c.get('deps')
    const { broker } = deps
    const policy = broker.policy()
    const gateways: GatewayRow[] = await describeGateways(broker)
    const readiness = await deps.readiness().catch(() => null)
    return renderPage(
      c,
      AdminOverviewPage({
        viewer: viewerOf(session, policy),
        policy: policyStatus(policy, readiness?.checks.policy?.detail),
        gateways: gateways,
      }),
    )
  })

  routes.get('/admin/leases', async (c) => {
    const session = c.get('session') as SessionContext
    const { broker } = c.get('deps')
    const policy = broker.policy()
    const now = broker.clock.now()
    const filter = {
      user: (c.req.query('user') ?? '').trim(),
      gateway: c.req.query('gateway') ?? '',
      state: c.req.query('state') ?? '',
    }
    const state = filter.state === 'active' || filter.state === 'ended' ? filter.state : undefined
    const leases = await broker.store.listLeases(
      {
        ...(filter.gateway === '' ? {} : { gateway: filter.gateway }),
        ...(state === undefined ? {} : { state }),
      },
      now,
    )
    const names = await identityNames(c, leases)
    const needle = filter.user.toLowerCase()
    const matching = leases
      .map((lease) => adminRow(lease, names.get(lease.identityId) ?? lease.identityId, now))
      .filter((row) => needle === '' || row.user.toLowerCase().includes(needle))
      .sort((a, b) => b.createdAt - a.createdAt)
    const notice = c.req.query('notice') === 'revoked' ? 'Lease revoked; the gateways drop it now.' : null
    return renderPage(
      c,
      AdminLeasesPage({
        viewer: viewerOf(session, policy),
        rows: matching.slice(0, ADMIN_PAGE_LIMIT),
        truncated: matching.length > ADMIN_PAGE_LIMIT,
        filter: filter,
        gatewayNames: [...policy.gateways.keys()],
        notice: notice,
      }),
    )
  })

  routes.post('/admin/leases/:id/revoke', async (c) => {
    const session = c.get('session') as SessionContext
    const { broker } = c.get('deps')
    try {
      await revokeLeaseAsAdmin(broker, session.email ?? session.subject, c.req.param('id'))
    } catch (error) {
      return errorPage(c, session, error, 'Could not revoke', {
        href: '/admin/leases',
        label: 'Back to leases',
      })
    }
    const query = new URL(c.req.url).searchParams
    query.set('notice', 'revoked')
    return c.redirect(`/admin/leases?${query.toString()}`, 303)
  })

  routes.get('/admin/audit', async (c) => {
    const session = c.get('session') as SessionContext
    const { broker } = c.get('deps')
    const filter = {
      type: (c.req.query('type') ?? '').trim(),
      identity: (c.req.query('identity') ?? '').trim(),
    }
    const before = c.req.query('before')
    const events = await broker.store.listAudit({
      ...(filter.type === '' ? {} : { type: filter.type }),
      ...(filter.identity === '' ? {} : { identityId: filter.identity }),
      ...(before ? { before } : {}),
      limit: AUDIT_PAGE_SIZE,
    })
    const exportQuery = new URLSearchParams({ format: 'jsonl', limit: '1000' })
    if (filter.type !== '') exportQuery.set('type', filter.type)
    if (filter.identity !== '') exportQuery.set('identity', filter.identity)
    const props: AdminAuditPageProps = {
      viewer: viewerOf(session, broker.policy()),
      events,
      filter,
      next: events.length === AUDIT_PAGE_SIZE ? (events.at(-1)?.id ?? null) : null,
      exportUrl: `/api/v1/admin/audit?${exportQuery.toString()}`,
      pageSize: AUDIT_PAGE_SIZE,
    }
    return renderPage(c, AdminAuditPage({ ...props }))
  })

  return routes
}

async function adminOnly(c: PortalContext, next: () => Promise<void>) {
  const session = c.get('session')
  if (session === null) {
    c.res = c.redirect(`/?returnTo=${encodeURIComponent(c.req.path)}`, 303)
    return
  }
  const policy = c.get('deps').broker.policy()
  const refusal = checkAdminAccess(policy, session)
  if (refusal !== null) {
    c.res = renderPage(
      c,
      ErrorPage({
        viewer: viewerOf(session, policy),
        title: refusal.code === 'FORBIDDEN' ? 'Admins only' : 'Admins sign in with MFA',
        message:
          refusal.code === 'FORBIDDEN'
            ? 'Only the administrators the access policy names may open the admin console.'
            : 'The admin console needs a sign-in with multi-factor authentication: sign in again with MFA, or use your second factor.',
        code: refusal.code,
      }),
      403,
    ) as Response
    return
  }
  await next()
}

function renewReturnTo(leaseId: string): string {
  return `/?renew=${encodeURIComponent(leaseId)}#lease-${encodeURIComponent(leaseId)}`
}

/**
 * After a form post, the next step may be the IdP. A redirect there would be blocked by the CSP's
 * form-action 'self' (browsers apply it to the redirects of a form submission), so a cross-origin step
 * is offered as a link; same-origin steps are plain redirects.
 */
function continuePage(c: PortalContext, session: SessionContext, href: string, label = 'Sign in again') {
  if (!href.startsWith('/auth/')) return c.redirect(href, 303)
  return renderPage(
    c,
    ErrorPage({
      viewer: viewerOf(session, c.get('deps').broker.policy()),
      title: 'Sign in again first',
      message: 'Renewing needs a recent sign-in at your identity provider. Sign in again, then renew.',
      code: 'AUTH_TOO_OLD',
      back: { href, label },
    }),
    401,
  )
}

/** Worth re-authenticating before a renewal: the sign-in is not fresh and renewing now would barely move
 *  the expiry (the policy's maxAuthAge counts from the sign-in, not from the renewal). */
const RENEWAL_MIN_GAIN_MS = 5 * 60_000

function renewalNeedsSignIn(c: PortalContext, session: SessionContext, lease: Lease): boolean {
  const { broker } = c.get('deps')
  const now = broker.clock.now()
  const decision = evaluatePolicy(
    broker.policy(),
    { subject: subjectOf(session), gateways: lease.grants.map((g) => g.gateway) },
    now,
  )
  if (!decision.allow) return needsFreshSignIn(session, decision.stepUp, decision.reasons, now)
  const authAgeMs =
    session.auth.authTime === null ? Number.POSITIVE_INFINITY : now - session.auth.authTime * 1000
  return decision.expiresAt - lease.expiresAt < RENEWAL_MIN_GAIN_MS && authAgeMs > RENEWAL_MIN_GAIN_MS
}

function signInPage(c: PortalContext) {
  const { broker } = c.get('deps')
  const idps = [...broker.idps.values()].map((idp) => ({ id: idp.id, displayName: idp.displayName }))
  return renderPage(c, SignInPage({ idps: idps, returnTo: safeReturnTo(c.req.query('returnTo')) }))
}

async function accessPage(c: PortalContext, session: SessionContext) {
  const { broker } = c.get('deps')
  const policy = broker.policy()
  const now = broker.clock.now()
  const leases = await listOwnLeases(broker, session)
  const decision = evaluatePolicy(policy, { subject: subjectOf(session) }, now)
  const cards: LeaseCardView[] = leases
    .map((lease) => ({
      id: lease.id,
      name: lease.name,
      publicKey: lease.publicKey,
      addresses: [lease.addressV4, ...(lease.addressV6 === null ? [] : [lease.addressV6])],
      gateways: lease.grants,
      state: leaseState(lease, now),
      createdAt: lease.createdAt,
      expiresAt: lease.expiresAt,
      revokedReason: lease.revokedReason,
      stepUp: lease.auth.stepUp,
      renewSignInUrl:
        leaseState(lease, now) === 'active' && renewalNeedsSignIn(c, session, lease)
          ? signInAgainUrl(session, renewReturnTo(lease.id))
          : null,
    }))
    .sort((a, b) => (a.state === b.state ? b.createdAt - a.createdAt : a.state === 'active' ? -1 : 1))
  const renewId = c.req.query('renew') ?? null
  const noticeKey = c.req.query('notice')
  return renderPage(
    c,
    AccessPage({
      viewer: viewerOf(session, policy),
      leases: cards,
      now: now,
      notice: noticeKey === undefined ? null : (NOTICES[noticeKey] ?? null),
      renewId: renewId,
      access: decision.allow
        ? { allow: true, gateways: decision.grants.map((g) => g.gateway), expiresAt: decision.expiresAt }
        : {
            allow: false,
            code: decision.code,
            reasons: decision.reasons,
            nextStep: nextStepFor(session, decision, now, '/')?.href ?? null,
          },
    }),
  )
}

function denialPage(
  c: PortalContext,
  session: SessionContext,
  code: string,
  reasons: Array<{ code: string; message: string }>,
  nextStep: { href: string; label: string } | null,
) {
  const policy = c.get('deps').broker.policy()
  return renderPage(
    c,
    DenialPage({
      viewer: viewerOf(session, policy),
      code: code,
      reasons: reasons,
      nextStep: nextStep,
      identity: { idp: session.idpId, email: session.email, subject: session.subject },
    }),
    403,
  )
}

function errorPage(
  c: PortalContext,
  session: SessionContext,
  error: unknown,
  title: string,
  back?: { href: string; label: string },
) {
  if (!isKeygateError(error)) throw error
  const policy = c.get('deps').broker.policy()
  if (error.code === 'POLICY_DENIED' || error.code === 'MFA_REQUIRED') {
    const decision = typeof error.details?.decision === 'string' ? error.details.decision : error.code
    return denialPage(c, session, decision, error.reasons ?? [], signInAgainForMfa(session, error.code))
  }
  const status = STATUS_OF[error.code] as 400 | 401 | 403 | 404 | 409 | 429 | 500
  return renderPage(
    c,
    ErrorPage({
      viewer: viewerOf(session, policy),
      title: title,
      message: error.message,
      code: error.code,
      reasons: error.reasons ?? [],
      ...(back === undefined ? {} : { back }),
    }),
    [400, 401, 403, 404, 409, 429, 500].includes(status) ? status : 500,
  )
}

function signInAgainForMfa(session: SessionContext, code: string) {
  return code === 'MFA_REQUIRED'
    ? { href: signInAgainUrl(session, '/'), label: 'Sign in again with MFA' }
    : null
}

async function identityNames(c: PortalContext, leases: Lease[]): Promise<Map<string, string>> {
  const { store } = c.get('deps').broker
  const ids = [...new Set(leases.map((l) => l.identityId))]
  const identities = await Promise.all(ids.map((id) => store.getIdentity(id)))
  return new Map(
    identities.flatMap((i) => (i === null ? [] : [[i.id, i.email ?? `${i.subject} (${i.idpId})`] as const])),
  )
}

function adminRow(lease: Lease, user: string, now: number): AdminLeaseRow {
  return {
    id: lease.id,
    user,
    identityId: lease.identityId,
    name: lease.name,
    addresses: [lease.addressV4, ...(lease.addressV6 === null ? [] : [lease.addressV6])],
    gateways: lease.grants,
    state: leaseState(lease, now),
    createdAt: lease.createdAt,
    expiresAt: lease.expiresAt,
    revokedReason: lease.revokedReason,
    verdict: lease.auth.verdict,
    stepUp: lease.auth.stepUp,
  }
}

/** The policy as the admin page shows it: the compiled policy, plus what the loader reports in /readyz. */
function policyStatus(policy: { hash: string; fileName: string }, detail: unknown): PolicyStatusView {
  const d = (typeof detail === 'object' && detail !== null ? detail : {}) as Record<string, unknown>
  const loadedAt =
    typeof d.loadedAt === 'string'
      ? Date.parse(d.loadedAt)
      : typeof d.loadedAt === 'number'
        ? d.loadedAt
        : null
  const tests = Array.isArray(d.tests)
    ? (d.tests as Array<Record<string, unknown>>).map((t) => ({
        id: String(t.id ?? ''),
        user: String(t.user ?? ''),
        passed: t.passed === true,
        diff: Array.isArray(t.diff) ? t.diff.map(String) : [],
      }))
    : null
  const extra: Array<[string, string]> = []
  if (Array.isArray(d.lastReloadErrors) && d.lastReloadErrors.length > 0) {
    extra.push(['Last reload failed', `${d.lastReloadErrors.length} error(s); the policy above stays live`])
  }
  if (typeof d.lastAttemptAt === 'string') extra.push(['Last reload attempt', d.lastAttemptAt])
  return {
    hash: policy.hash,
    fileName: policy.fileName,
    loadedAt: Number.isNaN(loadedAt) ? null : loadedAt,
    tests,
    extra,
  }
}
