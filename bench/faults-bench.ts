// `npm run bench -- faults`: recovery around faults, on a PostgreSQL cluster of the bench's own
// (test/support/pg-cluster.ts) and in-process brokers with a real IdP:
// - restartToFirst201Ms: from PostgreSQL accepting again (pg_ctl start -w returns) to the first 201 of
//   an issuance retried every 20 ms through the outage;
// - crossReplicaWakeAfterOutageMs: after a 10 s outage, from an issuance's 201 on replica one to the
//   answer of a gateway's long poll held on replica two (LISTEN re-established by the notifier);
// - shutdownWithHeldPollsMs: from the start of the graceful close (what SIGTERM runs) to the server
//   being closed, with 1,000 long polls held.
import { randomBytes } from 'node:crypto'
import { Agent, request } from 'node:http'
import { openDatabase } from '../src/adapters/storage/open-database.ts'
import { generateKeyPair } from '../src/core/peers/keys.ts'
import { PROTOCOL_VERSION } from '../src/core/sync/protocol.ts'
import { corePolicy } from '../test/fixtures/policies.ts'
import { enrollGateway } from '../test/support/gateway-enrollment.ts'
import { startPgCluster } from '../test/support/pg-cluster.ts'
import { startTestBroker } from '../test/support/test-broker.ts'
import { openTestDatabaseAt } from '../test/support/test-db.ts'
import { MFA_SCENARIO, startTestIdp } from '../test/support/test-idp.ts'

const newKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** Every wait in this bench gives up after this long, so a regression fails the section, never hangs it. */
const GIVE_UP_MS = 60_000

/** Retries `attempt` every 20 ms until it returns true; a network error counts as a failed attempt. */
async function retryUntil(what: string, attempt: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + GIVE_UP_MS
  for (;;) {
    if (await attempt().catch(() => false)) return
    if (performance.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await sleep(20)
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? Number.NaN

export async function benchFaults(): Promise<unknown> {
  const cluster = await startPgCluster()
  const idp = await startTestIdp({ redirectUris: [] })
  const migrator = await openDatabase({ databaseUrl: cluster.url })
  await migrator.migrate()
  await migrator.close()
  const one = await startTestBroker({
    policy: corePolicy(),
    idp,
    database: await openTestDatabaseAt(cluster.url),
  })
  const two = await startTestBroker({
    policy: corePolicy(),
    idp,
    database: await openTestDatabaseAt(cluster.url),
    env: { KEYGATE_SECRET: one.secret },
  })
  idp.setRedirectUris([`${one.origin}/auth/test/callback`, `${two.origin}/auth/test/callback`])
  try {
    const alice = (await one.login(MFA_SCENARIO)).jar
    const { credential } = await enrollGateway(one, 'gw-a')
    const issue = () => one.api(alice, '/api/v1/peers', { method: 'POST', json: { publicKey: newKey() } })

    const restart: number[] = []
    for (let round = 0; round < 3; round++) {
      await cluster.stop('fast')
      let accepting = 0
      let at = 0
      const firstCreated = retryUntil('a 201 after the restart', async () => {
        const status = (await issue()).status
        if (status !== 201 || accepting === 0) return false
        at = performance.now() - accepting
        return true
      })
      firstCreated.catch(() => {})
      await sleep(2_000)
      await cluster.start()
      accepting = performance.now()
      await firstCreated
      restart.push(Math.round(at))
    }

    await cluster.stop('fast')
    await sleep(10_000)
    await cluster.start()
    let created = 0
    await retryUntil('a 201 after the 10 s outage', async () => (await issue()).status === 201)
    // Replica two may still be re-listening: hold the poll first, then issue once more and time it.
    const head = (await (
      await two.api(null, `/api/v1/gateways/sync?since=0&wait=0&protocol=${PROTOCOL_VERSION}`, {
        headers: { authorization: `Bearer ${credential}` },
      })
    ).json()) as { version: number }
    const held = two.api(
      null,
      `/api/v1/gateways/sync?since=${head.version}&wait=25&protocol=${PROTOCOL_VERSION}`,
      {
        headers: { authorization: `Bearer ${credential}` },
      },
    )
    held.catch(() => {})
    await sleep(200)
    const key = newKey()
    const response = await one.api(alice, '/api/v1/peers', { method: 'POST', json: { publicKey: key } })
    created = performance.now()
    if (response.status !== 201) throw new Error(`issuance after the outage: ${response.status}`)
    const woken = (await (await held).json()) as { upserts?: Array<{ publicKey: string }> }
    const crossReplicaWake = Math.round(performance.now() - created)
    // A poll answered early (a re-read after LISTEN came back) would time nothing: it must carry the lease.
    if (!woken.upserts?.some((u) => u.publicKey === key))
      throw new Error('the held poll on replica two answered without the new lease')

    // 1,000 held polls on replica one, then its graceful close.
    const { version } = (await (
      await one.api(null, `/api/v1/gateways/sync?since=0&wait=0&protocol=${PROTOCOL_VERSION}`, {
        headers: { authorization: `Bearer ${credential}` },
      })
    ).json()) as { version: number }
    const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })
    const url = new URL(
      `${one.origin}/api/v1/gateways/sync?since=${version}&wait=60&protocol=${PROTOCOL_VERSION}`,
    )
    const polls = Array.from(
      { length: 1_000 },
      () =>
        new Promise<number>((resolve) => {
          const req = request(url, { agent, headers: { authorization: `Bearer ${credential}` } }, (res) => {
            res.resume()
            res.on('end', () => resolve(res.statusCode ?? 0))
          })
          req.on('error', () => resolve(0))
          req.end()
        }),
    )
    await retryUntil('1,000 held polls', async () => {
      const metrics = await (await one.api(null, '/metrics')).text()
      return Number(/keygate_sync_waiting (\d+)/.exec(metrics)?.[1] ?? 0) >= 1_000
    })
    const closing = performance.now()
    await one.server.close()
    const shutdownMs = Math.round(performance.now() - closing)
    const statuses = await Promise.all(polls)
    agent.destroy()
    return {
      restartToFirst201Ms: { runs: restart, median: median(restart) },
      crossReplicaWakeAfterOutageMs: crossReplicaWake,
      shutdownWithHeldPollsMs: shutdownMs,
      heldPollsAnswered200: statuses.filter((s) => s === 200).length,
      goalMs: 2_000,
    }
  } finally {
    await one.close().catch(() => {})
    await two.close().catch(() => {})
    await one.db.close().catch(() => {})
    await two.db.close().catch(() => {})
    await idp.close()
    await cluster.remove()
  }
}
