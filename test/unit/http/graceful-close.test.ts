// Closing the Node server gracefully (src/adapters/http/graceful-close.ts) over real sockets: a request
// in flight is answered before its socket ends, also on a socket another listener accepted and handed
// to the HTTP server (as accept-sockets.ts's extra listeners do), whose close callback does not wait
// for such sockets.
import { createServer } from 'node:http'
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { trackConnections } from '../../../src/adapters/http/graceful-close.ts'

const CONNECTIONS = 8

function listening(server: { listen(port: number, host: string, done: () => void): unknown }) {
  return new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
}

describe('graceful close', () => {
  it('answers every request in flight on handed-over sockets before it closes them', async () => {
    let arrived = 0
    let allArrived: () => void = () => {}
    const everyRequestIn = new Promise<void>((resolve) => {
      allArrived = resolve
    })
    let release: () => void = () => {}
    const closing = new Promise<void>((resolve) => {
      release = resolve
    })
    // Each answer is held until the close has begun, then takes a while: it is in flight meanwhile.
    const server = createServer(async (_req, res) => {
      if (++arrived === CONNECTIONS) allArrived()
      await closing
      setTimeout(() => res.end('done'), 200)
    })
    await listening(server)
    // Another listener hands every connection it accepts to the HTTP server: the server accepts none itself.
    const other = createNetServer({ allowHalfOpen: true }, (socket) => server.emit('connection', socket))
    await listening(other)
    const closer = trackConnections(server, () => other.close())
    let open = 0
    server.on('connection', (socket: Socket) => {
      open++
      socket.once('close', () => open--)
    })

    const sockets: Socket[] = []
    const answers = Array.from(
      { length: CONNECTIONS },
      () =>
        new Promise<string>((resolve) => {
          const socket = connect((other.address() as AddressInfo).port, '127.0.0.1', () =>
            socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
          )
          sockets.push(socket)
          let received = ''
          socket.on('data', (d: Buffer) => {
            received += d.toString()
          })
          socket.on('error', () => {})
          socket.once('close', () => resolve(received))
        }),
    )
    await everyRequestIn
    const closed = closer.close(5_000)
    release()
    const received = await Promise.all(answers)
    await closed
    for (const text of received) {
      // The whole answer, then the server ended the socket (each promise resolves on close).
      expect(text).toMatch(/^HTTP\/1\.1 200/)
      expect(text.endsWith('done')).toBe(true)
    }
    // The close resolves once every socket, handed over or not, is gone; nothing listens any more.
    expect(open).toBe(0)
    expect(server.listening || other.listening).toBe(false)
    for (const socket of sockets) socket.destroy()
  })
})
