/**
 * Start-up (issue 15): wall time of `keygate policy check`, `policy explain`, `serve` on PostgreSQL until
 * /healthz answers, and `serve` on an existing PGlite data dir until /healthz answers, for the release
 * build (`node dist/cli.js`) against the same verbs as they ran before the build existed (the sources of
 * BEFORE_COMMIT through tsx, extracted with `git archive`). Rounds alternate before/after so the shared
 * machine's noise falls on both; medians and ratios are reported. A last section times PGlite alone
 * (import + open of the same existing data dir, no Keygate code) to show how much of `serve` it is.
 * Run alone: `npm exec -- tsx bench/startup-bench.ts [rounds]`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { freeLoopbackPort } from '../test/support/test-broker.ts'
import { scratchPostgres } from './issuance-bench.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
/** The last commit before the release build: every verb ran the TypeScript sources through tsx. */
const BEFORE_COMMIT = process.env.KEYGATE_BENCH_STARTUP_BEFORE ?? 'da1478d'
const POLICY = join(ROOT, 'policies/policy.hujson')
const EXPLAIN = ['--user', 'alice@example.com', '--groups', 'engineering', '--amr', 'pwd,mfa']

interface Variant {
  name: 'before' | 'after'
  argv: string[]
  cwd: string
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const ms = (value: number) => Math.round(value)

async function timeExit(variant: Variant, args: string[]): Promise<number> {
  const started = performance.now()
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [...variant.argv, ...args], { cwd: variant.cwd, stdio: 'ignore' })
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args[0]} exited ${code}`))))
  })
  return performance.now() - started
}

/** Starts `serve`, polls /healthz every 10 ms until it answers 200, then stops the server. */
async function timeServe(variant: Variant, env: Record<string, string>): Promise<number> {
  const port = await freeLoopbackPort()
  const started = performance.now()
  const child: ChildProcess = spawn(process.execPath, [...variant.argv, 'serve'], {
    cwd: variant.cwd,
    env: {
      ...process.env,
      KEYGATE_URL: `http://localhost:${port}`,
      KEYGATE_POLICY: POLICY,
      KEYGATE_LOG_FORMAT: 'json',
      KEYGATE_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: 'ignore',
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  let failed: number | null | undefined
  void exited.then((code) => {
    failed = code
  })
  try {
    for (;;) {
      if (failed !== undefined) throw new Error(`serve exited with ${failed} before answering`)
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
      if (ok) return performance.now() - started
      await new Promise((r) => setTimeout(r, 10))
    }
  } finally {
    child.kill('SIGTERM')
    await exited
  }
}

/** PGlite alone, in a fresh process: import the package and open an existing data dir. */
async function timePgliteOpen(
  dataDir: string,
): Promise<{ importMs: number; openMs: number; totalMs: number }> {
  const script = `
    const t0 = performance.now()
    const { PGlite } = await import('@electric-sql/pglite')
    const t1 = performance.now()
    const db = new PGlite(${JSON.stringify(join(dataDir, 'pglite'))})
    await db.waitReady
    const t2 = performance.now()
    await db.close()
    process.stdout.write(JSON.stringify({ importMs: t1 - t0, openMs: t2 - t1 }))`
  const started = performance.now()
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
  })
  const totalMs = performance.now() - started
  const parsed = JSON.parse(out) as { importMs: number; openMs: number }
  return { importMs: ms(parsed.importMs), openMs: ms(parsed.openMs), totalMs: ms(totalMs) }
}

export async function benchStartup(rounds = Number(process.env.KEYGATE_BENCH_STARTUP_ROUNDS ?? 5)) {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT })
  const work = await mkdtemp(join(tmpdir(), 'keygate-startup-'))
  const beforeTree = join(work, 'before')
  execFileSync(
    'bash',
    ['-c', `mkdir -p "${beforeTree}" && git archive ${BEFORE_COMMIT} | tar -x -C "${beforeTree}"`],
    {
      cwd: ROOT,
    },
  )
  await symlink(join(ROOT, 'node_modules'), join(beforeTree, 'node_modules'))
  const variants: Variant[] = [
    { name: 'before', argv: ['--import', 'tsx', 'src/entrypoints/cli.ts'], cwd: beforeTree },
    { name: 'after', argv: [join(ROOT, 'dist/cli.js')], cwd: ROOT },
  ]
  const scratch = await scratchPostgres()
  const secret = randomBytes(32).toString('base64url')
  const samples: Record<string, Record<'before' | 'after', number[]>> = {
    policyCheck: { before: [], after: [] },
    policyExplain: { before: [], after: [] },
    servePostgres: { before: [], after: [] },
    servePgliteExisting: { before: [], after: [] },
  }
  try {
    execFileSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'migrate'], {
      env: { ...process.env, DATABASE_URL: scratch.url },
      stdio: 'ignore',
    })
    // One data dir, created (initdb + migrations) by a first, unmeasured start and then reopened by both
    // variants in turn (never at once); both know the same migrations.
    const dataDir = join(work, 'data')
    await timeServe(variants[1]!, { KEYGATE_DATA_DIR: dataDir, KEYGATE_SECRET: secret })
    const dataDirs = { before: dataDir, after: dataDir }

    for (let round = 0; round < rounds; round++) {
      for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
        samples.policyCheck![variant.name].push(await timeExit(variant, ['policy', 'check', POLICY]))
        samples.policyExplain![variant.name].push(await timeExit(variant, ['policy', 'explain', ...EXPLAIN]))
        samples.servePostgres![variant.name].push(
          await timeServe(variant, {
            DATABASE_URL: scratch.url,
            KEYGATE_DATA_DIR: join(work, `pg-${variant.name}`),
            KEYGATE_SECRET: secret,
          }),
        )
        samples.servePgliteExisting![variant.name].push(
          await timeServe(variant, { KEYGATE_DATA_DIR: dataDirs[variant.name], KEYGATE_SECRET: secret }),
        )
      }
      process.stderr.write(`startup round ${round + 1}/${rounds}: ${JSON.stringify(samples)}\n`)
    }
    const pglite: Array<{ importMs: number; openMs: number; totalMs: number }> = []
    for (let round = 0; round < Math.min(rounds, 3); round++)
      pglite.push(await timePgliteOpen(dataDirs.after))

    const figures = Object.fromEntries(
      Object.entries(samples).map(([name, { before, after }]) => [
        name,
        {
          beforeMedianMs: ms(median(before)),
          afterMedianMs: ms(median(after)),
          speedup: Number((median(before) / median(after)).toFixed(1)),
          beforeMs: before.map(ms),
          afterMs: after.map(ms),
        },
      ]),
    )
    const pgliteMedian = median(pglite.map((p) => p.totalMs))
    return {
      before: `${BEFORE_COMMIT} through tsx`,
      after: 'node dist/cli.js (npm run build)',
      rounds,
      goalsMs: { policyCheck: 1000, policyExplain: 1000, servePostgres: 1500, servePgliteExisting: 3000 },
      ...figures,
      pgliteAlone: {
        medianTotalMs: ms(pgliteMedian),
        runs: pglite,
        shareOfServe: Number((pgliteMedian / median(samples.servePgliteExisting!.after)).toFixed(2)),
      },
    }
  } finally {
    await scratch.drop()
    await rm(work, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rounds = process.argv[2] === undefined ? undefined : Number(process.argv[2])
  console.log(JSON.stringify(await benchStartup(rounds), null, 2))
}
