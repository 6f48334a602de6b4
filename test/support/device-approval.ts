// Approving (or refusing) a terminal client's sign-in as a browser would, without a browser: open the
// verification URI with the session's cookies, read the form the approval page renders, and post it.
import type { CookieJar } from './login-driver.ts'
import { requestWithJar } from './login-driver.ts'

export async function openApprovalPage(origin: string, jar: CookieJar, userCode: string) {
  const response = await requestWithJar(`${origin}/device?user_code=${encodeURIComponent(userCode)}`, jar)
  const html = await response.text()
  const action = /action="(\/device\/[0-9a-f-]{36})\/approve"/.exec(html)?.[1] ?? null
  return { status: response.status, html, action }
}

export async function decideDevice(
  origin: string,
  jar: CookieJar,
  userCode: string,
  decision: 'approve' | 'refuse',
): Promise<Response> {
  const page = await openApprovalPage(origin, jar, userCode)
  if (page.action === null)
    throw new Error(`no approval form (HTTP ${page.status}): ${page.html.slice(0, 300)}`)
  return requestWithJar(`${origin}${page.action}/${decision}`, jar, { method: 'POST' })
}
