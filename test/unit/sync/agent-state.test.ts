import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createFileAgentState } from '../../../src/adapters/gateway/agent-state.ts'

let dir: string | null = null
afterEach(async () => {
  if (dir !== null) await rm(dir, { recursive: true, force: true })
})

describe('agent state dir', () => {
  it('keeps the credential and cursor in 0600 files inside a 0700 directory, written atomically', async () => {
    dir = await mkdtemp(join(tmpdir(), 'keygate-state-test-'))
    const stateDir = join(dir, 'gateway-wg0')
    const state = createFileAgentState(stateDir)
    expect(await state.loadCredential()).toBeNull()
    const credential = {
      gateway: 'eu-1',
      credential: 'secret',
      publicKey: 'k',
      addressV4: null,
      addressV6: null,
      enrolledAt: 1,
    }
    await state.saveCredential(credential)
    await state.saveCursor({ version: 3, peers: [] })
    expect(await state.loadCredential()).toEqual(credential)
    expect(await state.loadCursor()).toEqual({ version: 3, peers: [] })
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700)
    for (const name of await readdir(stateDir))
      expect((await stat(join(stateDir, name))).mode & 0o777).toBe(0o600)
    expect((await readdir(stateDir)).sort()).toEqual(['credential.json', 'cursor.json'])

    // Atomic: a save writes a new file and renames it over the old one (a new inode), so a crash mid-write
    // leaves the previous file whole; an in-place write would keep the inode.
    const before = (await stat(join(stateDir, 'cursor.json'))).ino
    await state.saveCursor({ version: 4, peers: [] })
    expect((await stat(join(stateDir, 'cursor.json'))).ino).not.toBe(before)
    expect(await state.loadCursor()).toEqual({ version: 4, peers: [] })
    expect((await readdir(stateDir)).sort()).toEqual(['credential.json', 'cursor.json'])
  })
})
