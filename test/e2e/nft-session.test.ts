// The long-lived `nft -i` process the packet filter writes its changes through (issue 9), against real nft in
// a namespace of the test's own: a line is one transaction (a refused command undoes the whole line), nft's
// error comes back as the rejection, a table rewritten by another nft process meanwhile is seen, a session
// whose process died starts a new one, close() leaves no process in the namespace, and an idle session does
// not keep its Node process alive.
import { execFile, spawn } from 'node:child_process'
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

describe.skipIf(!canRun)('an nft session in a namespace', () => {
  let lab: NetnsLab
  let ns: string
  let session: NftSession
  const nft = () => ['ip', 'netns', 'exec', ns, 'nft']

  async function elements(): Promise<string[]> {
    const listed = await lab.exec(ns, ['nft', 'list', 'set', 'inet', 't', 's'])
    expect(listed.code).toBe(0)
    return [...listed.stdout.matchAll(/(\d+\.\d+\.\d+\.\d+ \. [\d./]+)/g)].map((m) => m[1]!)
  }
  // Listed from the host: a command run inside the namespace would count itself.
  async function sessionPids(): Promise<string[]> {
    const { stdout } = await promisify(execFile)('ip', ['netns', 'pids', ns])
    return stdout.split('\n').filter((p) => p !== '')
  }

  beforeAll(async () => {
    lab = createNetnsLab()
    ns = await lab.namespace('nftsess')
    expect((await lab.exec(ns, ['nft', '-f', '-'], { input: TABLE })).code).toBe(0)
    session = createNftSession(nft())
  })
  afterAll(async () => {
    await session?.close()
    await lab?.cleanup()
  })

  it('runs commands as one transaction and rejects with nft’s error, changing nothing', async () => {
    await session.run([
      'add element inet t s { 10.0.0.1 . 10.1.0.0/16 }',
      'add element inet t s { 10.0.0.2 . 10.2.0.0/16 }',
    ])
    expect(await elements()).toEqual(['10.0.0.1 . 10.1.0.0/16', '10.0.0.2 . 10.2.0.0/16'])

    // The deletion of a pair the set does not hold fails the line, and with it the addition before it.
    await expect(
      session.run([
        'add element inet t s { 10.0.0.3 . 10.3.0.0/16 }',
        'delete element inet t s { 10.0.0.9 . 10.9.0.0/16 }',
      ]),
    ).rejects.toThrow(/^Error: /)
    expect(await elements()).toEqual(['10.0.0.1 . 10.1.0.0/16', '10.0.0.2 . 10.2.0.0/16'])

    // The session goes on after a refused line.
    await session.run(['delete element inet t s { 10.0.0.1 . 10.1.0.0/16 }'])
    expect(await elements()).toEqual(['10.0.0.2 . 10.2.0.0/16'])
  })

  it('sees a table another nft process rewrote between two lines', async () => {
    const rewritten = TABLE.replace(
      'flags interval;',
      'flags interval; elements = { 10.0.0.7 . 10.7.0.0/16 }',
    )
    const replaced = await lab.exec(ns, ['nft', '-f', '-'], { input: `delete table inet t\n${rewritten}` })
    expect(replaced.code).toBe(0)
    await session.run([
      'delete element inet t s { 10.0.0.7 . 10.7.0.0/16 }',
      'add element inet t s { 10.0.0.8 . 10.8.0.0/16 }',
    ])
    expect(await elements()).toEqual(['10.0.0.8 . 10.8.0.0/16'])
  })

  it('starts a new process when its nft died, and close() leaves none behind', async () => {
    const before = await sessionPids()
    expect(before).toHaveLength(1)
    process.kill(Number(before[0]), 'SIGKILL')
    await until('the killed nft gone', async () => ((await sessionPids()).length === 0 ? true : null), 5_000)
    await session.run(['add element inet t s { 10.0.0.5 . 10.5.0.0/16 }'])
    expect((await elements()).sort()).toEqual(['10.0.0.5 . 10.5.0.0/16', '10.0.0.8 . 10.8.0.0/16'])
    const after = await sessionPids()
    expect(after).toHaveLength(1)
    expect(after).not.toEqual(before)

    await session.close()
    expect(await sessionPids()).toEqual([])
    // Closed is not broken: the next line starts a process again.
    await session.run(['delete element inet t s { 10.0.0.5 . 10.5.0.0/16 }'])
    expect(await elements()).toEqual(['10.0.0.8 . 10.8.0.0/16'])
    await session.close()
  })

  it('refuses a command that spans lines instead of running half of it', async () => {
    await expect(
      session.run(['add element inet t s { 10.0.0.6 . 10.6.0.0/16 }\nflush ruleset']),
    ).rejects.toThrow('one line')
    expect(await elements()).toEqual(['10.0.0.8 . 10.8.0.0/16'])
  })

  it('does not keep an idle Node process alive', async () => {
    // A process that runs one line and never closes its session still exits on its own.
    const script = [
      "import { createNftSession } from './src/adapters/firewall/nft-session.ts'",
      `await createNftSession(${JSON.stringify(nft())}).run(['add element inet t s { 10.0.0.4 . 10.4.0.0/16 }'])`,
      "console.log('ran')",
    ].join('\n')
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
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
