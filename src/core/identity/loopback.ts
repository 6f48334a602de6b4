/**
 * Whether a URL points at this machine only (localhost, 127.0.0.0/8, ::1).
 *
 * Identity decisions hang on it: plain-http issuers and the development IdP are allowed only there.
 */

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1')
  if (host === 'localhost' || host.endsWith('.localhost') || host === '::1') return true
  const octets = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)
  return octets?.slice(1).every((octet) => Number(octet) <= 255) === true
}

export function isLoopbackUrl(url: string | URL): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname)
  } catch {
    return false
  }
}
