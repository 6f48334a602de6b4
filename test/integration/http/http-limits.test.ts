// The Node server's limits against slow and greedy clients, over real sockets: a client that trickles
// its headers or its body is cut off after the header/request timeout, while a gateway's long poll
// (a complete request whose answer is held) outlives both; beyond KEYGATE_MAX_CONNECTIONS open sockets
// a new one is closed at once, and is served again once one frees up.
import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ACCEPT_SOCKETS } from '../../../src/adapters/http/accept-sockets.ts'
import { mustRunCommand } from '../../../src/adapters/runtime/run-command.ts'
import { PROTOCOL_VERSION } from '../../../src/core/sync/protocol.ts'
import { corePolicy } from '../../fixtures/policies.ts'
import { enrollGateway } from '../../support/gateway-enrollment.ts'
import { startTestBroker, type TestBroker } from '../../support/test-broker.ts'

const MAX_CONNECTIONS = 6

let broker: TestBroker
let port: number

beforeAll(async () => {
  broker = await startTestBroker({
    policy: corePolicy(),
    env: { KEYGATE_MAX_CONNECTIONS: String(MAX_CONNECTIONS) },
    httpTimeouts: { headersMs: 600, requestMs: 1_200, checkIntervalMs: 100 },
    // Enrolling over HTTP would leave this process keep-alive sockets that count against the cap the
    // first test fills; the long-poll test enrolls its one gateway itself.
    enrolGateways: false,
  })
  port = Number(new URL(broker.origin).port)
})
afterAll(async () => {
  await broker?.close()
})

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket))
    socket.once('error', reject)
  })
}

/** Everything the server sent until it closed the socket. */
function closedWith(socket: Socket): Promise<string> {
  let received = ''
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString()
  })
  socket.on('error', () => {})
  return new Promise((resolve) => socket.once('close', () => resolve(received)))
}

describe('HTTP limits on the Node server', () => {
  // First, while the test's own HTTP client holds no keep-alive sockets that would count against the cap.
  it('holds the cap across every listening socket of the port', async () => {
    // Connections land on the port's sockets by a hash of their addresses: 40 of them reach every one
    // of the eight, yet no more than the cap are ever served at once.
    const listener = broker.server.listener
    if (listener === null) throw new Error('the test broker listens')
    expect(listener.connections()).toBe(0)
    const sockets: Socket[] = []
    // Each socket's outcome is watched from its first moment: the server may close it before it is used.
    const answers = await Promise.all(
      Array.from(
        { length: 40 },
        () =>
          new Promise<string>((resolve) => {
            const socket = connect(port, '127.0.0.1', () =>
              socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'),
            )
            sockets.push(socket)
            socket.on('error', () => {})
            socket.once('data', (d: Buffer) =>
              resolve(d.toString().startsWith('HTTP/1.1 200') ? 'served' : 'other'),
            )
            socket.once('close', () => resolve('closed'))
          }),
      ),
    )
    expect(answers.filter((a) => a === 'served')).toHaveLength(MAX_CONNECTIONS)
    expect(answers.filter((a) => a === 'closed')).toHaveLength(40 - MAX_CONNECTIONS)
    for (const socket of sockets) socket.destroy()
    // The next test starts, as this one did, with no socket open.
    while (listener.connections() > 0) await new Promise((r) => setTimeout(r, 20))
  })

  it('closes connections beyond the cap at once, and serves again when one frees up', async () => {
    const sockets = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => open()))
    // Each of these is a live connection the server has accepted: it answers on it.
    for (const socket of sockets) {
      const answered = new Promise<string>((resolve) =>
        socket.once('data', (d: Buffer) => resolve(d.toString())),
      )
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
      expect(await answered).toMatch(/^HTTP\/1\.1 200/)
    }
    const extra = await open()
    const extraClosed = closedWith(extra)
    extra.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
    expect(await extraClosed).toBe('')

    const freed = sockets.pop() as Socket
    await new Promise<void>((resolve) => {
      freed.once('close', () => resolve())
      freed.destroy()
    })
    // The server learns of the close asynchronously; the next client is served once it has.
    let served = false
    for (let attempt = 0; attempt < 50 && !served; attempt++) {
      const again = await broker.api(null, '/healthz').catch(() => null)
      served = again?.status === 200
      if (!served) await new Promise((r) => setTimeout(r, 50))
    }
    expect(served).toBe(true)
    for (const socket of sockets) socket.destroy()
    // Leave the next tests a server with room: wait until it has counted these sockets out (across
    // every listening socket: the kernel spread them over all of them).
    const listener = broker.server.listener
    if (listener === null) throw new Error('the test broker listens')
    while (listener.connections() > 1) await new Promise((r) => setTimeout(r, 20))
  })

  it('listens on eight sockets of its port, each with a queue as long as KEYGATE_MAX_CONNECTIONS', async () => {
    // Node accepts one connection per listening socket per turn of its loop: eight sockets accept eight.
    // A thousand agents reconnecting to a new process overflowed Node's default queue (511), and an
    // overflowed connection waits for a TCP retransmission (a second or more). `ss` shows a listening
    // socket's queue limit as its Send-Q (Linux caps it at net.core.somaxconn, far above 6).
    const listening = (await mustRunCommand(['ss', '-ltnH', `sport = :${port}`])).trim().split('\n')
    expect(listening).toHaveLength(ACCEPT_SOCKETS)
    for (const line of listening) {
      const [state, , sendQ] = line.trim().split(/\s+/)
      expect(state).toBe('LISTEN')
      expect(Number(sendQ)).toBe(MAX_CONNECTIONS)
    }
  })

  it('cuts off a client that never finishes its headers', async () => {
    const socket = await open()
    const closed = closedWith(socket)
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ')
    // Nothing more is sent: the server, not the client, must end this.
    expect(await closed).toMatch(/^HTTP\/1\.1 408/)
  })

  it('cuts off a client that trickles its body', async () => {
    const socket = await open()
    const closed = closedWith(socket)
    socket.write(
      'POST /api/v1/gateways/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"pub',
    )
    const drip = setInterval(() => socket.writable && socket.write(' '), 200)
    try {
      expect(await closed).toMatch(/408/)
    } finally {
      clearInterval(drip)
    }
  })

  it('keeps a long poll open past both timeouts', async () => {
    const started = Date.now()
    // An unauthenticated sync is refused at once; a health check with a slow consumer is no long poll
    // either. A real held request: the sync of an enrolled gateway, waiting 3 s (past requestMs 1.2 s).
    const { credential } = await enrollGateway(broker, 'gw-a')
    const first = await broker.api(
      null,
      `/api/v1/gateways/sync?since=0&wait=0&protocol=${PROTOCOL_VERSION}`,
      {
        headers: { authorization: `Bearer ${credential}` },
      },
    )
    const { version } = (await first.json()) as { version: number }
    const held = await broker.api(
      null,
      `/api/v1/gateways/sync?since=${version}&wait=3&protocol=${PROTOCOL_VERSION}`,
      {
        headers: { authorization: `Bearer ${credential}` },
      },
    )
    expect(held.status).toBe(200)
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_900)
  })
})
