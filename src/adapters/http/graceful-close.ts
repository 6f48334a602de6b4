/**
 * Closing a Node HTTP server without cutting off answers: once closing, every response carries
 * `Connection: close` and its socket ends right after it is written; a socket with no request in
 * flight ends at once; whatever is still open after the grace is destroyed.
 *
 * Node's own `closeIdleConnections` was seen to destroy a reused keep-alive socket whose second request
 * (a held long poll) was still being answered, so sockets are counted here, per request and response.
 */
import type { Server } from 'node:http'
import type { Socket } from 'node:net'

export interface GracefulCloser {
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then destroys the rest. */
  close(graceMs: number): Promise<void>
}

/** `stopAccepting` closes any other listener handing this server connections (accept-sockets.ts). */
export function trackConnections(server: Server, stopAccepting: () => void = () => {}): GracefulCloser {
  const inFlight = new Map<Socket, number>()
  let closing = false
  let drained: (() => void) | null = null
  server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0)
    socket.once('close', () => {
      inFlight.delete(socket)
      if (inFlight.size === 0) drained?.()
    })
  })
  server.on('request', (req, res) => {
    const socket = req.socket
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1)
    if (closing) res.setHeader('Connection', 'close')
    res.once('close', () => {
      // A socket already closed (and forgotten) has nothing left to end.
      const count = inFlight.get(socket)
      if (count === undefined) return
      const left = count - 1
      inFlight.set(socket, left)
      if (closing && left === 0) socket.end()
    })
  })
  return {
    async close(graceMs) {
      closing = true
      stopAccepting()
      const listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()))
      // The server's own close waits only for the sockets it accepted itself, not for those other
      // listeners handed it: every socket is waited for here, each ending once its answer is written.
      const allClosed = new Promise<void>((resolve) => {
        drained = resolve
        if (inFlight.size === 0) resolve()
      })
      for (const [socket, count] of inFlight) if (count === 0) socket.end()
      let timer: ReturnType<typeof setTimeout> | undefined
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs)
      })
      await Promise.race([allClosed, grace])
      clearTimeout(timer)
      for (const socket of inFlight.keys()) socket.destroy()
      await listenerClosed
    },
  }
}
