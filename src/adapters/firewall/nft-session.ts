/**
 * A long-lived `nft -i` process that runs nftables scripts, each as one transaction. Starting `nft` costs
 * about 18 ms (more through `ip netns exec`), most of what one filter change took when every change was
 * its own process; a script handed to a running process costs about a millisecond plus nft's own work.
 *
 * The script goes into a file of the session's private directory and nft is sent one line, `include
 * "FILE"`: nft runs a line (includes and all) as one batch, so the script applies whole or not at all, as
 * with `nft -f`. A file rather than the script itself on the line, because nft's line editor takes
 * seconds over a line of a 30,000-element snapshot that `include` reads in a fraction of that. nft says
 * nothing on success, so each line is followed by a marker command, `describe meta mark`, whose fixed
 * answer (no netlink, no ruleset read) ends the request; an `Error:` printed before it is the script's.
 * stderr is merged into stdout by the shell (`exec … 2>&1`) so the two arrive in the order nft wrote
 * them. nft re-reads its cache when the ruleset generation moves, so tables written meanwhile by another
 * process are seen.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const MARKER_COMMAND = 'describe meta mark'
/** The first line of the marker's answer; its wording has not changed across nft releases. */
const MARKER_ANSWER = /^meta expression, datatype mark\b.*\n/m
/** A request nft has not answered by then is abandoned and the process killed (a wedged kernel or nft). */
const REQUEST_TIMEOUT_MS = 30_000
const CLOSE_GRACE_MS = 2_000

export interface NftSession {
  /** Runs `script` (what `nft -f` would read) as one transaction; rejects with nft's error when refused. */
  run(script: string): Promise<void>
  /** Ends the process and removes its directory (the ruleset stays as written); a later run starts anew. */
  close(): Promise<void>
}

/** What nft printed before the marker, or why no marker will come. */
type Outcome = { output: string } | { error: Error }

interface Running {
  child: ChildProcessWithoutNullStreams
  exited: Promise<void>
  output: string
  /** Set while a request waits for its marker. */
  waiting: ((outcome: Outcome) => void) | null
}

/** `command` is how to run nft, e.g. ['nft'] or ['ip', 'netns', 'exec', 'ns1', 'nft']. */
export function createNftSession(command: readonly string[]): NftSession {
  let running: Running | null = null
  let scriptFile: string | null = null
  let queue: Promise<unknown> = Promise.resolve()

  function start(): Running {
    const child = spawn('sh', ['-c', 'exec "$@" 2>&1', 'sh', ...command, '-i'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const self: Running = { child, exited: Promise.resolve(), output: '', waiting: null }
    self.exited = new Promise((resolve) => {
      child.once('error', (error) => settle(self, { error }))
      child.once('close', (code, signal) => {
        if (running === self) running = null
        settle(self, {
          error: new Error(`nft exited (${signal ?? `code ${code}`}): ${firstLine(self.output)}`),
        })
        resolve()
      })
    })
    child.stdin.on('error', () => {}) // the exit is reported by 'close', with what nft printed
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      self.output += chunk
      const marker = MARKER_ANSWER.exec(self.output)
      if (marker === null) return
      const output = self.output.slice(0, marker.index)
      self.output = self.output.slice(marker.index + marker[0].length)
      settle(self, { output })
    })
    return self
  }

  function settle(self: Running, outcome: Outcome): void {
    const waiting = self.waiting
    self.waiting = null
    waiting?.(outcome)
  }

  // An idle session must not keep the process alive (an agent that stops without closing, a CLI). Its
  // pipes are sockets, which hold the event loop like the process handle does.
  function hold(self: Running, held: boolean): void {
    for (const handle of [
      self.child,
      self.child.stdout as unknown as Socket,
      self.child.stdin as unknown as Socket,
    ])
      if (held) handle.ref()
      else handle.unref()
  }

  async function request(script: string): Promise<void> {
    if (scriptFile === null) {
      const dir = await mkdtemp(join(tmpdir(), 'keygate-nft-'))
      if (/["\n\\]/.test(dir)) throw new Error(`cannot name ${dir} in an nft include`)
      scriptFile = join(dir, 'change.nft')
    }
    await writeFile(scriptFile, script, { mode: 0o600 })
    const self = running ?? start()
    running = self
    hold(self, true)
    let timer: NodeJS.Timeout | undefined
    try {
      const outcome = await new Promise<Outcome>((resolve) => {
        self.waiting = resolve
        timer = setTimeout(() => {
          resolve({ error: new Error(`nft did not answer within ${REQUEST_TIMEOUT_MS} ms`) })
          self.child.kill('SIGKILL')
        }, REQUEST_TIMEOUT_MS)
        self.child.stdin.write(`include "${scriptFile}"\n${MARKER_COMMAND}\n`)
      })
      if ('error' in outcome) throw outcome.error
      // "FILE:LINE:COLUMNS: Error: …" for the script's own errors, "Error: …" for the include itself.
      const error = /(?:^|\/)([^/\n]*)Error: (.*)$/m.exec(outcome.output)
      if (error !== null) throw new Error(`${error[1]}Error: ${error[2]}`)
    } finally {
      clearTimeout(timer)
      if (running === self) hold(self, false)
    }
  }

  return {
    run(script) {
      const next = queue.then(() => request(script))
      queue = next.catch(() => {})
      return next
    },
    async close() {
      await queue
      const self = running
      running = null
      if (self !== null) {
        self.child.stdin.end()
        const grace = setTimeout(() => self.child.kill('SIGKILL'), CLOSE_GRACE_MS)
        await self.exited
        clearTimeout(grace)
      }
      if (scriptFile !== null) {
        await rm(join(scriptFile, '..'), { recursive: true, force: true })
        scriptFile = null
      }
    },
  }
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? ''
}
