// `wrangler deploy --dry-run` builds the Worker offline from the real wrangler.toml (nothing is
// uploaded), and the bundle stays well inside Workers' size limits (3 MB gzip on Free, 10 MB on Paid).
// docs/workers.md records the size this printed.
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const FREE_PLAN_GZIP_LIMIT = 3 * 1024 * 1024

it('builds with wrangler deploy --dry-run, offline, within the size limit', async () => {
  const outdir = await mkdtemp(join(tmpdir(), 'keygate-worker-build-'))
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', outdir],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          WRANGLER_SEND_METRICS: 'false',
          WRANGLER_SEND_ERROR_REPORTS: 'false',
          WRANGLER_HIDE_BANNER: 'true',
          CLOUDFLARE_CF_FETCH_ENABLED: 'false',
          NO_COLOR: '1',
        },
        timeout: 120_000,
      },
    )
    expect(stdout).toContain('--dry-run: exiting now.')
    const bundle = await readFile(join(outdir, 'worker.js'))
    const gzip = gzipSync(bundle).length
    console.log(
      `worker bundle: ${(bundle.length / 1024).toFixed(1)} KiB, gzip ${(gzip / 1024).toFixed(1)} KiB; ${/Total Upload:.*/.exec(stdout)?.[0]}`,
    )
    expect(gzip).toBeLessThan(FREE_PLAN_GZIP_LIMIT)
    // No Node-only module of the Node server (files, PGlite, the dev IdP) reached the Worker.
    expect(bundle.toString()).not.toMatch(/@electric-sql\/pglite|oidc-provider\/lib|data-dir-lock/)
    // The policy travels as its own text module next to the code.
    expect((await readdir(outdir)).some((name) => name.endsWith('policy.hujson'))).toBe(true)
  } finally {
    await rm(outdir, { recursive: true, force: true })
  }
})
