/**
 * The data directory holds the embedded database, the generated development secret and the local admin
 * token: nobody but the server's user may read it. A pre-existing directory keeps its mode through
 * `mkdir`, and PGlite writes its files 0666 whatever the umask, so both are tightened at start: the
 * directories to 0700 (which alone makes every file below unreachable to others), the files to owner-only.
 * A directory this process cannot tighten (another owner) is refused.
 */
import type { Dirent } from 'node:fs'
import { chmod, mkdir, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { KeygateError } from '../../core/errors.ts'
import type { Logger } from '../../core/ports.ts'

export async function ensurePrivateDir(path: string, logger?: Logger): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 })
  const mode = (await stat(path)).mode & 0o777
  if ((mode & 0o077) === 0) return
  try {
    await chmod(path, 0o700)
  } catch (error) {
    throw new KeygateError(
      'CONFIG_INVALID',
      `The data directory ${path} is readable by other users (mode ${mode.toString(8)}) and could not be made private: ${(error as Error).message}`,
    )
  }
  logger?.warn('storage.data_dir_tightened', { path, from: mode.toString(8), to: '700' })
}

/** Removes group and world access from everything below `path` (PGlite's own files). */
export async function tightenTree(path: string): Promise<void> {
  let entries: Dirent[]
  try {
    entries = await readdir(path, { withFileTypes: true })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  await chmod(path, 0o700)
  for (const entry of entries) {
    const child = join(path, entry.name)
    if (entry.isDirectory()) await tightenTree(child)
    else if (entry.isFile()) await chmod(child, 0o600)
  }
}
