// `npm run bench -- restart`: 1,000 gateways back after a broker restart (issue 11, item 5).
//
// A real `keygate serve` process (the release build, dist/cli.js) on a PostgreSQL cluster of the bench's
// own (test/support/pg-cluster.ts), with 1,000 enrolled gateways. 1,000 simulated agents long-poll the
// feed: plain HTTP loops that retry the way the real agent does (core/sync/backoff.ts's retryDelay:
// refused or reset -> 250-1000 ms with jitter; 503/429 -> back off, never before Retry-After), without
// WireGuard. Each run: all 1,000 polls held, SIGTERM, wait for the exit, start a new process on the same
// port, and as soon as /healthz answers, issue one lease granted on all 1,000 gateways. Figures per run:
// - exitMs: SIGTERM to the old process's exit (held polls are answered at once);
// - sigtermToHealthyMs: SIGTERM to the new process answering /healthz (mostly its start-up);
// - healthyToAllReconnectedMs: /healthz to when the last agent sent the poll the new process answered
//   (the agents' reconnection; it can precede /healthz, as the port opens first);
// - healthyToAllSyncedMs: /healthz to the last agent holding the new lease (the issue's goal: < 2 s);
// - sigtermToAllSyncedMs: the whole restart as the gateways see it.
// - healthyToHalfSyncedMs: /healthz to the 500th agent holding it (the shape of the spread);
// - listenOverflows: connections the kernel dropped during the run because a listen queue was full
//   (TcpExt ListenOverflows, machine-wide; null off Linux): each such agent waits for a TCP retransmission.
// Medians over the runs (KEYGATE_BENCH_RESTART_RUNS, default 3). The agents run in this process, so their
// CPU competes with the broker's on a small machine: the figures are an upper bound.
// For diagnosis: KEYGATE_BENCH_RESTART_TRACE=1 prints, per run, when the agents reconnected, connected and
// got the lease (100 ms bins from /healthz), and the CPU the broker, the agents and PostgreSQL used
// meanwhile; KEYGATE_BENCH_RESTART_NODE_ARGS passes flags to the broker's
// node (e.g. `--cpu-prof --cpu-prof-dir=DIR`); KEYGATE_BENCH_RESTART_PGLOG=FILE logs every statement with
// its duration on the bench's cluster and copies the log there at the end.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openDatabase } from '../src/adapters/storage/open-database.ts'
import { generateKeyPair } from '../src/core/peers/keys.ts'
import { type FailureKind, retryDelay } from '../src/core/sync/backoff.ts'
import { PROTOCOL_VERSION } from '../src/core/sync/protocol.ts'
import { manyGatewaysPolicy } from '../test/fixtures/many-gateways-policy.ts'
import { createApiClient } from '../test/support/api-client.ts'
import { enrollGateway } from '../test/support/gateway-enrollment.ts'
import { CookieJar, loginThroughRedirects } from '../test/support/login-driver.ts'
import { startPgCluster } from '../test/support/pg-cluster.ts'
import { freeLoopbackPort } from '../test/support/test-broker.ts'
import { MFA_SCENARIO, startTestIdp } from '../test/support/test-idp.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const GATEWAYS = Number(process.env.KEYGATE_BENCH_RESTART_GATEWAYS ?? 1_000)
const RUNS = Number(process.env.KEYGATE_BENCH_RESTART_RUNS ?? 3)
/** Every wait gives up after this long, so a regression fails the section, never hangs it. */
const GIVE_UP_MS = 180_000
const POLL_WAIT_SECONDS = 25

const newKey = () => generateKeyPair((n) => new Uint8Array(randomBytes(n))).publicKey
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const gatewayName = (i: number) => `gw-${String(i).padStart(4, '0')}`
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2)
}

async function until(what: string, check: () => Promise<boolean>, everyMs = 20): Promise<void> {
  const deadline = performance.now() + GIVE_UP_MS
  for (;;) {
    if (await check().catch(() => false)) return
    if (performance.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await sleep(everyMs)
  }
}

/** Runs `work` over `items` with at most `limit` at a time. */
async function inBatches<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++
        results[i] = await work(items[i]!)
      }
    }),
  )
  return results
}

interface BrokerProcess {
  child: ChildProcess
  exited: Promise<number | null>
  output: () => string
}

function startBroker(env: Record<string, string>): BrokerProcess {
  const nodeArgs = process.env.KEYGATE_BENCH_RESTART_NODE_ARGS?.split(' ').filter(Boolean) ?? []
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, 'dist/cli.js'), 'serve'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', ...env },
  })
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, exited, output: () => output }
}

type PollOutcome =
  | {
      ok: true
      body: { version: number; more?: boolean; upserts?: Array<{ publicKey: string }> }
      connectMs?: number
    }
  | { ok: false; kind: FailureKind; retryAfterMs: number | null }

/** One sync long poll, as the agent's broker client makes it. */
function poll(httpAgent: Agent, origin: string, credential: string, since: number): Promise<PollOutcome> {
  const url = `${origin}/api/v1/gateways/sync?since=${since}&wait=${POLL_WAIT_SECONDS}&protocol=${PROTOCOL_VERSION}`
  const sent = performance.now()
  let connectMs: number | undefined
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        agent: httpAgent,
        headers: { authorization: `Bearer ${credential}` },
        timeout: (POLL_WAIT_SECONDS + 10) * 1000,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', () => resolve({ ok: false, kind: 'unreachable', retryAfterMs: null }))
        res.on('end', () => {
          const status = res.statusCode ?? 0
          if (status === 200) {
            try {
              resolve({
                ok: true,
                body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
                ...(connectMs === undefined ? {} : { connectMs }),
              })
            } catch {
              resolve({ ok: false, kind: 'failed', retryAfterMs: null })
            }
            return
          }
          const retryAfter = Number(res.headers['retry-after'])
          resolve({
            ok: false,
            kind: status === 503 || status === 429 ? 'overloaded' : status >= 500 ? 'failed' : 'refused',
            retryAfterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : null,
          })
        })
      },
    )
    req.on('socket', (socket) => {
      socket.once('connect', () => {
        connectMs = performance.now() - sent
      })
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve({ ok: false, kind: 'unreachable', retryAfterMs: null }))
    req.end()
  })
}

interface SimulatedAgent {
  credential: string
  version: number
  /** When the last held poll was sent (performance.now()). */
  sentAt: number
  /** When the first request answered by the new process (sent after the old one exited) was sent. */
  reconnectedAt: number | null
  /** When the lease being watched for arrived. */
  syncedAt: number | null
  /** When the poll that brought it was sent. */
  syncSentAt: number | null
  /** Polls answered by the new process before the lease arrived. */
  answers: number
  /** How long the reconnecting poll's TCP connect took. */
  connectMs: number | null
}

/** The kernel's count of connections dropped because a listen queue was full (TcpExt ListenOverflows). */
function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n')
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.split(' ')
    const at = names.indexOf('ListenOverflows')
    if (at > 0) return Number(lines[i + 1]!.split(' ')[at])
  }
  return Number.NaN
}

function listenOverflowsOrNull(): number | null {
  try {
    return listenOverflows()
  } catch {
    return null
  }
}

const TRACE = process.env.KEYGATE_BENCH_RESTART_TRACE === '1'

/** CPU time used so far (ms) by the broker process, this bench process, every PostgreSQL process and the
 *  whole machine (Linux). Processes that exit in between are lost from the PostgreSQL sum, which the
 *  bench's pooled connections do not do. */
function cpuSplit(brokerPid: number | undefined): {
  broker: number
  bench: number
  postgres: number
  machine: number
} {
  const tick = 10 // USER_HZ is 100 on Linux
  const fields = readFileSync(`/proc/${brokerPid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  const broker = (Number(fields[11]) + Number(fields[12])) * tick
  const usage = process.cpuUsage()
  const bench = Math.round((usage.user + usage.system) / 1000)
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number)
  // user nice system (idle iowait excluded) irq softirq steal
  const machine = (cpu[0]! + cpu[1]! + cpu[2]! + cpu[5]! + cpu[6]! + cpu[7]!) * tick
  let postgres = 0
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (!stat.includes('(postgres)')) continue
      const rest = stat.split(') ')[1]!.split(' ')
      postgres += (Number(rest[11]) + Number(rest[12])) * tick
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return { broker, bench, postgres, machine }
}

/** One run's agents in 100 ms bins from /healthz (KEYGATE_BENCH_RESTART_TRACE=1). */
function traceRun(agents: SimulatedAgent[], healthyAt: number, issuedAt: number) {
  const bins = (values: Array<number | null>) => {
    const counts = new Map<number, number>()
    for (const v of values) {
      const bin = v === null ? -1 : Math.floor(v / 100) * 100
      counts.set(bin, (counts.get(bin) ?? 0) + 1)
    }
    return JSON.stringify(Object.fromEntries([...counts].sort((a, b) => a[0] - b[0])))
  }
  const since = (t: number | null) => (t === null ? null : Math.round(t - healthyAt))
  process.stderr.write(
    [
      `trace: the 201 at ${since(issuedAt)} ms after /healthz`,
      `  reconnecting poll sent: ${bins(agents.map((a) => since(a.reconnectedAt)))}`,
      `  poll bringing the lease sent: ${bins(agents.map((a) => since(a.syncSentAt)))}`,
      `  lease received: ${bins(agents.map((a) => since(a.syncedAt)))}`,
      `  polls answered before it (x100): ${bins(agents.map((a) => a.answers * 100))}`,
      `  reconnecting poll's TCP connect, ms (-1: reused socket): ${bins(agents.map((a) => a.connectMs))}`,
      '',
    ].join('\n'),
  )
}

export async function benchRestart(): Promise<unknown> {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: 'inherit' })
  const cluster = await startPgCluster()
  const dataDir = await mkdtemp(join(tmpdir(), 'keygate-restart-bench-'))
  const port = await freeLoopbackPort()
  const origin = `http://127.0.0.1:${port}`
  const idp = await startTestIdp({ redirectUris: [`${origin}/auth/test/callback`] })
  const policyPath = join(dataDir, 'policy.hujson')
  await writeFile(policyPath, manyGatewaysPolicy(GATEWAYS, gatewayName))
  const migrator = await openDatabase({ databaseUrl: cluster.url })
  await migrator.migrate()
  const pgLog = process.env.KEYGATE_BENCH_RESTART_PGLOG
  let pgLogFile: string | null = null
  if (pgLog !== undefined) {
    const psql = (q: string) => execFileSync('psql', [cluster.url, '-Atc', q], { encoding: 'utf8' }).trim()
    // pg-cluster.ts starts the server with `-l DIR/log`, DIR holding the data directory.
    pgLogFile = join(psql('SHOW data_directory'), '..', 'log')
    psql('ALTER SYSTEM SET log_min_duration_statement = 0')
    psql("ALTER SYSTEM SET log_line_prefix = '%m [%p] '")
    psql('SELECT pg_reload_conf()')
  }
  await migrator.close()
  const env = {
    KEYGATE_URL: origin,
    DATABASE_URL: cluster.url,
    KEYGATE_DATA_DIR: dataDir,
    KEYGATE_POLICY: policyPath,
    KEYGATE_SECRET: randomBytes(32).toString('base64url'),
    KEYGATE_DEV_IDP: 'off',
    KEYGATE_LOG_FORMAT: 'json',
    KEYGATE_LOG_LEVEL: 'warn',
    KEYGATE_IDP_TEST_ISSUER: idp.issuer,
    KEYGATE_IDP_TEST_CLIENT_ID: idp.clientId,
    KEYGATE_IDP_TEST_CLIENT_SECRET: idp.clientSecret,
  }
  const api = createApiClient(origin)
  const healthy = () => api(null, '/healthz').then((r) => r.status === 200)
  const httpAgent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })
  let broker = startBroker(env)
  let stopped = false
  const loops: Promise<void>[] = []
  try {
    await until('the first broker to answer /healthz', healthy, 50)
    const alice = new CookieJar()
    idp.setScenario(MFA_SCENARIO)
    await loginThroughRedirects(`${origin}/auth/test/login`, alice)

    const enrollStarted = performance.now()
    const credentials = await inBatches(
      Array.from({ length: GATEWAYS }, (_, i) => gatewayName(i)),
      16,
      async (gateway) => (await enrollGateway({ origin, dataDir }, gateway)).credential,
    )
    const enrollMs = Math.round(performance.now() - enrollStarted)

    let watchedKey: string | null = null
    let oldExitedAt = Number.POSITIVE_INFINITY
    const agents: SimulatedAgent[] = credentials.map((credential) => ({
      credential,
      version: 0,
      sentAt: 0,
      reconnectedAt: null,
      syncedAt: null,
      syncSentAt: null,
      answers: 0,
      connectMs: null,
    }))
    const runAgent = async (agent: SimulatedAgent) => {
      let attempt = 0
      while (!stopped) {
        agent.sentAt = performance.now()
        const sentAt = agent.sentAt
        const outcome = await poll(httpAgent, origin, agent.credential, agent.version)
        if (outcome.ok) {
          attempt = 0
          agent.version = outcome.body.version
          // When the attempt that got through was sent: the agent's reconnection, whatever the poll then
          // waited for (its answer comes with the next change).
          if (sentAt > oldExitedAt && agent.reconnectedAt === null) {
            agent.reconnectedAt = sentAt
            agent.connectMs = outcome.connectMs ?? null
          }
          if (watchedKey !== null && outcome.body.upserts?.some((u) => u.publicKey === watchedKey)) {
            if (agent.syncedAt === null) agent.syncSentAt = sentAt
            agent.syncedAt ??= performance.now()
          } else if (sentAt > oldExitedAt && agent.syncedAt === null) agent.answers++
          continue
        }
        if (stopped) return
        await sleep(
          retryDelay(outcome.kind, attempt++, Math.random(), { retryAfterMs: outcome.retryAfterMs }),
        )
      }
    }
    for (const agent of agents) loops.push(runAgent(agent))

    const heldPolls = async () => {
      const metrics = await (await api(null, '/metrics')).text()
      return Number(/keygate_sync_waiting (\d+)/.exec(metrics)?.[1] ?? 0)
    }
    const runs: Array<Record<string, number>> = []
    for (let run = 0; run < RUNS; run++) {
      // Every agent up to date and holding a poll on the old process.
      await until(`${GATEWAYS} held polls`, async () => (await heldPolls()) >= GATEWAYS, 100)
      for (const agent of agents) {
        agent.reconnectedAt = null
        agent.syncedAt = null
        agent.syncSentAt = null
        agent.answers = 0
        agent.connectMs = null
      }
      const overflowsBefore = listenOverflowsOrNull()
      watchedKey = null
      oldExitedAt = Number.POSITIVE_INFINITY

      const sigterm = performance.now()
      broker.child.kill('SIGTERM')
      const code = await broker.exited
      oldExitedAt = performance.now()
      if (code !== 0) throw new Error(`the broker exited with ${code}:\n${broker.output()}`)
      broker = startBroker(env)
      await until('the new broker to answer /healthz', healthy, 10)
      const healthyAt = performance.now()
      if (TRACE) process.stderr.write(`trace: /healthz answered at ${new Date().toISOString()}\n`)
      const cpuAtHealthy = TRACE ? cpuSplit(broker.child.pid) : null
      const key = newKey()
      watchedKey = key
      const issued = await api(alice, '/api/v1/peers', { method: 'POST', json: { publicKey: key } })
      if (issued.status !== 201)
        throw new Error(`issuance after the restart: ${issued.status} ${await issued.text()}`)
      const issuedAt = performance.now()
      await until(
        `all ${GATEWAYS} agents to hold the new lease`,
        async () => agents.every((a) => a.syncedAt !== null && a.reconnectedAt !== null),
        10,
      )
      const lastSynced = Math.max(...agents.map((a) => a.syncedAt!))
      const overflowsAfter = listenOverflowsOrNull()
      const lastReconnected = Math.max(...agents.map((a) => a.reconnectedAt!))
      runs.push({
        exitMs: Math.round(oldExitedAt - sigterm),
        sigtermToHealthyMs: Math.round(healthyAt - sigterm),
        healthyToIssuedMs: Math.round(issuedAt - healthyAt),
        healthyToAllReconnectedMs: Math.round(lastReconnected - healthyAt),
        healthyToHalfSyncedMs: Math.round(median(agents.map((a) => a.syncedAt!)) - healthyAt),
        healthyToAllSyncedMs: Math.round(lastSynced - healthyAt),
        sigtermToAllSyncedMs: Math.round(lastSynced - sigterm),
        ...(overflowsBefore === null || overflowsAfter === null
          ? {}
          : { listenOverflows: overflowsAfter - overflowsBefore }),
      })
      process.stderr.write(`restart run ${run + 1}: ${JSON.stringify(runs.at(-1))}\n`)
      if (TRACE && cpuAtHealthy !== null) {
        traceRun(agents, healthyAt, issuedAt)
        const now = cpuSplit(broker.child.pid)
        process.stderr.write(
          `  CPU ms from /healthz to the last agent (${Math.round(lastSynced - healthyAt)} ms): broker ${now.broker - cpuAtHealthy.broker}, bench ${now.bench - cpuAtHealthy.bench}, PostgreSQL ${now.postgres - cpuAtHealthy.postgres}, the whole machine ${now.machine - cpuAtHealthy.machine}\n`,
        )
      }
    }
    const medianOf = (name: string) => median(runs.map((r) => r[name]!))
    return {
      gateways: GATEWAYS,
      enrollMs,
      runs,
      median: Object.fromEntries(Object.keys(runs[0] ?? {}).map((name) => [name, medianOf(name)])),
      goalMs: { healthyToAllSyncedMs: 2_000 },
    }
  } finally {
    stopped = true
    broker.child.kill('SIGTERM')
    await Promise.race([broker.exited, sleep(10_000)])
    broker.child.kill('SIGKILL')
    await Promise.race([Promise.all(loops), sleep(10_000)])
    httpAgent.destroy()
    await idp.close()
    if (pgLogFile !== null && pgLog !== undefined) await copyFile(pgLogFile, pgLog)
    await cluster.remove()
    await rm(dataDir, { recursive: true, force: true })
  }
}
