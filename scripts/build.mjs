/**
 * `npm run build`: the release build, with esbuild (plain Node, no TypeScript loader, so it runs fast).
 * - dist/cli.js: the `keygate` command, our sources in one module plus lazily loaded chunks (each verb
 *   loads only what it needs, so `policy check` never parses the HTTP server, PGlite or the dev IdP).
 *   npm packages are bundled too: resolving them at start-up (Node reading hundreds of package.json
 *   files) was most of `serve`'s start. Only those that load files of their own at run time stay
 *   external and come from the package's dependencies: PGlite (its WebAssembly and data files), pino
 *   and pino-pretty (a transport runs in a worker thread by module name), and oidc-provider (the
 *   development IdP only).
 * - dist/keygate-gateway.mjs: the gateway agent alone, with every dependency bundled in, so a gateway
 *   host needs this one file and Node 22+.
 * The Worker is built by wrangler from the sources (its own esbuild step), see docs/workers.md.
 */
import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
}

// Bundled CommonJS dependencies call require(); give the ES module one.
const REQUIRE_SHIM =
  "import { createRequire as __keygateRequire } from 'node:module'; const require = __keygateRequire(import.meta.url);"

// `--clean` (npm pack) starts from an empty dist/; otherwise files are overwritten in place, so a process
// running dist/cli.js meanwhile (a test, the bench) never finds it missing.
if (process.argv.includes('--clean')) await rm(`${root}dist`, { recursive: true, force: true })

await Promise.all([
  build({
    ...common,
    entryPoints: { cli: 'src/entrypoints/cli.ts' },
    outdir: 'dist',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    external: ['@electric-sql/pglite', '@electric-sql/pglite/*', 'pino', 'pino-pretty', 'oidc-provider'],
    // The ES module builds: jsonc-parser's default (UMD) one requires its parts by relative path at run time.
    mainFields: ['module', 'main'],
    banner: { js: REQUIRE_SHIM },
  }),
  build({
    ...common,
    entryPoints: ['src/entrypoints/gateway-main.ts'],
    outfile: 'dist/keygate-gateway.mjs',
    banner: { js: `#!/usr/bin/env node\n${REQUIRE_SHIM}` },
  }),
])
