// The one way adapters run a system tool: results for a failing tool, stdin for input, and an error that
// names the command (shortened) with the tool's first error line.
import { describe, expect, it } from 'vitest'
import { mustRunCommand, runCommand } from '../../../src/adapters/runtime/run-command.ts'

const sh = (script: string, ...args: string[]) => ['sh', '-c', script, 'sh', ...args]

describe('runCommand', () => {
  it('returns the exit code and both outputs instead of throwing', async () => {
    expect(await runCommand(sh('echo out; echo err >&2; exit 3'))).toEqual({
      code: 3,
      stdout: 'out\n',
      stderr: 'err\n',
    })
    expect(await runCommand(sh('echo fine'))).toEqual({ code: 0, stdout: 'fine\n', stderr: '' })
  })

  it('writes the input to stdin and closes it', async () => {
    expect((await runCommand(['cat'], { input: 'a script\n' })).stdout).toBe('a script\n')
    // Without input stdin is closed at once, so a tool that reads it ends instead of waiting.
    expect((await runCommand(['cat'])).code).toBe(0)
  })

  it('reports a tool that cannot start or runs past its time as a failure, with the reason', async () => {
    const missing = await runCommand(['keygate-no-such-tool'])
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toContain('ENOENT')
    const slow = await runCommand(sh('sleep 5'), { timeoutMs: 100 })
    expect(slow.code).not.toBe(0)
  })
})

describe('mustRunCommand', () => {
  it('returns stdout, and throws with the command and the first error line on failure', async () => {
    expect(await mustRunCommand(sh('echo ok'))).toBe('ok\n')
    await expect(
      mustRunCommand(sh('echo; echo "Error: no such table" >&2; echo more >&2; exit 1')),
    ).rejects.toThrow(/^sh -c .*: Error: no such table$/)
  })

  it('names a long command by its first arguments only', async () => {
    const long = sh('echo bad >&2; exit 1', ...Array.from({ length: 2_000 }, (_, i) => `peer${i}`))
    const error = await mustRunCommand(long).catch((e: Error) => e)
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toBe(`sh -c echo bad >&2; exit 1 sh peer0 peer1 …: bad`)
  })
})
