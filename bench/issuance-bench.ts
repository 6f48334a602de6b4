// Issuance through the HTTP app with a signed-in session (the sign-in itself excluded): throughput and
// p50/p99 latency of `POST /api/v1/peers`, on PGlite and on PostgreSQL. Requests go through `app.fetch`
// in this process, so the figure is the broker's own cost (routing, cookie, session check, policy,
// preshared-key sealing, the store's transaction, config rendering) without a client's socket overhead.
//
// Run alone: `npm exec -- tsx bench/issuance-bench.ts [seconds]`.
import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import postgres from 'postgres'
import { createLocalChangeNotifier } from '../src/adapters/notify/local-change-notifier.ts'
import { silentLogger } from '../src/adapters/runtime/json-logger.ts'
import { type OpenedDatabase, openDatabase } from '../src/adapters/storage/open-database.ts'
import { NO_RATE_LIMITS } from '../src/core/limits/rate-limit.ts'
import { loadPolicy } from '../src/core/policy/index.ts'
import { composeApp } from '../src/entrypoints/compose-app.ts'
import { enrolGatewaysInStore } from '../test/support/enrol-gateways.ts'
import { benchSessionCookie } from './bench-session.ts'

const BENCH_URL = 'http://127.0.0.1:8080'

export const BENCH_POLICY = `{
  "network": { "ipv4": "100.64.0.0/10", "ipv6": "fd7a:115c:a1e0::/64" },
  "leases": { "maxPerUser": 1000 },
  "gateways": {
    "gw-a": { "endpoint": "198.18.0.1:51820", "routes": { "prod": ["10.10.0.0/16"] } },
    "gw-b": { "endpoint": "198.18.0.2:51820", "routes": { "prod": ["10.20.0.0/16"] } },
  },
  "groups": { "group:eng": ["idp:*:engineering"] },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "12h" } },
  "grants": [ { "src": ["group:eng"], "dst": ["gw-a:*", "gw-b:*"], "assurance": "mfa", "ttl": "8h" } ],
}`

export interface IssuanceFigures {
  database: 'pglite' | 'postgres'
  concurrency: number
  seconds: number
  issuances: number
  perSecond: number
  p50Ms: number
  p99Ms: number
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

export async function scratchPostgres(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = process.env.KEYGATE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const name = `keygate_bench_${randomBytes(4).toString('hex')}`
  const sql = postgres(admin, { max: 1, onnotice: () => {} })
  await sql.unsafe(`CREATE DATABASE ${name}`)
  await sql.end()
  const url = new URL(admin)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const dropper = postgres(admin, { max: 1, onnotice: () => {} })
      await dropper.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await dropper.end()
    },
  }
}

/** Issuances through `app.fetch` for `seconds`, `concurrency` requests in flight. */
export async function benchIssuance(
  database: OpenedDatabase,
  kind: 'pglite' | 'postgres',
  seconds: number,
  concurrency: number,
): Promise<IssuanceFigures> {
  const loaded = loadPolicy(BENCH_POLICY, 'bench.hujson')
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join('\n'))
  const secret = randomBytes(32).toString('base64url')
  // Issuance refuses a lease no granted gateway has enrolled for (NO_GATEWAY_ENROLLED): enrol both, as
  // their agents would, so the figure includes rendering their [Peer] sections.
  const enrolled = new Set(
    (await database.store.listGateways()).filter((g) => g.publicKey !== null).map((g) => g.name),
  )
  await enrolGatewaysInStore(
    database.store,
    ['gw-a', 'gw-b'].filter((g) => !enrolled.has(g)),
    { ipv4: '100.64.0.0/10', ipv6: 'fd7a:115c:a1e0::/64' },
  )
  const { app } = await composeApp({
    // The broker's work is measured, not its abuse limits.
    config: { url: BENCH_URL, production: false, rateLimits: NO_RATE_LIMITS },
    store: database.store,
    secret,
    policy: () => loaded.policy,
    idps: new Map(),
    logger: silentLogger,
    notifier: createLocalChangeNotifier(),
  })

  // Signed-in sessions, made the way the callback makes one; issuances rotate over many people, as in use
  // (each person holds at most the policy's leases.maxPerUser).
  const cookies: string[] = []
  for (let i = 0; i < 200; i++) {
    cookies.push(
      await benchSessionCookie(database.store, {
        secret,
        url: BENCH_URL,
        subject: `bench-${i}`,
        groups: ['engineering'],
        ttlMs: 3_600_000,
      }),
    )
  }
  let turn = 0

  // Key generation is the client's work, not the broker's: random 32 bytes stand for a public key.
  const nextKey = () => randomBytes(32).toString('base64')

  const issueOne = async () => {
    const response = await app.fetch(
      new Request(`${BENCH_URL}/api/v1/peers`, {
        method: 'POST',
        headers: { cookie: cookies[turn++ % cookies.length]!, 'content-type': 'application/json' },
        body: JSON.stringify({ publicKey: nextKey() }),
      }),
    )
    if (response.status !== 201)
      throw new Error(`issuance failed: ${response.status} ${await response.text()}`)
    await response.arrayBuffer()
  }
  for (let i = 0; i < 50; i++) await issueOne() // warm-up: JIT, connection pool, prepared statements

  const latencies: number[] = []
  const deadline = performance.now() + seconds * 1000
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now()
        await issueOne()
        latencies.push(performance.now() - t)
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return {
    database: kind,
    concurrency,
    seconds: Number(elapsed.toFixed(2)),
    issuances: latencies.length,
    perSecond: Math.round(latencies.length / elapsed),
    p50Ms: Number(percentile(latencies, 50).toFixed(2)),
    p99Ms: Number(percentile(latencies, 99).toFixed(2)),
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const seconds = Number(process.argv[2] ?? 5)
  const pglite = await openDatabase({ pglite: 'memory' })
  await pglite.migrate()
  console.log(JSON.stringify(await benchIssuance(pglite, 'pglite', seconds, 8)))
  await pglite.close()
  const scratch = await scratchPostgres()
  const pg = await openDatabase({ databaseUrl: scratch.url, poolSize: 16 })
  await pg.migrate()
  console.log(JSON.stringify(await benchIssuance(pg, 'postgres', seconds, 32)))
  await pg.close()
  await scratch.drop()
}
