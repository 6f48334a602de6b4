#!/usr/bin/env node
// The package's bin: the built CLI (`npm run build` makes dist/; the published package ships it).
// In a clone, `npm run keygate -- …` runs the TypeScript sources through tsx instead.
import { existsSync } from 'node:fs'
import module from 'node:module'

const cli = new URL('../dist/cli.js', import.meta.url)
if (!existsSync(cli)) {
  process.stderr.write(
    'keygate: dist/cli.js is missing; run `npm run build` first (or `npm run keygate -- …` in a clone)\n',
  )
  process.exit(1)
}
// V8's compiled code for Keygate and its dependencies is kept on disk (Node 22.1+), so every start after
// the first skips most parsing and compiling.
module.enableCompileCache?.()
await import(cli.href)
