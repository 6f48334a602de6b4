// The broker on Workers against the broker on Node, in the same run, on the same PostgreSQL database:
// p50/p99 latency of `POST /api/v1/peers` over loopback HTTP, one request at a time (the Worker in
// workerd through wrangler's local runtime, postgres.js over Hyperdrive's local emulation; the Node
// server with its pooled postgres.js), and the time from an issuance to a waiting gateway's sync answer
// (Workers: the polling notifier; Node: LISTEN/NOTIFY). Sign-ins go through the real oidc-provider and
// are excluded. Rounds alternate between the two so machine noise falls on both.
//
// Run alone: `npm exec -- tsx bench/workers-bench.ts [requests-per-round]`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createEnrollmentToken } from '../src/core/broker/gateway-feed.ts'
import type { CookieJar } from '../test/support/login-driver.ts'
import { startTestBroker, type TestBroker } from '../test/support/test-broker.ts'
import { createTestDatabase } from '../test/support/test-db.ts'
import { startTestWorker, type TestWorker } from '../test/workers/support/test-worker.ts'

const POLICY = `{
  "network": { "ipv4": "100.64.0.0/10", "ipv6": null, "dns": [] },
  "leases": { "maxPerUser": 1000 },
  "gateways": { "gw-a": { "endpoint": "198.18.0.1:51820", "routes": { "prod": ["10.10.0.0/16"] } } },
  "groups": { "group:eng": ["idp:*:engineering"] },
  "assurance": { "mfa": { "mfa": true, "maxAuthAge": "12h" } },
  "grants": [ { "src": ["group:eng"], "dst": ["gw-a:*"], "assurance": "mfa", "ttl": "8h" } ],
}`

export interface RuntimeFigures {
  requests: number
  p50Ms: number
  p99Ms: number
  /** Issuance commit to a waiting gateway's answer, median of the samples. */
  syncP50Ms: number
  syncMaxMs: number
}

export interface WorkersFigures {
  workers: RuntimeFigures
  node: RuntimeFigures
  /** Workers over Node: above 1 means the Worker is slower. */
  ratioP50: number
  ratioP99: number
  note: string
}

interface Target {
  api: TestBroker['api']
  jar: CookieJar
  credential: string
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

function publicKey(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')
}

async function issueTimed(target: Target): Promise<number> {
  const started = performance.now()
  const response = await target.api(target.jar, '/api/v1/peers', {
    method: 'POST',
    json: { publicKey: publicKey() },
  })
  await response.arrayBuffer()
  if (response.status !== 201) throw new Error(`issuance failed: HTTP ${response.status}`)
  return performance.now() - started
}

async function syncLatency(target: Target): Promise<number> {
  const sync = (since: number, wait: number) =>
    target.api(null, `/api/v1/gateways/sync?since=${since}&wait=${wait}`, {
      headers: { authorization: `Bearer ${target.credential}` },
    })
  const first = await sync(0, 0)
  if (first.status !== 200) throw new Error(`sync failed: HTTP ${first.status} ${await first.text()}`)
  const { version } = (await first.json()) as { version: number }
  const waiting = sync(version, 25)
  // Let the waiting request reach its wait before the change lands.
  await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 1000))
  const response = await target.api(target.jar, '/api/v1/peers', {
    method: 'POST',
    json: { publicKey: publicKey() },
  })
  await response.arrayBuffer()
  const issuedAt = performance.now()
  const answer = (await (await waiting).json()) as { version: number }
  if (!(answer.version > version))
    throw new Error(`the waiting sync answered without the change: ${JSON.stringify(answer)}`)
  return performance.now() - issuedAt
}

async function enroll(api: TestBroker['api'], token: string): Promise<string> {
  const response = await api(null, '/api/v1/gateways/enroll', {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    json: { protocolVersion: 1, publicKey: publicKey() },
  })
  if (response.status !== 200)
    throw new Error(`enrollment failed: HTTP ${response.status} ${await response.text()}`)
  return ((await response.json()) as { credential: string }).credential
}

export async function benchWorkers(
  requestsPerRound = Number(process.env.KEYGATE_BENCH_WORKER_REQUESTS ?? 200),
): Promise<WorkersFigures> {
  process.env.KEYGATE_TEST_DB = 'postgres'
  const db = await createTestDatabase()
  const scratch = await mkdtemp(join(tmpdir(), 'keygate-workers-bench-'))
  let worker: TestWorker | undefined
  let node: TestBroker | undefined
  try {
    // The Worker bundles its policy through the `keygate:policy` alias: a module whose default export is the text.
    const policyModule = join(scratch, 'bench-policy.ts')
    await writeFile(policyModule, `export default ${JSON.stringify(POLICY)}\n`)
    worker = await startTestWorker({ database: db, policyModule, logLevel: 'error' })
    // Two deployments of one broker on one database: they must share KEYGATE_SECRET (sealed preshared keys).
    node = await startTestBroker({ policy: POLICY, database: db, env: { KEYGATE_SECRET: worker.secret } })

    const token = await createEnrollmentToken(node.server.broker, 'gw-a', 'bench')
    const credential = await enroll(worker.api, token.token)
    const targets: Record<'workers' | 'node', Target> = {
      workers: { api: worker.api, jar: (await worker.login()).jar, credential },
      node: { api: node.api, jar: (await node.login()).jar, credential },
    }

    const samples = { workers: [] as number[], node: [] as number[] }
    const syncSamples = { workers: [] as number[], node: [] as number[] }
    for (const name of ['workers', 'node'] as const)
      for (let i = 0; i < 20; i++) await issueTimed(targets[name])
    for (let round = 0; round < 3; round++) {
      for (const name of ['workers', 'node'] as const) {
        for (let i = 0; i < requestsPerRound; i++) samples[name].push(await issueTimed(targets[name]))
        for (let i = 0; i < 4; i++) syncSamples[name].push(await syncLatency(targets[name]))
      }
    }

    const figures = (name: 'workers' | 'node'): RuntimeFigures => {
      const sorted = [...samples[name]].sort((a, b) => a - b)
      const sync = [...syncSamples[name]].sort((a, b) => a - b)
      return {
        requests: sorted.length,
        p50Ms: Number(percentile(sorted, 50).toFixed(2)),
        p99Ms: Number(percentile(sorted, 99).toFixed(2)),
        syncP50Ms: Number(percentile(sync, 50).toFixed(1)),
        syncMaxMs: Number((sync.at(-1) ?? Number.NaN).toFixed(1)),
      }
    }
    const workers = figures('workers')
    const onNode = figures('node')
    return {
      workers,
      node: onNode,
      ratioP50: Number((workers.p50Ms / onNode.p50Ms).toFixed(2)),
      ratioP99: Number((workers.p99Ms / onNode.p99Ms).toFixed(2)),
      note: 'sequential POST /api/v1/peers over loopback HTTP, same PostgreSQL database; the Worker opens a postgres.js client per request (Hyperdrive local mode connects straight to PostgreSQL, without the pooler in between)',
    }
  } finally {
    await node?.close({ keepDatabase: true })
    await worker?.close()
    await db.close()
    await rm(scratch, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const requests = process.argv[2] === undefined ? undefined : Number(process.argv[2])
  console.log(JSON.stringify(await benchWorkers(requests), null, 2))
  process.exit(0)
}
