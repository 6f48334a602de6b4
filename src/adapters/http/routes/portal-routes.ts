/**
 * The portal's pages. Until the full portal lands this serves the sign-in page: one button per
 * configured IdP, and the signed-in user's identity and decision.
 */
import { Hono } from 'hono'
import { html } from 'hono/html'
import type { AppEnv } from '../app.ts'

export function portalRoutes() {
  const routes = new Hono<AppEnv>()
  routes.get('/', (c) => {
    const { broker } = c.get('deps')
    const session = c.get('session')
    const idps = [...broker.idps.values()]
    return c.html(html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Keygate</title></head>
<body><main>
<h1>Keygate</h1>
${
  session === null
    ? html`<p>Sign in to get a WireGuard configuration.</p>
<ul>${idps.map((idp) => html`<li><a href="/auth/${idp.id}/login">Sign in with ${idp.displayName}</a></li>`)}</ul>`
    : html`<p>Signed in as ${session.email ?? session.subject} (${session.idpId}).</p>
<p>Your access: <a href="/api/v1/me">/api/v1/me</a>. Your leases: <a href="/api/v1/peers">/api/v1/peers</a>.</p>
<form method="post" action="/auth/logout"><button type="submit">Sign out</button></form>`
}
</main></body></html>`)
  })
  return routes
}
