/**
 * The embedded database belongs to one process: an exclusive lock file in the data directory says which.
 *
 * The lock is created atomically with its content (the holder's pid is written to a private temp file,
 * then hard-linked into place, which fails if the lock exists: O_EXCL semantics without a window in which
 * the file exists but is empty). A lock whose pid is no longer running is stale (a crash) and is taken
 * over: it is first renamed aside, and only deleted if what was moved is the stale lock that was read, so
 * two processes racing for a stale lock cannot both win.
 */
import { randomUUID } from 'node:crypto'
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { KeygateError } from '../../core/errors.ts'

export const LOCK_FILE = 'pglite.lock'

export interface DataDirLock {
  readonly path: string
  release(): Promise<void>
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function readPid(path: string): Promise<number | null | 'missing'> {
  try {
    const text = (await readFile(path, 'utf8')).trim()
    return /^\d+$/.test(text) ? Number(text) : null
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
    throw error
  }
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code
}

export async function lockDataDir(dir: string): Promise<DataDirLock> {
  const path = join(dir, LOCK_FILE)
  const temp = join(dir, `${LOCK_FILE}.${process.pid}.${randomUUID()}`)
  await writeFile(temp, `${process.pid}\n`, { mode: 0o600 })
  try {
    for (let attempt = 0; attempt < 8; attempt++) {
      try {
        await link(temp, path)
        return { path, release: () => releaseLock(path) }
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') throw error
      }
      const holder = await readPid(path)
      if (holder === 'missing') continue
      // A lock held by this very process (opened twice) is as binding as anyone else's.
      if (holder !== null && isRunning(holder)) {
        throw new KeygateError(
          'DATABASE_LOCKED',
          `the embedded database in ${dir} is in use by process ${holder}. Stop that process, or let it do ` +
            `the work (a running server handles writes for the CLI), or set DATABASE_URL to use PostgreSQL. ` +
            `If no Keygate process is running, delete ${path} and try again.`,
        )
      }
      const aside = `${path}.stale-${process.pid}-${randomUUID()}`
      try {
        await rename(path, aside)
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') continue
        throw error
      }
      if ((await readPid(aside)) === holder) {
        await unlink(aside)
      } else {
        // Someone replaced the stale lock between our read and our rename: put theirs back.
        await link(aside, path).catch(() => {})
        await unlink(aside)
      }
    }
    throw new KeygateError(
      'DATABASE_LOCKED',
      `could not take the lock ${path}; another process keeps taking it`,
    )
  } finally {
    await unlink(temp).catch(() => {})
  }
}

async function releaseLock(path: string): Promise<void> {
  if ((await readPid(path)) === process.pid) await unlink(path).catch(() => {})
}
