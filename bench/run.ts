// `npm run bench`: every benchmark the issues name, in one run, so ratios compare figures taken under the
// same load. Prints one JSON document (machine, command, figures); docs/benchmarks.md records a run.
// Benchmarks that need root, wireguard-go or Chromium report `skipped` with the reason instead of failing.
import { execFileSync } from 'node:child_process'
import { cpus, loadavg, totalmem } from 'node:os'
import { openDatabase } from '../src/adapters/storage/open-database.ts'
import { benchFilter } from './filter-bench.ts'
import { benchIssuance, scratchPostgres } from './issuance-bench.ts'
import { benchPolicy } from './policy-bench.ts'
import { benchStartup } from './startup-bench.ts'
import { benchBareTransaction } from './storage-bench.ts'
import { benchSnapshotApply } from './wireguard-bench.ts'

type Section = () => Promise<unknown>

const SECONDS = Number(process.env.KEYGATE_BENCH_SECONDS ?? 5)

async function issuance(): Promise<unknown> {
  const pglite = await openDatabase({ pglite: 'memory' })
  await pglite.migrate()
  const onPglite = await benchIssuance(pglite, 'pglite', SECONDS, 8)
  await pglite.close()

  const scratch = await scratchPostgres()
  try {
    const pg = await openDatabase({ databaseUrl: scratch.url, poolSize: 16 })
    await pg.migrate()
    // Alternate broker and bare rounds so machine noise falls on both; report medians and their ratio.
    const broker: number[] = []
    const bare: number[] = []
    const rounds: unknown[] = []
    for (let round = 0; round < 3; round++) {
      const figures = await benchIssuance(pg, 'postgres', SECONDS, 32)
      rounds.push(figures)
      broker.push(figures.perSecond)
      bare.push(Math.round(await benchBareTransaction(scratch.url, SECONDS, { clients: 16 })))
    }
    await pg.close()
    const ratios = broker.map((b, i) => b / bare[i]!)
    return {
      pglite: onPglite,
      postgres: {
        rounds,
        brokerPerSecond: broker,
        barePerSecond: bare,
        medianRatio: Number(median(ratios).toFixed(2)),
      },
    }
  } finally {
    await scratch.drop()
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

async function optional(path: string, name: string): Promise<Section> {
  return async () => {
    const module = (await import(path)) as Record<string, () => Promise<unknown>>
    const bench = module[name]
    if (bench === undefined) return { skipped: `${path} has no ${name}` }
    return bench()
  }
}

const sections: Record<string, Section> = {
  startup: () => benchStartup(),
  issuance,
  policy: benchPolicy,
  wireguardSnapshot: benchSnapshotApply,
  filter: benchFilter,
  propagation: await optional('./propagation-bench.ts', 'benchPropagation'),
  portal: await optional('./portal-bench.ts', 'benchPortal'),
  workers: await optional('./workers-bench.ts', 'benchWorkers'),
  faults: await optional('./faults-bench.ts', 'benchFaults'),
  scimDeactivation: await optional('./scim-deactivation-bench.ts', 'benchScimDeactivation'),
  clientApproval: await optional('./client-approval-bench.ts', 'benchClientApproval'),
  restart: await optional('./restart-bench.ts', 'benchRestart'),
}

const only = process.argv.slice(2)
const results: Record<string, unknown> = {}
for (const [name, run] of Object.entries(sections)) {
  if (only.length > 0 && !only.includes(name)) continue
  const started = performance.now()
  try {
    results[name] = await run()
  } catch (error) {
    results[name] = { failed: error instanceof Error ? error.message : String(error) }
  }
  process.stderr.write(`bench ${name}: ${((performance.now() - started) / 1000).toFixed(1)} s\n`)
}

const report = {
  command: `npm run bench${only.length > 0 ? ` -- ${only.join(' ')}` : ''}`,
  at: new Date().toISOString(),
  machine: {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverageAtEnd: loadavg().map((l) => Number(l.toFixed(2))),
    postgres: safe(() =>
      execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-Atc', 'show server_version'], {
        encoding: 'utf8',
      }).trim(),
    ),
  },
  results,
}
console.log(JSON.stringify(report, null, 2))

function safe(read: () => string): string | null {
  try {
    return read()
  } catch {
    return null
  }
}
