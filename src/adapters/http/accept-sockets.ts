/**
 * The Node server's listening sockets: one port, several sockets on Linux, and one cap on the
 * connections open through all of them.
 *
 * Node accepts one connection per listening socket per turn of its event loop. A freshly started broker
 * that a thousand agents reconnect to is busy, each turn answering the requests it already holds, so
 * new connections waited in the kernel's queue: 1.2 s on average for the last 200 of 1,000 agents in the
 * restart bench (docs/benchmarks.md, "Broker restart"), most of the time from /healthz to the last
 * gateway holding a new lease. With several sockets on the port (SO_REUSEPORT) the kernel spreads
 * new connections over them and each turn accepts one from each; the connections are all handed to the
 * one HTTP server, so its timeouts, its request tracking and its graceful close apply to every one.
 *
 * SO_REUSEPORT would also let a second process of the same user bind the port and take a share of the
 * connections without a word. The port is therefore first bound by a plain socket, which fails as it
 * always did (EADDRINUSE) when anything holds it, Keygate or not, and only then handed to the group.
 */
import type { Server } from 'node:http'
import { type AddressInfo, createServer, type Server as NetServer, type Socket } from 'node:net'

/** Sockets per port where the platform can share one (Linux); enough that the accept queue keeps up with a
 *  reconnecting fleet, few enough to cost nothing when idle. */
export const ACCEPT_SOCKETS = process.platform === 'linux' ? 8 : 1

export interface ListenOptions {
  port: number
  host: string
  /** Open connections across every socket; beyond it a new one is closed at once. */
  maxConnections: number
  /** The kernel's queue of connections not yet accepted, per socket. */
  backlog: number
  /** Default ACCEPT_SOCKETS. */
  sockets?: number
}

export interface Listening {
  port: number
  /** Connections open now through every socket. */
  connections(): number
  /** Stops accepting on the extra sockets; `server.close()` stops the server's own. */
  stopAccepting(): void
}

export async function listenHttp(server: Server, options: ListenOptions): Promise<Listening> {
  const sockets = Math.max(1, options.sockets ?? ACCEPT_SOCKETS)
  const shared = sockets > 1
  let port = options.port
  if (shared) port = await claimPort(options.host, options.port)

  let open = 0
  let handedOver = 0
  const cap = options.maxConnections
  server.on('connection', (socket: Socket) => {
    open++
    socket.once('close', () => open--)
  })
  // Node closes a socket its server accepts beyond `maxConnections`, counting only its own; the sockets
  // handed over from the other listeners are taken off that allowance, so the cap holds for the total.
  server.maxConnections = cap

  await listen(server, { port, host: options.host, backlog: options.backlog, reusePort: shared })
  const bound = (server.address() as AddressInfo).port
  const extras: NetServer[] = []
  try {
    for (let i = 1; i < sockets; i++) {
      // As node:http makes its own: a client's half-close must not end the socket before the answer.
      const extra = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
        if (open >= cap) {
          socket.destroy()
          return
        }
        handedOver++
        server.maxConnections = cap - handedOver
        socket.once('close', () => {
          handedOver--
          server.maxConnections = cap - handedOver
        })
        server.emit('connection', socket)
      })
      await listen(extra, { port: bound, host: options.host, backlog: options.backlog, reusePort: true })
      extras.push(extra)
    }
  } catch (error) {
    for (const listener of [...extras, server]) stopListening(listener)
    throw error
  }

  return {
    port: bound,
    connections: () => open,
    stopAccepting: () => {
      for (const extra of extras.splice(0)) stopListening(extra)
    },
  }
}

/** Binds the port with a plain socket, so that a port anything holds fails here; answers the port (a
 *  free one for 0) for the group to bind once this socket is closed. */
async function claimPort(host: string, port: number): Promise<number> {
  const probe = createServer()
  await listen(probe, { port, host, backlog: 1, reusePort: false })
  const claimed = (probe.address() as AddressInfo).port
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return claimed
}

function listen(
  server: NetServer,
  options: { port: number; host: string; backlog: number; reusePort: boolean },
): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

/** Stops listening at once. A listener's close callback would wait for the connections it accepted,
 *  which belong to the HTTP server and its graceful close. */
function stopListening(server: NetServer): void {
  if (server.listening) server.close(() => {})
}
