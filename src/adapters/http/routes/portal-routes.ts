/**
 * The portal's pages, server-rendered with Hono's JSX: sign-in, my access (with renew and revoke as
 * same-origin form posts), new device, the denial page, the admin console, and the bundled static
 * assets. Every state change is a POST checked by the app's Origin-based CSRF guard; nothing secret is
 * ever put in a URL (the only query values are filters, lease ids and return paths).
 */

import { type Context, Hono } from 'hono'
import { checkAdminAccess } from '../../../core/broker/admin-access.ts'
import type { BrokerDeps, SessionContext } from '../../../core/broker/broker-deps.ts'
import { removeGateway } from '../../../core/broker/gateway-feed.ts'
import { describeGateways } from '../../../core/broker/gateway-health.ts'
import { gatewayCoverage, subjectOf } from '../../../core/broker/issue-lease.ts'
import {
  listOwnLeases,
  renewOwnLease,
  revokeLeaseAsAdmin,
  revokeOwnLease,
} from '../../../core/broker/manage-leases.ts'
import { isKeygateError, KeygateError } from '../../../core/errors.ts'
import { type Lease, leaseState } from '../../../core/model.ts'
import { evaluatePolicy } from '../../../core/policy/index.ts'
import type { AppDeps, AppEnv } from '../app-env.ts'
import { STATUS_OF } from '../errors.ts'
import { AccessPage, type LeaseCardView } from '../pages/access-page.tsx'
import { AdminAuditPage, type AdminAuditPageProps } from '../pages/admin-audit-page.tsx'
import { type AdminLeaseRow, AdminLeasesPage } from '../pages/admin-leases-page.tsx'
import { AdminOverviewPage, type GatewayRow } from '../pages/admin-overview-page.tsx'
import { AdminRemoveGatewayPage } from '../pages/admin-remove-gateway-page.tsx'
import { ConfirmPage } from '../pages/confirm-page.tsx'
import { DenialPage } from '../pages/denial-page.tsx'
import { DevicePage } from '../pages/device-page.tsx'
import { ErrorPage } from '../pages/error-page.tsx'
import { renderPage } from '../pages/layout.tsx'
import {
  adviseOnDenial,
  type DenialAdvice,
  needsFreshSignIn,
  signInAgainUrl,
  viewerOf,
} from '../pages/page-context.ts'
import { SignInPage } from '../pages/sign-in-page.tsx'
import { safeReturnTo } from '../return-to.ts'
import { findAsset } from '../static/static-assets.ts'

const ADMIN_PAGE_LIMIT = 200
const AUDIT_PAGE_SIZE = 50

type PortalContext = Context<AppEnv>

const NOTICES: Record<string, { kind: 'ok' | 'warn'; text: string }> = {
  renewed: { kind: 'ok', text: 'Renewed. The device keeps its key and address; only the expiry moved.' },
  revoked: { kind: 'ok', text: 'Revoked. The gateways drop the device now.' },
  already_ended: { kind: 'ok', text: 'That device’s access had already ended; nothing else to do.' },
  stepped_up: { kind: 'ok', text: 'Second factor confirmed.' },
}

export type PortalRouteDeps = Pick<AppDeps, 'broker' | 'config' | 'policyStatus'>

export function portalRoutes(deps: PortalRouteDeps) {
  const { broker } = deps
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
    if (session === null) return signInPage(c, broker)
    return accessPage(c, broker, session)
  })

  // Revoking asks first (a page, so it works without script), then redirects after the POST so a reload
  // repeats nothing; a lease that had already ended is a success that says so.
  routes.post('/leases/:id/revoke', async (c) => {
    const session = c.get('session')
    if (session === null) return c.redirect('/', 303)
    const id = c.req.param('id')
    const confirmed = (await c.req.parseBody()).confirm === 'yes'
    if (!confirmed) {
      const lease = await broker.store.getLease(id)
      if (lease !== null && lease.identityId === session.identityId) {
        return confirmRevoke(c, broker, session, lease, c.req.path, {
          href: `/#lease-${id}`,
          label: 'Keep it',
        })
      }
    }
    let alreadyEnded: boolean
    try {
      alreadyEnded = (await revokeOwnLease(broker, session, id)).alreadyEnded
    } catch (error) {
      return errorPage(c, broker, session, error, 'Could not revoke')
    }
    return c.redirect(
      `/?notice=${alreadyEnded ? 'already_ended' : 'revoked'}#lease-${encodeURIComponent(id)}`,
      303,
    )
  })

  // Renewal never drops the tunnel: same key, same address, only a later expiry. When the sign-in is too old
  // (or lacks a factor) the user is sent to fix that first and comes back to a page offering the renewal.
  routes.post('/leases/:id/renew', async (c) => {
    const session = c.get('session')
    if (session === null) return c.redirect('/', 303)
    const id = c.req.param('id')
    const returnTo = renewReturnTo(id)
    const lease = await broker.store.getLease(id)
    if (
      lease !== null &&
      lease.identityId === session.identityId &&
      renewalNeedsSignIn(broker, session, lease)
    ) {
      return continuePage(c, broker, session, signInAgainUrl(session, returnTo))
    }
    try {
      await renewOwnLease(broker, session, id)
    } catch (error) {
      if (isKeygateError(error) && REFUSAL_CODES.has(error.code) && lease !== null) {
        const now = broker.clock.now()
        const gateways = lease.grants.map((g) => g.gateway)
        const decision = evaluatePolicy(broker.policy(), { subject: subjectOf(session), gateways }, now)
        if (!decision.allow) {
          const advice = adviseOnDenial(broker.policy(), session, decision, now, returnTo, gateways)
          if (advice.next.kind !== 'ask-admin')
            return continuePage(c, broker, session, advice.next.href, advice.next.label)
          return denialPage(c, broker, session, advice)
        }
      }
      return errorPage(c, broker, session, error, 'Could not renew')
    }
    return c.redirect(`/?notice=renewed&lease=${encodeURIComponent(id)}#lease-${encodeURIComponent(id)}`, 303)
  })

  routes.get('/devices/new', async (c) => {
    const session = c.get('session')
    if (session === null) return c.redirect('/?returnTo=%2Fdevices%2Fnew', 303)
    const policy = broker.policy()
    const now = broker.clock.now()
    const decision = evaluatePolicy(policy, { subject: subjectOf(session) }, now)
    if (!decision.allow) {
      const advice = adviseOnDenial(policy, session, decision, now, '/devices/new')
      // A step-up the user can take right away is not a denial: go there instead of showing one.
      if (advice.next.kind === 'step-up') return c.redirect(advice.next.href, 303)
      return denialPage(c, broker, session, advice)
    }
    // Issuance refuses a lease no granted gateway can carry (NO_GATEWAY_ENROLLED): say so before the form.
    const coverage = await gatewayCoverage(broker, decision.grants)
    return renderPage(
      c,
      DevicePage({
        viewer: viewerOf(session, broker),
        gateways: coverage.enrolled,
        missing: coverage.missing,
        brokerUrl: deps.config.url,
      }),
      coverage.enrolled.length === 0 ? STATUS_OF.NO_GATEWAY_ENROLLED : 200,
    )
  })

  routes.get('/denied', async (c) => {
    const session = c.get('session')
    if (session === null) return c.redirect('/', 303)
    const now = broker.clock.now()
    const decision = evaluatePolicy(broker.policy(), { subject: subjectOf(session) }, now)
    if (decision.allow) return c.redirect('/', 303)
    return denialPage(
      c,
      broker,
      session,
      adviseOnDenial(broker.policy(), session, decision, now, '/devices/new'),
    )
  })

  // ---- admin console: the same admin check as /api/v1/admin, on every request.
  routes.use('/admin', adminOnly(broker))
  routes.use('/admin/*', adminOnly(broker))

  routes.get('/admin', async (c) => {
    const session = c.get('session') as SessionContext
    const gateways: GatewayRow[] = await describeGateways(broker)
    const removed = c.req.query('removed')
    return renderPage(
      c,
      AdminOverviewPage({
        viewer: viewerOf(session, broker),
        policy: deps.policyStatus(),
        gateways: gateways,
        brokerUrl: deps.config.url,
        notice:
          removed === undefined
            ? null
            : `Gateway ${removed} removed: its credential is revoked and its feed emptied.`,
      }),
    )
  })

  // Removing a gateway asks first, on a page of its own (works without script; a stray click costs nothing).
  routes.get('/admin/gateways/:name/remove', async (c) => {
    const session = c.get('session') as SessionContext
    const name = c.req.param('name')
    const policy = broker.policy()
    const gateway = (await describeGateways(broker)).find((g) => g.name === name)
    const stored = gateway ?? (await broker.store.listGateways()).find((g) => g.name === name)
    if (stored === undefined) {
      return errorPage(
        c,
        broker,
        session,
        new KeygateError('GATEWAY_UNKNOWN', `No gateway named "${name}"`),
        'No such gateway',
        {
          href: '/admin',
          label: 'Back to the admin console',
        },
      )
    }
    return renderPage(
      c,
      AdminRemoveGatewayPage({
        viewer: viewerOf(session, broker),
        name,
        endpoint: gateway?.endpoint ?? 'no longer in the policy',
        lastSeenAt: stored.lastSeenAt ?? null,
        peerCount: stored.peerCount ?? null,
        inPolicy: policy.gateways.has(name),
      }),
    )
  })

  routes.post('/admin/gateways/:name/remove', async (c) => {
    const session = c.get('session') as SessionContext
    const name = c.req.param('name')
    try {
      await removeGateway(broker, name, session.email ?? session.subject)
    } catch (error) {
      return errorPage(c, broker, session, error, 'Could not remove the gateway', {
        href: '/admin',
        label: 'Back to the admin console',
      })
    }
    return c.redirect(`/admin?removed=${encodeURIComponent(name)}`, 303)
  })

  routes.get('/admin/leases', async (c) => {
    const session = c.get('session') as SessionContext
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
    const names = await identityNames(broker, leases)
    const needle = filter.user.toLowerCase()
    const matching = leases
      .map((lease) => adminRow(lease, names.get(lease.identityId) ?? lease.identityId, now))
      .filter((row) => needle === '' || row.user.toLowerCase().includes(needle))
      .sort((a, b) => b.createdAt - a.createdAt)
    const notice =
      c.req.query('notice') === 'revoked'
        ? 'Lease revoked; the gateways drop it now.'
        : c.req.query('notice') === 'already_ended'
          ? 'That lease had already ended; nothing changed.'
          : null
    return renderPage(
      c,
      AdminLeasesPage({
        viewer: viewerOf(session, broker),
        rows: matching.slice(0, ADMIN_PAGE_LIMIT),
        truncated: matching.length > ADMIN_PAGE_LIMIT,
        filter: filter,
        gatewayNames: [...policy.gateways.keys()],
        notice: notice,
        now: now,
      }),
    )
  })

  routes.post('/admin/leases/:id/revoke', async (c) => {
    const session = c.get('session') as SessionContext
    const url = new URL(c.req.url)
    const query = url.searchParams
    query.delete('notice')
    const back = `/admin/leases${query.size === 0 ? '' : `?${query.toString()}`}`
    if ((await c.req.parseBody()).confirm !== 'yes') {
      const lease = await broker.store.getLease(c.req.param('id'))
      if (lease !== null) {
        return confirmRevoke(c, broker, session, lease, `${url.pathname}${url.search}`, {
          href: back,
          label: 'Back to leases',
        })
      }
    }
    let alreadyEnded: boolean
    try {
      const outcome = await revokeLeaseAsAdmin(broker, session.email ?? session.subject, c.req.param('id'))
      alreadyEnded = outcome.alreadyEnded
    } catch (error) {
      return errorPage(c, broker, session, error, 'Could not revoke', { href: back, label: 'Back to leases' })
    }
    query.set('notice', alreadyEnded ? 'already_ended' : 'revoked')
    return c.redirect(`/admin/leases?${query.toString()}`, 303)
  })

  routes.get('/admin/audit', async (c) => {
    const session = c.get('session') as SessionContext
    const filter = {
      type: (c.req.query('type') ?? '').trim(),
      // `identity=` is what older links carry.
      who: (c.req.query('who') ?? c.req.query('identity') ?? '').trim(),
    }
    // A person is an email (events about them or by them), else an identity id.
    const person: { email?: string; identityId?: string } =
      filter.who === '' ? {} : filter.who.includes('@') ? { email: filter.who } : { identityId: filter.who }
    const before = c.req.query('before')
    const events = await broker.store.listAudit({
      ...(filter.type === '' ? {} : { typePrefix: filter.type }),
      ...person,
      ...(before ? { before } : {}),
      limit: AUDIT_PAGE_SIZE,
    })
    const exportQuery = new URLSearchParams({ format: 'jsonl', limit: '1000' })
    if (filter.type !== '') exportQuery.set('typePrefix', filter.type)
    if (person.email !== undefined) exportQuery.set('email', person.email)
    if (person.identityId !== undefined) exportQuery.set('identity', person.identityId)
    const props: AdminAuditPageProps = {
      viewer: viewerOf(session, broker),
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

/** Middleware answering with the page itself: renderPage may give a Promise, which `c.res` cannot hold. */
const adminOnly = (broker: BrokerDeps) => async (c: PortalContext, next: () => Promise<void>) => {
  const session = c.get('session')
  if (session === null) return c.redirect(`/?returnTo=${encodeURIComponent(c.req.path)}`, 303)
  const policy = broker.policy()
  const refusal = checkAdminAccess(policy, session)
  if (refusal !== null) {
    return renderPage(
      c,
      ErrorPage({
        viewer: viewerOf(session, broker),
        title: refusal.code === 'FORBIDDEN' ? 'Admins only' : 'Admins sign in with MFA',
        message:
          refusal.code === 'FORBIDDEN'
            ? 'Only the administrators the access policy names may open the admin console.'
            : 'The admin console needs a sign-in with multi-factor authentication at your identity provider.',
        code: refusal.code,
      }),
      STATUS_OF[refusal.code],
    )
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
function continuePage(
  c: PortalContext,
  broker: BrokerDeps,
  session: SessionContext,
  href: string,
  label = 'Sign in again',
) {
  if (!href.startsWith('/auth/')) return c.redirect(href, 303)
  return renderPage(
    c,
    ErrorPage({
      viewer: viewerOf(session, broker),
      title: 'Sign in again first',
      message: 'Renewing needs a recent sign-in at your identity provider. Sign in again, then renew.',
      code: 'AUTH_TOO_OLD',
      back: { href, label },
    }),
    STATUS_OF.AUTH_TOO_OLD,
  )
}

/** Worth re-authenticating before a renewal: the sign-in is not fresh and renewing now would barely move
 *  the expiry (the policy's maxAuthAge counts from the sign-in, not from the renewal). */
const RENEWAL_MIN_GAIN_MS = 5 * 60_000

function renewalNeedsSignIn(broker: BrokerDeps, session: SessionContext, lease: Lease): boolean {
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

function signInPage(c: PortalContext, broker: BrokerDeps) {
  const idps = [...broker.idps.values()].map((idp) => ({ id: idp.id, displayName: idp.displayName }))
  return renderPage(c, SignInPage({ idps: idps, returnTo: safeReturnTo(c.req.query('returnTo')) }))
}

async function accessPage(c: PortalContext, broker: BrokerDeps, session: SessionContext) {
  const policy = broker.policy()
  const now = broker.clock.now()
  const leases = await listOwnLeases(broker, session)
  const decision = evaluatePolicy(policy, { subject: subjectOf(session) }, now)
  const revokers = await revokersOf(broker, session, leases, now)
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
      revokedAt: lease.revokedAt,
      revokedReason: lease.revokedReason,
      revokedBy: revokers.get(lease.id) ?? null,
      stepUp: lease.auth.stepUp,
      renewSignInUrl:
        leaseState(lease, now) === 'active' && renewalNeedsSignIn(broker, session, lease)
          ? signInAgainUrl(session, renewReturnTo(lease.id))
          : null,
    }))
    .sort((a, b) => (a.state === b.state ? b.createdAt - a.createdAt : a.state === 'active' ? -1 : 1))
  const renewId = c.req.query('renew') ?? null
  const noticeKey = c.req.query('notice')
  const base = noticeKey === undefined ? null : (NOTICES[noticeKey] ?? null)
  // A renewal says the new expiry, of the lease it renewed.
  const renewed = noticeKey === 'renewed' ? leases.find((l) => l.id === c.req.query('lease')) : undefined
  const notice = base === null ? null : renewed === undefined ? base : { ...base, endsAt: renewed.expiresAt }
  return renderPage(
    c,
    AccessPage({
      viewer: viewerOf(session, broker),
      leases: cards,
      now: now,
      notice: notice,
      renewId: renewId,
      access: decision.allow
        ? { allow: true, gateways: decision.grants.map((g) => g.gateway), expiresAt: decision.expiresAt }
        : { allow: false, advice: adviseOnDenial(policy, session, decision, now, '/') },
    }),
  )
}

/**
 * Who revoked each of these leases, as their owner reads it: "you", or "an administrator (their email)"
 * from the audit log. Only the revoked leases the page shows are looked up.
 */
async function revokersOf(
  broker: BrokerDeps,
  session: SessionContext,
  leases: Lease[],
  now: number,
): Promise<Map<string, string>> {
  const revoked = new Set(leases.filter((l) => leaseState(l, now) === 'revoked').map((l) => l.id))
  if (revoked.size === 0) return new Map()
  const events = await broker.store.listAudit({
    identityId: session.identityId,
    type: 'lease.revoked',
    limit: 200,
  })
  const by = new Map<string, string>()
  for (const event of events) {
    if (event.leaseId === null || !revoked.has(event.leaseId) || by.has(event.leaseId)) continue
    const reason = typeof event.data.reason === 'string' ? event.data.reason : ''
    if (reason === 'revoked by its owner') by.set(event.leaseId, 'you')
    else if (reason === 'revoked by an administrator') {
      by.set(event.leaseId, event.actor === null ? 'an administrator' : `an administrator (${event.actor})`)
    }
  }
  return by
}

function denialPage(c: PortalContext, broker: BrokerDeps, session: SessionContext, advice: DenialAdvice) {
  return renderPage(
    c,
    DenialPage({
      viewer: viewerOf(session, broker),
      advice,
      identity: { idp: session.idpId, email: session.email, subject: session.subject },
    }),
    STATUS_OF[advice.code],
  )
}

/** The refusals a policy decision makes (issue-lease.ts's denialError): shown as a denial, with advice. */
const REFUSAL_CODES = new Set(['POLICY_DENIED', 'MFA_REQUIRED', 'STEP_UP_REQUIRED', 'AUTH_TOO_OLD'])

function errorPage(
  c: PortalContext,
  broker: BrokerDeps,
  session: SessionContext,
  error: unknown,
  title: string,
  back?: { href: string; label: string },
) {
  if (!isKeygateError(error)) throw error
  const policy = broker.policy()
  if (REFUSAL_CODES.has(error.code)) {
    const now = broker.clock.now()
    const decision = evaluatePolicy(policy, { subject: subjectOf(session) }, now)
    // Allowed again by now (a policy reload in between): the error page below says what happened.
    if (!decision.allow)
      return denialPage(c, broker, session, adviseOnDenial(policy, session, decision, now, '/'))
  }
  return renderPage(
    c,
    ErrorPage({
      viewer: viewerOf(session, broker),
      title: title,
      message: error.message,
      code: error.code,
      reasons: error.reasons ?? [],
      ...(back === undefined ? {} : { back }),
    }),
    STATUS_OF[error.code],
  )
}

function confirmRevoke(
  c: PortalContext,
  broker: BrokerDeps,
  session: SessionContext,
  lease: Lease,
  action: string,
  cancel: { href: string; label: string },
) {
  const name = lease.name ?? 'Unnamed device'
  const active = leaseState(lease, broker.clock.now()) === 'active'
  return renderPage(
    c,
    ConfirmPage({
      viewer: viewerOf(session, broker),
      title: `Revoke “${name}”?`,
      message: active
        ? `The gateways drop “${name}” (${lease.addressV4}) at once and its configuration stops working. This cannot be undone; the device needs a new configuration to connect again.`
        : `“${name}” has already ended; revoking it changes nothing.`,
      action,
      confirmLabel: `Revoke “${name}”`,
      cancel,
    }),
  )
}

async function identityNames(broker: BrokerDeps, leases: Lease[]): Promise<Map<string, string>> {
  const { store } = broker
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
    revokedAt: lease.revokedAt,
    revokedReason: lease.revokedReason,
    verdict: lease.auth.verdict,
    stepUp: lease.auth.stepUp,
  }
}
