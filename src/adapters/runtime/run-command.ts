/**
 * How Keygate runs a system tool (ip, wg, nft, wireguard-go): execFile with an argument list, never a
 * shell, and anything secret or long (keys, scripts) on stdin or in a 0600 file, never in argv. One place,
 * so that every adapter reports a failing tool the same way: the command and the tool's first error line.
 */
import { execFile } from 'node:child_process'

export interface CommandResult {
  /** The exit code; 1 when the tool was killed or could not start (its reason is then in stderr). */
  code: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  /** Written to the tool's stdin, which is then closed. */
  input?: string
  /** Kills the tool after this long (SIGTERM); the result then says so in stderr. */
  timeoutMs?: number
}

/** Large enough for `wg show dump` and `nft list` of a 10,000-peer gateway. */
const MAX_OUTPUT_BYTES = 512 * 1024 * 1024
/** Enough of a command to name it in an error, without a 2,000-peer `wg set` line. */
const NAMED_ARGS = 6

/** Runs `command`; a failing tool is a result with its exit code, not an exception. */
export function runCommand(command: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const [file, ...args] = command
  if (file === undefined) return Promise.reject(new Error('runCommand needs a command'))
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      {
        maxBuffer: MAX_OUTPUT_BYTES,
        ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
      },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ code: 0, stdout, stderr })
        const code = typeof error.code === 'number' ? error.code : 1
        resolve({ code, stdout, stderr: stderr.trim() === '' ? error.message : stderr })
      },
    )
    child.stdin?.on('error', () => {}) // a tool may exit before reading all its input; its exit code tells why
    child.stdin?.end(options.input)
  })
}

/** Runs `command` and returns its stdout; a non-zero exit throws, naming the command and its first error line. */
export async function mustRunCommand(command: readonly string[], options: RunOptions = {}): Promise<string> {
  const result = await runCommand(command, options)
  if (result.code === 0) return result.stdout
  const named = command.length > NAMED_ARGS ? [...command.slice(0, NAMED_ARGS), '…'] : command
  const firstLine = result.stderr.split('\n').find((line) => line.trim() !== '') ?? `exit code ${result.code}`
  throw new Error(`${named.join(' ')}: ${firstLine.trim()}`)
}
