// The Node server's listening sockets (src/adapters/http/accept-sockets.ts), over real loopback sockets:
// why there are several (Node accepts one connection per listening socket per turn of its loop, so
// connections queued while the loop was busy come in one per turn through a single socket), that a port
// already held is refused as with one plain socket, and that closing leaves nothing listening.
import { createServer, type Server } from 'node:http'
import { connect, createServer as createNetServer, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ACCEPT_SOCKETS, type Listening, listenHttp } from '../../../src/adapters/http/accept-sockets.ts'

const QUEUED = 64
const open: Array<{ server: Server; listener: Listening }> = []
const clients: Socket[] = []

afterEach(async () => {
  for (const socket of clients.splice(0)) socket.destroy()
  for (const { server, listener } of open.splice(0)) {
    listener.stopAccepting()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
})

async function serve(sockets: number, port = 0): Promise<{ server: Server; listener: Listening }> {
  const server = createServer((_req, res) => res.end('ok'))
  const listener = await listenHttp(server, {
    port,
    host: '127.0.0.1',
    maxConnections: 1_000,
    backlog: 1_000,
    sockets,
  })
  open.push({ server, listener })
  return { server, listener }
}

/** Connections accepted in each turn of the loop, for QUEUED connections made while the loop was busy. */
async function acceptedPerTurn(sockets: number): Promise<number[]> {
  const { server, listener } = await serve(sockets)
  let turn = 0
  const perTurn: number[] = []
  server.on('connection', () => {
    perTurn[turn] = (perTurn[turn] ?? 0) + 1
  })
  for (let i = 0; i < QUEUED; i++) {
    const socket = connect(listener.port, '127.0.0.1')
    socket.on('error', () => {})
    clients.push(socket)
  }
  // The kernel completes the handshakes while this process is busy; they queue until it accepts.
  const busyUntil = Date.now() + 300
  while (Date.now() < busyUntil) {}
  await new Promise<void>((resolve) => {
    const next = () => {
      turn++
      if (perTurn.reduce((a, b) => a + b, 0) >= QUEUED) resolve()
      else setImmediate(next)
    }
    setImmediate(next)
  })
  return perTurn.filter((n) => n !== undefined)
}

describe('listening sockets', () => {
  it('with one socket, Node accepts one queued connection per turn of its loop', async () => {
    const perTurn = await acceptedPerTurn(1)
    expect(Math.max(...perTurn)).toBe(1)
    expect(perTurn).toHaveLength(QUEUED)
  })

  it.runIf(process.platform === 'linux')('with eight, it accepts several per turn', async () => {
    expect(ACCEPT_SOCKETS).toBe(8)
    const perTurn = await acceptedPerTurn(ACCEPT_SOCKETS)
    expect(Math.max(...perTurn)).toBeGreaterThan(1)
    expect(perTurn.length).toBeLessThan(QUEUED / 2)
  })

  it('refuses a port another server holds, whether a Keygate server or a plain socket', async () => {
    const { listener } = await serve(ACCEPT_SOCKETS)
    // The port's sockets share it through SO_REUSEPORT, which a second server of the same user could
    // otherwise join silently and take a share of the gateways' connections.
    await expect(serve(ACCEPT_SOCKETS, listener.port)).rejects.toThrow(/EADDRINUSE/)

    const plain = createNetServer()
    await new Promise<void>((resolve) => plain.listen({ port: 0, host: '127.0.0.1' }, () => resolve()))
    const address = plain.address()
    const heldPort = typeof address === 'object' && address !== null ? address.port : 0
    try {
      await expect(serve(ACCEPT_SOCKETS, heldPort)).rejects.toThrow(/EADDRINUSE/)
    } finally {
      await new Promise<void>((resolve) => plain.close(() => resolve()))
    }
  })

  it('once closed, nothing listens on the port', async () => {
    const { server, listener } = await serve(ACCEPT_SOCKETS)
    open.pop()
    listener.stopAccepting()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    // Several attempts, so that a connection hashed to any of the sockets would have been tried.
    for (let i = 0; i < 32; i++) {
      const refused = await new Promise<string>((resolve) => {
        const socket = connect(listener.port, '127.0.0.1', () => {
          socket.destroy()
          resolve('connected')
        })
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'))
      })
      expect(refused).toBe('ECONNREFUSED')
    }
  })
})
