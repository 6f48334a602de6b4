/**
 * Files that ship in the package beside the code (the drizzle migrations, the example policy), found
 * from wherever this module ended up: `src/adapters/runtime/` when run from the sources, a chunk under
 * `dist/` when built, or `node_modules/keygate/dist/` when installed. Node only.
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The nearest directory above this module that holds `relativePath`; null when none does. */
export function findPackageFile(relativePath: string, from: string = import.meta.url): string | null {
  let dir = dirname(fileURLToPath(from))
  for (;;) {
    const candidate = join(dir, relativePath)
    if (existsSync(candidate)) return candidate
    const parent = dirname(dir)
    if (parent === dir) return null
    dir = parent
  }
}

/** The package's drizzle-kit migrations folder. */
export function migrationsFolder(): string {
  const journal = findPackageFile('drizzle/meta/_journal.json')
  if (journal === null) throw new Error('the drizzle/ migrations folder is missing from the Keygate package')
  return dirname(dirname(journal))
}

/** The commented example policy that ships with the package. */
export function examplePolicyPath(): string | null {
  return findPackageFile('policies/policy.hujson')
}
