/**
 * Drives a sign-in the way a browser does: follows the real redirects with fetch (redirect: 'manual')
 * and a cookie jar, across the broker and the IdP, presses the sign-in button on the IdP's page, and
 * stops at the broker's callback (`GET /auth/:idp/callback`), which it performs or only captures (so
 * replay and wrong-state tests can call it themselves, maybe twice, maybe altered).
 *
 * Knows nothing about the broker beyond that route shape, and nothing about the IdP beyond "a page with
 * forms, one of which signs in the user we want" (the pages of `oidc-provider-host.ts`).
 */

/** A minimal cookie jar: host-only cookies with path scoping and expiry, enough for these flows. */
export class CookieJar {
  readonly #cookies = new Map<string, { host: string; path: string; name: string; value: string }>()

  /** Stores the `Set-Cookie` headers of a response to `url`. */
  store(url: URL, response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';')
      const eq = pair.indexOf('=')
      if (eq <= 0) continue
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      let path = defaultPath(url)
      let expired = false
      for (const attribute of attributes) {
        const [rawKey = '', ...rest] = attribute.split('=')
        const key = rawKey.trim().toLowerCase()
        const attrValue = rest.join('=').trim()
        if (key === 'path' && attrValue.startsWith('/')) path = attrValue
        if (key === 'max-age' && Number(attrValue) <= 0) expired = true
        if (key === 'expires' && Date.parse(attrValue) <= Date.now()) expired = true
      }
      const id = `${url.host} ${path} ${name}`
      if (expired) this.#cookies.delete(id)
      else this.#cookies.set(id, { host: url.host, path, name, value })
    }
  }

  /** The `Cookie` header a browser would send to `url`, or undefined when there is none. */
  headerFor(url: URL): string | undefined {
    const matching = [...this.#cookies.values()]
      .filter((c) => c.host === url.host && pathMatches(url.pathname, c.path))
      .sort((a, b) => b.path.length - a.path.length)
    return matching.length === 0 ? undefined : matching.map((c) => `${c.name}=${c.value}`).join('; ')
  }

  /** Cookie names held for a host (e.g. to assert the broker set or cleared its login cookie). */
  names(host: string): string[] {
    return [...this.#cookies.values()].filter((c) => c.host === host).map((c) => c.name)
  }

  clone(): CookieJar {
    const copy = new CookieJar()
    for (const [id, cookie] of this.#cookies) copy.#cookies.set(id, { ...cookie })
    return copy
  }
}

export interface LoginDriverOptions {
  jar?: CookieJar
  /** Which button to press on the IdP's page: a user's email (or any text of its form); default the first. */
  user?: string
  /** Recognises the broker callback. Default: a path ending in `/auth/<idp>/callback`. */
  isCallback?: (url: URL) => boolean
  /** Gives up after this many requests (a redirect loop is a failure, not a hang). */
  maxSteps?: number
}

export interface LoginResult {
  /** The response of the last request made: the callback's when it was performed, else where it stopped. */
  finalResponse: Response
  jar: CookieJar
  /** The callback URL with the IdP's query (code, state, iss), or null when the flow never got there. */
  callbackUrl: URL | null
  /** Every URL requested, in order (for debugging a failed flow). */
  visited: string[]
}

const DEFAULT_CALLBACK = /\/auth\/[^/]+\/callback$/

/** Follows the flow from `startUrl` (`/auth/:idp/login`, or an IdP authorization URL) and performs the callback. */
export async function loginThroughRedirects(
  startUrl: string,
  jarOrOptions?: CookieJar | LoginDriverOptions,
): Promise<LoginResult> {
  const options = jarOrOptions instanceof CookieJar ? { jar: jarOrOptions } : (jarOrOptions ?? {})
  const result = await driveToCallback(startUrl, options)
  if (result.callbackUrl === null) return result
  const finalResponse = await request(result.callbackUrl, { method: 'GET' }, result.jar)
  result.visited.push(result.callbackUrl.href)
  return { ...result, finalResponse }
}

/**
 * Like `loginThroughRedirects` but stops before the callback: `finalResponse` is the redirect that
 * pointed at it. Throws when the flow did not reach a callback.
 */
export async function captureCallbackUrl(
  startUrl: string,
  jarOrOptions?: CookieJar | LoginDriverOptions,
): Promise<LoginResult & { callbackUrl: URL }> {
  const options = jarOrOptions instanceof CookieJar ? { jar: jarOrOptions } : (jarOrOptions ?? {})
  const result = await driveToCallback(startUrl, options)
  if (result.callbackUrl === null) {
    const body = await result.finalResponse.text().catch(() => '')
    throw new Error(
      `the flow stopped at ${result.visited.at(-1)} (HTTP ${result.finalResponse.status}) without reaching a callback: ${body.slice(0, 500)}`,
    )
  }
  return { ...result, callbackUrl: result.callbackUrl }
}

/** Requests a URL (e.g. a captured callback) with the jar's cookies, storing what comes back. */
export async function requestWithJar(
  url: string | URL,
  jar: CookieJar,
  init: RequestInit = {},
): Promise<Response> {
  return request(new URL(url), init, jar)
}

async function driveToCallback(startUrl: string, options: LoginDriverOptions): Promise<LoginResult> {
  const jar = options.jar ?? new CookieJar()
  const isCallback = options.isCallback ?? ((url: URL) => DEFAULT_CALLBACK.test(url.pathname))
  const maxSteps = options.maxSteps ?? 20
  const visited: string[] = []
  let url = new URL(startUrl)
  let init: RequestInit = { method: 'GET' }
  let pressedButton = false

  for (let step = 0; step < maxSteps; step++) {
    visited.push(url.href)
    const response = await request(url, init, jar)
    const location = response.headers.get('location')
    if (response.status >= 300 && response.status < 400 && location !== null) {
      await response.body?.cancel()
      const next = new URL(location, url)
      if (isCallback(next)) return { finalResponse: response, jar, callbackUrl: next, visited }
      // 307/308 would repeat a POST; oidc-provider and the broker use 302/303, which become a GET.
      init = response.status === 307 || response.status === 308 ? init : { method: 'GET' }
      url = next
      continue
    }
    const type = response.headers.get('content-type') ?? ''
    if (response.status === 200 && type.includes('text/html') && !pressedButton) {
      const html = await response.text()
      const form = pickForm(html, options.user)
      if (form !== null) {
        pressedButton = true
        url = new URL(form.action, url)
        init = {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(form.fields).toString(),
        }
        continue
      }
      return {
        finalResponse: new Response(html, { status: response.status, headers: response.headers }),
        jar,
        callbackUrl: null,
        visited,
      }
    }
    return { finalResponse: response, jar, callbackUrl: null, visited }
  }
  throw new Error(`no callback after ${maxSteps} requests: ${visited.join(' -> ')}`)
}

async function request(url: URL, init: RequestInit, jar: CookieJar): Promise<Response> {
  const headers = new Headers(init.headers)
  const cookie = jar.headerFor(url)
  if (cookie !== undefined) headers.set('cookie', cookie)
  headers.set('accept', 'text/html,application/json;q=0.9')
  const response = await fetch(url, { ...init, headers, redirect: 'manual' })
  jar.store(url, response)
  return response
}

interface ParsedForm {
  action: string
  fields: [string, string][]
}

/** The POST forms of one of our own sign-in pages; picks the one mentioning `user`, else the first. */
function pickForm(html: string, user: string | undefined): ParsedForm | null {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)]
    .map((match) => ({ attributes: match[1] ?? '', inner: match[2] ?? '' }))
    .filter((form) => /method\s*=\s*"post"/i.test(form.attributes))
  const chosen = user === undefined ? forms[0] : forms.find((form) => form.inner.includes(user))
  if (chosen === undefined) return null
  const action = decodeEntities(/action\s*=\s*"([^"]*)"/i.exec(chosen.attributes)?.[1] ?? '')
  const fields: [string, string][] = []
  for (const input of chosen.inner.matchAll(/<(?:input|button)\b([^>]*)>/gi)) {
    const attributes = input[1] ?? ''
    const name = /name\s*=\s*"([^"]*)"/i.exec(attributes)?.[1]
    if (name === undefined) continue
    fields.push([decodeEntities(name), decodeEntities(/value\s*=\s*"([^"]*)"/i.exec(attributes)?.[1] ?? '')])
  }
  return { action, fields }
}

function decodeEntities(value: string): string {
  return value
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

function defaultPath(url: URL): string {
  const path = url.pathname
  const slash = path.lastIndexOf('/')
  return slash <= 0 ? '/' : path.slice(0, slash)
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true
  if (!requestPath.startsWith(cookiePath)) return false
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/'
}
