// Dependencies point inward: core imports nothing from a runtime, a framework or a driver
// (tailscale's deptest does the same). The check reads every file under src/core: an allow-list of the
// pure libraries core may use, so a new dependency in core is a decision, not an accident.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const FORBIDDEN_IMPORTS = [
  /^node:/,
  /^hono/,
  /^@hono\//,
  /^drizzle-orm/,
  /^postgres$/,
  /^@electric-sql\//,
  /^openid-client/,
  /^oidc-provider/,
  /^\.\.\/(\.\.\/)*(adapters|entrypoints)\//,
]
const ALLOWED_PACKAGES = [/^@noble\/(curves|hashes)\//, /^jsonc-parser$/]
const FORBIDDEN_GLOBALS = [
  /\bprocess\./,
  /\bDate\.now\(/,
  /\bnew Date\(\)/,
  /\bfetch\(/,
  /\bconsole\./,
  /\bMath\.random\(/,
]

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    return entry.isDirectory() ? filesUnder(path) : /\.tsx?$/.test(entry.name) ? [path] : []
  })
}

function importsOf(source: string): string[] {
  return [...source.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1]!)
}

describe('core is pure', () => {
  const files = filesUnder('src/core')

  it('has files to check', () => {
    expect(files.length).toBeGreaterThan(3)
  })

  it.each(files)('%s imports nothing outside core', (file) => {
    const bad = importsOf(readFileSync(file, 'utf8')).filter((spec) =>
      FORBIDDEN_IMPORTS.some((re) => re.test(spec)),
    )
    expect(bad).toEqual([])
  })

  it.each(files)('%s uses only the pure packages core may use', (file) => {
    const packages = importsOf(readFileSync(file, 'utf8')).filter((spec) => !spec.startsWith('.'))
    expect(packages.filter((spec) => !ALLOWED_PACKAGES.some((re) => re.test(spec)))).toEqual([])
  })

  it.each(files)('%s uses no runtime globals', (file) => {
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
    const bad = FORBIDDEN_GLOBALS.filter((re) => re.test(code)).map(String)
    expect(bad).toEqual([])
  })

  it('the checker itself catches a forbidden import', () => {
    const sample = "import { Hono } from 'hono'\nimport x from 'node:fs'\nimport { y } from './y.ts'"
    expect(importsOf(sample).filter((spec) => FORBIDDEN_IMPORTS.some((re) => re.test(spec)))).toEqual([
      'hono',
      'node:fs',
    ])
  })
})
