// The embedded database belongs to one process: a second opener is refused with DATABASE_LOCKED, a lock
// left by a dead process is taken over, and data persists across a close and reopen.
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LOCK_FILE } from '../../../src/adapters/storage/data-dir-lock.ts'
import { openDatabase } from '../../../src/adapters/storage/open-database.ts'
import { isKeygateError } from '../../../src/core/errors.ts'
import { signIn, T0 } from './fixtures.ts'

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keygate-lock-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('the PGlite data directory lock', () => {
  it('refuses a second opener while the first holds it, then lets it in after close', async () => {
    const first = await openDatabase({ dataDir: dir })
    await first.migrate()
    const who = await signIn(first.store, 'persisted')
    expect((await readFile(join(dir, LOCK_FILE), 'utf8')).trim()).toBe(String(process.pid))

    const error = await openDatabase({ dataDir: dir }).catch((e: unknown) => e)
    expect(isKeygateError(error, 'DATABASE_LOCKED')).toBe(true)
    expect((error as Error).message).toContain(`process ${process.pid}`)
    expect((error as Error).message).toContain(join(dir, LOCK_FILE))

    await first.close()
    await first.close()
    const second = await openDatabase({ dataDir: dir })
    await second.migrate()
    expect(await second.store.getIdentity(who.id)).toMatchObject({ subject: who.subject })
    await second.close()
  })

  it('takes over a lock whose process is gone', async () => {
    // A pid that certainly exited: a child that already finished.
    const child = spawnSync(process.execPath, ['-e', ''])
    const deadPid = child.pid!
    await writeFile(join(dir, LOCK_FILE), `${deadPid}\n`)
    const database = await openDatabase({ dataDir: dir })
    expect((await readFile(join(dir, LOCK_FILE), 'utf8')).trim()).toBe(String(process.pid))
    await database.store.upsertIdentity(
      {
        idpId: 'x',
        issuer: 'https://i',
        subject: 's',
        email: null,
        emailVerified: false,
        name: null,
        groups: [],
      },
      T0,
    )
    await database.close()
  })

  it('refuses a lock held by another live process', async () => {
    await writeFile(join(dir, LOCK_FILE), `${process.ppid}\n`)
    const error = await openDatabase({ dataDir: dir }).catch((e: unknown) => e)
    expect(isKeygateError(error, 'DATABASE_LOCKED')).toBe(true)
    expect((error as Error).message).toContain(`process ${process.ppid}`)
    await rm(join(dir, LOCK_FILE))
  })
})
