/**
 * The request body limit of every route: a body must declare its length (Content-Length), and a length
 * over the limit is refused before a byte is read. Both runtimes' HTTP parsers hold a body to its
 * declared length, so nothing larger is ever buffered. A body without a declared length (chunked) is
 * refused with 411: every client of Keygate (browsers' forms and fetch, the CLI, the gateway agent, an
 * IdP's back channel) sends small bodies with a length, and reading a chunked body part-way to enforce
 * a limit would leave the Node server unable to answer (it drops the connection instead).
 */
import type { MiddlewareHandler } from 'hono'
import { KeygateError } from '../../core/errors.ts'

export function limitBody(maxBytes: number): MiddlewareHandler {
  return async (c, next) => {
    const declared = c.req.header('content-length')
    // HTTP/1.1: a request has a body only with Content-Length or Transfer-Encoding.
    if (declared === undefined && c.req.header('transfer-encoding') === undefined) return next()
    if (declared === undefined) {
      throw new KeygateError(
        'LENGTH_REQUIRED',
        `Request bodies must declare their length (Content-Length), at most ${maxBytes} bytes`,
      )
    }
    if (!/^\d+$/.test(declared) || Number(declared) > maxBytes) {
      throw new KeygateError('BODY_TOO_LARGE', `Request bodies are limited to ${maxBytes} bytes`)
    }
    await next()
  }
}
