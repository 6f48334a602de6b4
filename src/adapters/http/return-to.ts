/**
 * Where a browser may be sent back to after sign-in or step-up (`returnTo`, the step-up `next`): only a
 * path on Keygate's own origin. An open redirect would hand phishers a trusted link, and browsers are
 * lenient: they strip tabs and newlines from URLs (`/\t/evil.example` becomes `//evil.example`) and read
 * `\` as `/`. So control characters and backslashes are refused outright, and what is left must resolve,
 * with the WHATWG URL parser, to the same origin. A refused value becomes `/`, never an error: a CR in a
 * header would otherwise fail the redirect after the login state was spent.
 */

/** Any origin serves: only paths are accepted, so the result never depends on which. */
const PLACEHOLDER_ORIGIN = 'https://keygate.invalid'

export function safeReturnTo(value: string | undefined | null, origin = PLACEHOLDER_ORIGIN): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (!value?.startsWith('/') || /[\u0000-\u001f\u007f\\]/.test(value)) return '/'
  let url: URL
  try {
    url = new URL(value, origin)
  } catch {
    return '/'
  }
  if (url.origin !== new URL(origin).origin) return '/'
  return `${url.pathname}${url.search}${url.hash}`
}
