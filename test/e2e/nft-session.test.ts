// The long-lived `nft -i` process the packet filter writes through (issue 9), against real nft in a
// namespace of the test's own: a script is one transaction (a refused command undoes all of it), nft's
// error comes back as the rejection, a whole table loads through it, a table rewritten by another nft
// process meanwhile is seen, a session whose process died starts a new one, close() leaves no process
// and no file behind, and an idle session does not keep its Node process alive.
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNftSession, type NftSession } from '../../src/adapters/firewall/nft-session.ts'
import { createNetnsLab, type NetnsLab, requireNetnsLab } from '../support/netns.ts'
import { until } from '../support/network-lab.ts'

const canRun = await requireNetnsLab({ nft: true })

const TABLE = `table inet t {
\tset s { type ipv4_addr . ipv4_addr; flags interval; }
}
`
const script = (...commands: string[]) => `${commands.join('\n')}\n`

describe.skipIf(!canRun)('an nft session in a namespace', () => {
  let lab: NetnsLab
  let ns: string
  let session: NftSession
  let ownTmp: string
  const savedTmpdir = process.env.TMPDIR
  const nft = () => ['ip', 'netns', 'exec', ns, 'nft']

  async function elements(): Promise<string[]> {
    const listed = await lab.exec(ns, ['nft', 'list', 'set', 'inet', 't', 's'])
    expect(listed.code).toBe(0)
    return [...listed.stdout.matchAll(/(\d+\.\d+\.\d+\.\d+ \. [\d./]+)/g)].map((m) => m[1]!).sort()
  }
  // Listed from the host: a command run inside the namespace would count itself.
  async function sessionPids(): Promise<string[]> {
    const { stdout } = await promisify(execFile)('ip', ['netns', 'pids', ns])
    return stdout.split('\n').filter((p) => p !== '')
  }
  // The session's script directory lives under TMPDIR, here a directory of this test's own.
  const scriptDirs = async () => (await readdir(ownTmp)).filter((name) => name.startsWith('keygate-nft-'))

  beforeAll(async () => {
    ownTmp = await mkdtemp(join(tmpdir(), 'keygate-nft-session-test-'))
    process.env.TMPDIR = ownTmp
    lab = createNetnsLab()
    ns = await lab.namespace('nftsess')
    session = createNftSession(nft())
  })
  afterAll(async () => {
    await session?.close()
    await lab?.cleanup()
    if (savedTmpdir === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = savedTmpdir
    await rm(ownTmp, { recursive: true, force: true })
  })

  it('loads a whole multi-line table, then runs a script as one transaction and rejects with nft’s error, changing nothing', async () => {
    await session.run(TABLE)
    await session.run(
      script(
        'add element inet t s { 10.0.0.1 . 10.1.0.0/16 }',
        'add element inet t s { 10.0.0.2 . 10.2.0.0/16 }',
      ),
    )
    expect(await elements()).toEqual(['10.0.0.1 . 10.1.0.0/16', '10.0.0.2 . 10.2.0.0/16'])

    // The deletion of a pair the set does not hold fails the script, and with it the addition before it.
    await expect(
      session.run(
        script(
          'add element inet t s { 10.0.0.3 . 10.3.0.0/16 }',
          'delete element inet t s { 10.0.0.9 . 10.9.0.0/16 }',
        ),
      ),
    ).rejects.toThrow(/^change\.nft:2:[\d-]+: Error: Could not process rule: No such file or directory$/)
    expect(await elements()).toEqual(['10.0.0.1 . 10.1.0.0/16', '10.0.0.2 . 10.2.0.0/16'])
    await expect(session.run('this is not nft\n')).rejects.toThrow(/Error: syntax error/)

    // The session goes on after a refused script.
    await session.run(script('delete element inet t s { 10.0.0.1 . 10.1.0.0/16 }'))
    expect(await elements()).toEqual(['10.0.0.2 . 10.2.0.0/16'])
  })

  it('loads a large change whole', async () => {
    const pairs = Array.from({ length: 3_000 }, (_, i) => `100.96.${i >> 8}.${i & 255} . 10.${i % 3}.0.0/16`)
    await session.run(script(`add element inet t s { ${pairs.join(', ')} }`))
    const listed = await lab.exec(ns, ['nft', 'list', 'set', 'inet', 't', 's'])
    expect(listed.stdout.match(/ \. /g)).toHaveLength(3_000 + 1 + 1) // + the type line + 10.0.0.2's pair
    await session.run(script('flush set inet t s', 'add element inet t s { 10.0.0.2 . 10.2.0.0/16 }'))
    expect(await elements()).toEqual(['10.0.0.2 . 10.2.0.0/16'])
  })

  it('sees a table another nft process rewrote between two scripts', async () => {
    const rewritten = TABLE.replace(
      'flags interval;',
      'flags interval; elements = { 10.0.0.7 . 10.7.0.0/16 }',
    )
    const replaced = await lab.exec(ns, ['nft', '-f', '-'], { input: `delete table inet t\n${rewritten}` })
    expect(replaced.code).toBe(0)
    await session.run(
      script(
        'delete element inet t s { 10.0.0.7 . 10.7.0.0/16 }',
        'add element inet t s { 10.0.0.8 . 10.8.0.0/16 }',
      ),
    )
    expect(await elements()).toEqual(['10.0.0.8 . 10.8.0.0/16'])
  })

  it('starts a new process when its nft died, and close() leaves no process and no file behind', async () => {
    const before = await sessionPids()
    expect(before).toHaveLength(1)
    expect(await scriptDirs()).toHaveLength(1)
    process.kill(Number(before[0]), 'SIGKILL')
    await until('the killed nft gone', async () => ((await sessionPids()).length === 0 ? true : null), 5_000)
    await session.run(script('add element inet t s { 10.0.0.5 . 10.5.0.0/16 }'))
    expect(await elements()).toEqual(['10.0.0.5 . 10.5.0.0/16', '10.0.0.8 . 10.8.0.0/16'])
    const after = await sessionPids()
    expect(after).toHaveLength(1)
    expect(after).not.toEqual(before)

    await session.close()
    expect(await sessionPids()).toEqual([])
    expect(await scriptDirs()).toEqual([])
    // Closed is not broken: the next script starts a process again.
    await session.run(script('delete element inet t s { 10.0.0.5 . 10.5.0.0/16 }'))
    expect(await elements()).toEqual(['10.0.0.8 . 10.8.0.0/16'])
    await session.close()
  })

  it('does not keep an idle Node process alive', async () => {
    // A process that runs one script and never closes its session still exits on its own.
    const program = [
      "import { createNftSession } from './src/adapters/firewall/nft-session.ts'",
      `await createNftSession(${JSON.stringify(nft())}).run('add element inet t s { 10.0.0.4 . 10.4.0.0/16 }\\n')`,
      "console.log('ran')",
    ].join('\n')
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: ownTmp },
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      child.once('exit', (c) => {
        clearTimeout(timer)
        resolve(c)
      })
    })
    expect(out.trim()).toBe('ran')
    expect(code).toBe(0)
    expect(await elements()).toContain('10.0.0.4 . 10.4.0.0/16')
  })
})
