/**
 * Propagation: the time from an issuance (and a revocation) committing in the broker's database to the peer
 * being applied on every gateway, with 1, 10 and 100 connected agents; and the broker's CPU per change.
 *
 * Set-up, as deployed: the Node server (startNodeServer) on 127.0.0.1 over PostgreSQL (a scratch database,
 * dropped at the end; wake-ups through LISTEN/NOTIFY as in production), or PGlite when PostgreSQL is not
 * reachable. The agents are the real agent (runGatewayAgent + the HTTP broker client, long-polling over real
 * sockets) in a separate Node process, so the broker process's CPU is the broker's alone. Gateway gw-001 is a
 * real wireguard-go interface in a lab namespace (UAPI) when run as root with wireguard-go; every other
 * agent applies to an in-memory interface (createMemoryInterface). The report says which.
 *
 * Times: "committed" is when the store's issueLease / revokeLease resolved in the broker (the transaction
 * is committed then; the feed wake-up follows it); "applied" is when the agent's interface write resolved.
 * The two processes' clocks (performance.timeOrigin + now()) are aligned by an IPC ping exchange. Each
 * change waits until it is applied everywhere before the next, so latency, not queueing, is measured; the
 * agents' status reports after each change are part of the broker's load, as in production.
 *
 * Run alone: `npm exec -- tsx bench/propagation-bench.ts` (prints JSON). Changes per agent count:
 * KEYGATE_BENCH_PROPAGATION_CHANGES (default 200: half issuances, half revocations).
 */

import { type ChildProcess, execFileSync, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import postgres from 'postgres'
import { createMemoryPacketFilter } from '../src/adapters/firewall/memory-packet-filter.ts'
import { runGatewayAgent } from '../src/adapters/gateway/agent.ts'
import { createMemoryAgentState } from '../src/adapters/gateway/agent-state.ts'
import { createBrokerClient } from '../src/adapters/gateway/broker-client.ts'
import { silentLogger } from '../src/adapters/runtime/json-logger.ts'
import { cryptoRandom, systemClock } from '../src/adapters/runtime/web-runtime.ts'
import { type OpenedDatabase, openDatabase } from '../src/adapters/storage/open-database.ts'
import { createMemoryInterface } from '../src/adapters/wireguard/memory-interface.ts'
import { createUapiInterface } from '../src/adapters/wireguard/uapi-interface.ts'
import { createEnrollmentToken } from '../src/core/broker/gateway-feed.ts'
import type { Store } from '../src/core/ports.ts'
import type { WireGuardInterface } from '../src/core/sync/peer-state.ts'
import { type NodeServer, startNodeServer } from '../src/entrypoints/node-server.ts'
import { canRunNetnsLab, createNetnsLab, type NetnsLab } from '../test/support/netns.ts'
import { benchSessionCookie } from './bench-session.ts'
import { scratchPostgres } from './issuance-bench.ts'

const AGENT_COUNTS = [1, 10, 100] as const
const GATEWAYS = 100
const WARM_UP_CYCLES = 5
const AGENT_HOST_ENV = 'KEYGATE_PROPAGATION_AGENT_HOST'

const gatewayName = (i: number) => `gw-${String(i + 1).padStart(3, '0')}`
/** Wall-clock milliseconds with sub-millisecond resolution, comparable across this machine's processes. */
const preciseNow = () => performance.timeOrigin + performance.now()

// --- messages between the broker process and the agent host --------------------------------------------

type ToAgents =
  | {
      type: 'start'
      brokerUrl: string
      gateways: Array<{ name: string; token: string; uapi: string | null }>
    }
  | { type: 'clock'; sent: number }
  | { type: 'cpu' }
  | { type: 'stop' }

type FromAgents =
  | { type: 'started'; names: string[] }
  | { type: 'applied'; gateway: string; set: string[]; removed: string[]; at: number }
  | { type: 'clock'; sent: number; at: number }
  | { type: 'cpu'; micros: number }
  | { type: 'stopped' }
  | { type: 'failed'; error: string }

// --- the agent host (a child process) ----------------------------------------------------------------------

async function agentHost(): Promise<void> {
  const send = (message: FromAgents) => process.send?.(message)
  const agents: Array<Awaited<ReturnType<typeof runGatewayAgent>>> = []
  process.on('message', (message: ToAgents) => {
    handle(message).catch((error: unknown) =>
      send({
        type: 'failed',
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      }),
    )
  })

  async function handle(message: ToAgents): Promise<void> {
    switch (message.type) {
      case 'clock':
        send({ type: 'clock', sent: message.sent, at: preciseNow() })
        return
      case 'cpu': {
        const usage = process.cpuUsage()
        send({ type: 'cpu', micros: usage.user + usage.system })
        return
      }
      case 'stop':
        await Promise.all(agents.map((agent) => agent.stop()))
        send({ type: 'stopped' })
        process.disconnect?.()
        return
      case 'start': {
        const broker = createBrokerClient(message.brokerUrl)
        const queue = [...message.gateways]
        // Enroll ten at a time, as a fleet coming up would, rather than a hundred in one burst.
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
              const gateway = next
              const inner: WireGuardInterface =
                gateway.uapi === null
                  ? createMemoryInterface(gateway.name)
                  : createUapiInterface(gateway.uapi)
              const wg: WireGuardInterface = {
                ...inner,
                name: inner.name,
                async applyPeers(delta) {
                  await inner.applyPeers(delta)
                  send({
                    type: 'applied',
                    gateway: gateway.name,
                    set: delta.set.map((p) => p.publicKey),
                    removed: delta.remove,
                    at: preciseNow(),
                  })
                },
              }
              const agent = await runGatewayAgent(
                { token: gateway.token },
                {
                  wg,
                  // The other agents' filter is in memory like their interfaces; the filter's own cost is
                  // measured by bench/wireguard-bench.ts against real nftables.
                  filter: createMemoryPacketFilter(),
                  brokers: [broker],
                  state: createMemoryAgentState(),
                  clock: systemClock,
                  random: cryptoRandom,
                  logger: silentLogger,
                },
              )
              agents.push(agent)
              // Connected and holding the first snapshot: its long poll now waits at the feed's head.
              const deadline = Date.now() + 30_000
              while (!(agent.snapshot().connected && agent.snapshot().version > 0)) {
                if (Date.now() > deadline) throw new Error(`${gateway.name} did not connect within 30 s`)
                await new Promise((r) => setTimeout(r, 10))
              }
            }
          }),
        )
        send({ type: 'started', names: message.gateways.map((g) => g.name) })
        return
      }
    }
  }
}

// --- the broker side ---------------------------------------------------------------------------------------

function benchPolicy(): string {
  const gateways = Array.from(
    { length: GATEWAYS },
    (_, i) =>
      `"${gatewayName(i)}": { "endpoint": "198.18.${i >> 8}.${(i & 255) + 1}:51820", "routes": { "svc": ["198.19.${i}.0/24"] } }`,
  )
  const dst = (n: number) => Array.from({ length: n }, (_, i) => `"${gatewayName(i)}:*"`).join(', ')
  return `{
  "network": { "ipv4": "198.18.128.0/17" },
  "leases": { "maxPerUser": 1000 },
  "gateways": { ${gateways.join(',\n    ')} },
  "groups": {
    "group:n1": ["idp:*:n1"], "group:n10": ["idp:*:n10"], "group:n100": ["idp:*:n100"],
  },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "12h" } },
  "grants": [
    { "src": ["group:n1"], "dst": [${dst(1)}], "assurance": "mfa", "ttl": "8h" },
    { "src": ["group:n10"], "dst": [${dst(10)}], "assurance": "mfa", "ttl": "8h" },
    { "src": ["group:n100"], "dst": [${dst(100)}], "assurance": "mfa", "ttl": "8h" },
  ],
}
`
}

/**
 * The store with the moment each issuance and revocation resolved (= committed), by key and lease id, and
 * a count of calls per method (the broker's database work per change).
 */
function timingStore(store: Store, committed: Map<string, number>, calls: Map<string, number>): Store {
  return new Proxy(store, {
    get(target, property) {
      if (typeof property === 'string') calls.set(property, (calls.get(property) ?? 0) + 1)
      if (property === 'issueLease') {
        const issue: Store['issueLease'] = async (input, now) => {
          const lease = await target.issueLease(input, now)
          committed.set(`issue:${lease.publicKey}`, preciseNow())
          return lease
        }
        return issue
      }
      if (property === 'revokeLease') {
        const revoke: Store['revokeLease'] = async (id, reason, audit, now) => {
          const lease = await target.revokeLease(id, reason, audit, now)
          committed.set(`revoke:${id}`, preciseNow())
          return lease
        }
        return revoke
      }
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

function summary(values: number[]): Record<string, number> {
  const sorted = [...values].sort((a, b) => a - b)
  const round = (v: number) => Number(v.toFixed(1))
  return {
    n: sorted.length,
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted.at(-1) ?? Number.NaN),
  }
}

/** CPU time (ms) of the PostgreSQL backends serving `database`, read from /proc (same machine, root or postgres). */
function postgresCpu(sql: postgres.Sql, database: string) {
  const tick = (() => {
    try {
      return 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    } catch {
      return 10
    }
  })()
  const cpuOf = (pid: number): number | null => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return (Number(fields[11]) + Number(fields[12])) * tick
    } catch {
      return null
    }
  }
  return async (): Promise<Map<number, number> | null> => {
    const rows = await sql<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE datname = ${database}`
    const out = new Map<number, number>()
    for (const { pid } of rows) {
      const cpu = cpuOf(pid)
      if (cpu === null) return null // not on this machine, or not readable
      out.set(pid, cpu)
    }
    return out
  }
}

export async function benchPropagation(): Promise<Record<string, unknown>> {
  const changes = Number(process.env.KEYGATE_BENCH_PROPAGATION_CHANGES ?? 200)
  const cycles = Math.max(1, Math.floor(changes / 2))
  const cleanups: Array<() => Promise<unknown>> = []
  let child: ChildProcess | null = null
  try {
    // --- database ---------------------------------------------------------------------------------------
    let database: OpenedDatabase
    let databaseKind: 'postgres' | 'pglite'
    let databaseUrl: string | undefined
    let pgCpu: (() => Promise<Map<number, number> | null>) | null = null
    try {
      const scratch = await scratchPostgres()
      cleanups.push(() => scratch.drop())
      databaseUrl = scratch.url
      database = await openDatabase({ databaseUrl })
      databaseKind = 'postgres'
      const observer = postgres(databaseUrl, { max: 1, onnotice: () => {} })
      cleanups.push(() => observer.end({ timeout: 2 }))
      pgCpu = postgresCpu(observer, new URL(databaseUrl).pathname.slice(1))
    } catch {
      database = await openDatabase({ pglite: 'memory' })
      databaseKind = 'pglite'
    }
    await database.migrate()
    const opened = database
    cleanups.push(() => opened.close())
    const committed = new Map<string, number>()
    const storeCalls = new Map<string, number>()
    const timed: OpenedDatabase = { ...database, store: timingStore(database.store, committed, storeCalls) }

    // --- the broker --------------------------------------------------------------------------------------
    const dir = await mkdtemp(join(tmpdir(), 'keygate-propagation-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const policyPath = join(dir, 'policy.hujson')
    await writeFile(policyPath, benchPolicy())
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const secret = randomBytes(32).toString('base64url')
    const server: NodeServer = await startNodeServer({
      env: {
        KEYGATE_URL: url,
        HOST: '127.0.0.1',
        PORT: String(port),
        KEYGATE_DATA_DIR: dir,
        KEYGATE_POLICY: policyPath,
        KEYGATE_SECRET: secret,
        KEYGATE_DEV_IDP: 'on', // some IdP must exist; sessions are made directly below
        KEYGATE_RATE_LIMIT_ISSUE: 'off', // the propagation is measured, not the abuse limit
        ...(databaseUrl === undefined ? {} : { DATABASE_URL: databaseUrl }),
      },
      database: timed,
      logger: silentLogger,
      watchPolicy: false,
    })
    cleanups.push(() => server.close())

    // Signed-in sessions, made the way the callback makes them: one user per agent count's grant.
    const cookies = new Map<number, string>()
    for (const n of AGENT_COUNTS) {
      cookies.set(
        n,
        await benchSessionCookie(database.store, {
          secret,
          url,
          subject: `n${n}`,
          groups: [`n${n}`],
          ttlMs: 6 * 3_600_000,
        }),
      )
    }

    // --- a real gateway for gw-001, when the machine can --------------------------------------------------
    let lab: NetnsLab | null = null
    let realInterface: string | null = null
    if (await canRunNetnsLab()) {
      lab = createNetnsLab()
      const labRef = lab
      cleanups.push(() => labRef.cleanup())
      const ns = await lab.namespace('prop')
      realInterface = (await lab.startWireGuardGo(ns)).iface
    }

    // --- the agent host ----------------------------------------------------------------------------------
    const self = fileURLToPath(import.meta.url)
    const execArgv = process.execArgv.some((a) => a.includes('tsx')) ? process.execArgv : ['--import', 'tsx']
    const host = fork(self, [], {
      env: { ...process.env, [AGENT_HOST_ENV]: '1' },
      execArgv,
      stdio: 'inherit',
    })
    child = host
    const waiters = new Set<(message: FromAgents) => void>()
    let failure: string | null = null
    host.on('message', (message: FromAgents) => {
      if (message.type === 'failed') failure = message.error
      for (const waiter of [...waiters]) waiter(message)
    })
    const next = <T extends FromAgents>(match: (m: FromAgents) => m is T, withinMs = 60_000): Promise<T> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new Error(`agent host: no answer within ${withinMs} ms${failure ? `: ${failure}` : ''}`))
        }, withinMs)
        const waiter = (message: FromAgents) => {
          if (message.type === 'failed') {
            clearTimeout(timer)
            waiters.delete(waiter)
            reject(new Error(`agent host failed: ${message.error}`))
          } else if (match(message)) {
            clearTimeout(timer)
            waiters.delete(waiter)
            resolve(message)
          }
        }
        waiters.add(waiter)
      })
    const send = (message: ToAgents) => host.send(message)

    // Align the clocks: the exchange with the shortest round trip bounds the offset best.
    let offset = 0
    let bestRtt = Number.POSITIVE_INFINITY
    for (let i = 0; i < 30; i++) {
      const sent = preciseNow()
      const answer = next(
        (m): m is Extract<FromAgents, { type: 'clock' }> => m.type === 'clock' && m.sent === sent,
      )
      send({ type: 'clock', sent })
      const reply = await answer
      const received = preciseNow()
      if (received - sent < bestRtt) {
        bestRtt = received - sent
        offset = reply.at - (sent + received) / 2 // child clock minus ours
      }
    }

    // Applied events, waited for per key.
    const appliedWaiters = new Map<string, { want: Set<string>; at: Map<string, number>; done: () => void }>()
    host.on('message', (message: FromAgents) => {
      if (message.type !== 'applied') return
      for (const [key, kind] of [
        ...message.set.map((k) => [k, 'set'] as const),
        ...message.removed.map((k) => [k, 'removed'] as const),
      ]) {
        const waiter = appliedWaiters.get(`${kind}:${key}`)
        if (waiter === undefined || !waiter.want.has(message.gateway) || waiter.at.has(message.gateway))
          continue
        waiter.at.set(message.gateway, message.at - offset)
        if (waiter.at.size === waiter.want.size) waiter.done()
      }
    })
    const whenApplied = (kind: 'set' | 'removed', key: string, gateways: string[]) => {
      let done!: () => void
      const finished = new Promise<void>((resolve) => {
        done = resolve
      })
      const entry = { want: new Set(gateways), at: new Map<string, number>(), done }
      appliedWaiters.set(`${kind}:${key}`, entry)
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(
          () =>
            reject(
              new Error(`${kind} ${key}: applied on ${entry.at.size}/${gateways.length} gateways after 30 s`),
            ),
          30_000,
        ).unref(),
      )
      return Promise.race([finished, timeout]).then(() => {
        appliedWaiters.delete(`${kind}:${key}`)
        return entry.at
      })
    }

    const api = async (path: string, cookie: string, init: { method: string; json?: unknown }) => {
      const response = await server.app.fetch(
        new Request(`${url}${path}`, {
          method: init.method,
          headers: { cookie, ...(init.json === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
        }),
      )
      const body = (await response.json()) as { id?: string }
      if (response.status >= 300)
        throw new Error(`${init.method} ${path}: ${response.status} ${JSON.stringify(body)}`)
      return body
    }

    const cpuOfAgents = async () => {
      const answer = next((m): m is Extract<FromAgents, { type: 'cpu' }> => m.type === 'cpu')
      send({ type: 'cpu' })
      return (await answer).micros / 1000
    }

    const results: Record<string, unknown> = {}
    let connected = 0
    for (const n of AGENT_COUNTS) {
      // Bring the fleet up to n connected agents.
      const adding = []
      for (let i = connected; i < n; i++) {
        const name = gatewayName(i)
        const { token } = await createEnrollmentToken(server.broker, name, 'bench')
        adding.push({ name, token, uapi: i === 0 ? realInterface : null })
      }
      const started = next(
        (m): m is Extract<FromAgents, { type: 'started' }> => m.type === 'started',
        120_000,
      )
      send({ type: 'start', brokerUrl: url, gateways: adding })
      await started
      connected = n
      const gateways = Array.from({ length: n }, (_, i) => gatewayName(i))
      const cookie = cookies.get(n)!

      const cycle = async (measure: boolean) => {
        const publicKey = randomBytes(32).toString('base64')
        const onAll = whenApplied('set', publicKey, gateways)
        const { id } = await api('/api/v1/peers', cookie, { method: 'POST', json: { publicKey } })
        const setAt = await onAll
        const offAll = whenApplied('removed', publicKey, gateways)
        await api(`/api/v1/peers/${id}`, cookie, { method: 'DELETE' })
        const removedAt = await offAll
        const issuedAt = committed.get(`issue:${publicKey}`)!
        const revokedAt = committed.get(`revoke:${id}`)!
        committed.delete(`issue:${publicKey}`)
        committed.delete(`revoke:${id}`)
        if (!measure) return null
        const times = (at: Map<string, number>, from: number) => [...at.values()].map((t) => t - from)
        const issue = times(setAt, issuedAt)
        const revoke = times(removedAt, revokedAt)
        return {
          issueEvery: Math.max(...issue),
          issueFirst: Math.min(...issue),
          revokeEvery: Math.max(...revoke),
          revokeFirst: Math.min(...revoke),
          realGateway:
            realInterface === null
              ? null
              : [setAt.get(gatewayName(0))! - issuedAt, removedAt.get(gatewayName(0))! - revokedAt],
        }
      }
      for (let i = 0; i < WARM_UP_CYCLES; i++) await cycle(false)

      const pgBefore = pgCpu === null ? null : await pgCpu()
      const agentsBefore = await cpuOfAgents()
      storeCalls.clear()
      const cpuBefore = process.cpuUsage()
      const wallBefore = performance.now()
      const samples = []
      for (let i = 0; i < cycles; i++) samples.push((await cycle(true))!)
      const wall = performance.now() - wallBefore
      const cpu = process.cpuUsage(cpuBefore)
      const agentsCpu = (await cpuOfAgents()) - agentsBefore
      const pgAfter = pgCpu === null ? null : await pgCpu()
      let pgMs: number | null = null
      if (pgBefore !== null && pgAfter !== null) {
        pgMs = 0
        for (const [pid, after] of pgAfter) pgMs += after - (pgBefore.get(pid) ?? 0)
      }
      const perChange = (ms: number) => Number((ms / (cycles * 2)).toFixed(2))
      const real = samples.flatMap((s) => (s.realGateway === null ? [] : [s.realGateway]))
      results[`agents${n}`] = {
        agents: n,
        changes: cycles * 2,
        issuance: {
          everyGateway: summary(samples.map((s) => s.issueEvery)),
          firstGateway: summary(samples.map((s) => s.issueFirst)),
        },
        revocation: {
          everyGateway: summary(samples.map((s) => s.revokeEvery)),
          firstGateway: summary(samples.map((s) => s.revokeFirst)),
        },
        ...(real.length === 0
          ? {}
          : {
              realWireGuardGateway: {
                issuance: summary(real.map((r) => r[0]!)),
                revocation: summary(real.map((r) => r[1]!)),
              },
            }),
        brokerCpuMsPerChange: perChange((cpu.user + cpu.system) / 1000),
        agentsCpuMsPerChange: perChange(agentsCpu),
        postgresBackendsCpuMsPerChange: pgMs === null ? null : perChange(pgMs),
        storeCallsPerChange: Object.fromEntries(
          [...storeCalls].sort((x, y) => y[1] - x[1]).map(([method, count]) => [method, perChange(count)]),
        ),
        changesPerSecond: Number(((cycles * 2) / (wall / 1000)).toFixed(1)),
      }
    }

    const stopped = next((m): m is Extract<FromAgents, { type: 'stopped' }> => m.type === 'stopped', 60_000)
    send({ type: 'stop' })
    await stopped
    return {
      database: databaseKind,
      notifier:
        databaseKind === 'postgres' ? 'LISTEN/NOTIFY (as the Node server runs on PostgreSQL)' : 'in-process',
      gateways:
        realInterface === null
          ? 'all agents apply to in-memory interfaces (not root or no wireguard-go)'
          : 'gw-001 applies to a real wireguard-go interface over UAPI; the other agents apply to in-memory interfaces',
      agentsProcess:
        "the agents run in a child Node process; brokerCpu is the broker process alone (includes this driver's issuing requests through app.fetch and its IPC), postgresBackendsCpu the database server's backends for the scratch database",
      measured:
        'from the store call committing (issueLease / revokeLease resolved) to the interface write resolving on every gateway (max over gateways) and on the first; the next change starts only after the previous one is applied everywhere',
      clockAlignmentRttMs: Number(bestRtt.toFixed(3)),
      goals: { p50Ms: 100, p99Ms: 500, at: '100 gateways' },
      ...results,
    }
  } finally {
    if (child !== null && child.exitCode === null) child.kill('SIGKILL')
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  }
}

if (process.env[AGENT_HOST_ENV] === '1') {
  await agentHost()
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await benchPropagation(), null, 2))
}
