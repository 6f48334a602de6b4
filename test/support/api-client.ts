// API calls as a browser would make them against a broker under test (Node server or Worker): a JSON body
// when `json` is given, the cookie jar's session when a jar is given, redirects never followed.
import { type CookieJar, requestWithJar } from './login-driver.ts'

export type ApiCall = (
  jar: CookieJar | null,
  path: string,
  init?: RequestInit & { json?: unknown },
) => Promise<Response>

export function createApiClient(origin: string): ApiCall {
  return async (jar, path, init = {}) => {
    const { json, ...rest } = init
    const headers = new Headers(rest.headers)
    let body = rest.body
    if (json !== undefined) {
      headers.set('content-type', 'application/json')
      body = JSON.stringify(json)
    }
    const requestInit: RequestInit = { ...rest, headers, ...(body === undefined ? {} : { body }) }
    if (jar === null) return fetch(`${origin}${path}`, { ...requestInit, redirect: 'manual' })
    return requestWithJar(`${origin}${path}`, jar, requestInit)
  }
}
