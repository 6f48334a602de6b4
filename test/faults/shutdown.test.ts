// A real broker process (`keygate serve`, as `npm start` runs it, on the embedded database) holding
// gateway long polls is stopped with SIGTERM, and with Ctrl-C (SIGINT to its process group): every held
// poll is answered at once, the process exits cleanly long before the polls' 60 s wait, and nothing
// fails on the way out (no "PGlite is closed").
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROTOCOL_VERSION } from '../../src/core/sync/protocol.ts'
import { corePolicy } from '../fixtures/policies.ts'
import { enrollGateway } from '../support/gateway-enrollment.ts'
import { freeLoopbackPort } from '../support/test-broker.ts'
import { startTestIdp, type TestIdp } from '../support/test-idp.ts'

const HELD_POLLS = 50

let idp: TestIdp
beforeAll(async () => {
  idp = await startTestIdp({ redirectUris: [] })
})
afterAll(async () => {
  await idp?.close()
})

interface BrokerProcess {
  child: ChildProcess
  origin: string
  dataDir: string
  output: () => string
  exited: Promise<number | null>
}

async function startBrokerProcess(): Promise<BrokerProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'keygate-shutdown-'))
  const policyPath = join(dataDir, 'policy.hujson')
  await writeFile(policyPath, corePolicy())
  const port = await freeLoopbackPort()
  const origin = `http://127.0.0.1:${port}`
  // One process, as `npm start` (node dist/cli.js) runs: the tsx CLI wrapper relays a signal and, when its
  // child has not acknowledged it within 30 ms (a loaded machine), SIGKILLs it and exits 130 itself, which
  // would test tsx's relay instead of Keygate's shutdown.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/entrypoints/cli.ts', 'serve'], {
    cwd: process.cwd(),
    // Its own process group, so the test can send Ctrl-C the way a terminal does: to the whole group.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      KEYGATE_URL: origin,
      KEYGATE_DATA_DIR: dataDir,
      KEYGATE_POLICY: policyPath,
      KEYGATE_SECRET: randomBytes(32).toString('base64url'),
      KEYGATE_DEV_IDP: 'off',
      KEYGATE_IDP_TEST_ISSUER: idp.issuer,
      KEYGATE_IDP_TEST_CLIENT_ID: idp.clientId,
      KEYGATE_IDP_TEST_CLIENT_SECRET: idp.clientSecret,
    },
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (output.includes('"keygate.started"')) {
        child.stdout?.off('data', check)
        resolve()
      }
    }
    child.stdout?.on('data', check)
    void exited.then((code) => reject(new Error(`broker exited with ${code} before starting:\n${output}`)))
  })
  return { child, origin, dataDir, output: () => output, exited }
}

async function holdPolls(broker: BrokerProcess, credential: string) {
  const first = await fetch(
    `${broker.origin}/api/v1/gateways/sync?since=0&wait=0&protocol=${PROTOCOL_VERSION}`,
    {
      headers: { authorization: `Bearer ${credential}` },
    },
  )
  const { version } = (await first.json()) as { version: number }
  const polls = Array.from({ length: HELD_POLLS }, () =>
    fetch(`${broker.origin}/api/v1/gateways/sync?since=${version}&wait=60&protocol=${PROTOCOL_VERSION}`, {
      headers: { authorization: `Bearer ${credential}` },
    }).then(
      (r) => r.status,
      (error: unknown) => `${error}: ${(error as { cause?: unknown }).cause}`,
    ),
  )
  // Held means the broker counts them as waiting (its own gauge), not that some time went by.
  for (;;) {
    const metrics = await (await fetch(`${broker.origin}/metrics`)).text()
    const waiting = Number(/keygate_sync_waiting (\d+)/.exec(metrics)?.[1] ?? 0)
    if (waiting >= HELD_POLLS) break
    await new Promise((r) => setTimeout(r, 50))
  }
  return polls
}

describe('stopping a broker that holds long polls', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`answers every held poll and exits promptly on ${signal}`, async () => {
      const broker = await startBrokerProcess()
      try {
        const credential = (await enrollGateway(broker, 'gw-a')).credential
        const polls = await holdPolls(broker, credential)
        const started = Date.now()
        if (signal === 'SIGINT') process.kill(-(broker.child.pid as number), 'SIGINT')
        else broker.child.kill('SIGTERM')
        const statuses = await Promise.all(polls)
        const code = await broker.exited
        const elapsed = Date.now() - started
        expect(statuses, broker.output()).toEqual(Array(HELD_POLLS).fill(200))
        expect(code).toBe(0)
        // The polls asked to wait 60 s; the old shutdown waited for them. The goal (2 s) is measured in
        // `npm run bench -- faults`; this bound only proves nobody waited for a poll's timeout.
        expect(elapsed).toBeLessThan(10_000)
        expect(broker.output()).not.toMatch(/PGlite is closed/)
        expect(broker.output()).not.toMatch(/"level":"error"/)
        expect(broker.output()).toMatch(/"server.closed"/)
      } finally {
        broker.child.kill('SIGKILL')
        await rm(broker.dataDir, { recursive: true, force: true })
      }
    })
  }
})
