/**
 * A long-lived `nft -i` process that runs one-line nftables transactions. Starting `nft` costs about 18 ms
 * (more through `ip netns exec`), most of what one filter change took when every change was its own
 * process; a line written to a running process costs about a millisecond.
 *
 * nft reads stdin line by line and runs each line as one batch, so a line of several `;`-separated
 * commands applies whole or not at all, as `nft -f` does for a file. nft says nothing on success, so each
 * line is followed by a marker command, `describe meta mark`, whose fixed answer (no netlink, no ruleset
 * read) ends the request; anything nft printed before it is the line's error. stderr is merged into stdout
 * by the shell (`exec … 2>&1`) so the two arrive in the order nft wrote them. nft re-reads its cache when
 * the ruleset generation moves, so tables written meanwhile by another process (`nft -f`) are seen.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import type { Socket } from 'node:net'

const MARKER_COMMAND = 'describe meta mark'
/** The first line of the marker's answer; its wording has not changed across nft releases. */
const MARKER_ANSWER = /^meta expression, datatype mark\b.*\n/m
/** A request nft has not answered by then is abandoned and the process killed (a wedged kernel or nft). */
const REQUEST_TIMEOUT_MS = 30_000
const CLOSE_GRACE_MS = 2_000

export interface NftSession {
  /** Runs `commands` as one transaction; rejects with nft's first error line when it refused them. */
  run(commands: readonly string[]): Promise<void>
  /** Ends the process (the ruleset stays as written); the next run starts a new one. */
  close(): Promise<void>
}

interface Running {
  child: ChildProcessWithoutNullStreams
  exited: Promise<void>
  output: string
  /** Set while a request waits for its marker. */
  waiting: ((outcome: { output: string } | { error: Error }) => void) | null
}

/** `command` is how to run nft, e.g. ['nft'] or ['ip', 'netns', 'exec', 'ns1', 'nft']. */
export function createNftSession(command: readonly string[]): NftSession {
  let running: Running | null = null
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
    idle(self)
    return self
  }

  function settle(self: Running, outcome: { output: string } | { error: Error }): void {
    const waiting = self.waiting
    self.waiting = null
    waiting?.(outcome)
  }

  // An idle session must not keep the process alive (an agent that stops without closing, a CLI).
  // Its pipes are sockets, which hold the event loop like the process handle does.
  function idle(self: Running): void {
    self.child.unref()
    for (const pipe of [self.child.stdout, self.child.stdin]) (pipe as unknown as Socket).unref()
  }
  function busy(self: Running): void {
    self.child.ref()
    for (const pipe of [self.child.stdout, self.child.stdin]) (pipe as unknown as Socket).ref()
  }

  async function request(commands: readonly string[]): Promise<void> {
    const self = running ?? start()
    running = self
    busy(self)
    let timer: NodeJS.Timeout | undefined
    try {
      const outcome = await new Promise<{ output: string } | { error: Error }>((resolve) => {
        self.waiting = resolve
        timer = setTimeout(() => {
          resolve({ error: new Error(`nft did not answer within ${REQUEST_TIMEOUT_MS} ms`) })
          self.child.kill('SIGKILL')
        }, REQUEST_TIMEOUT_MS)
        self.child.stdin.write(`${commands.join('; ')}\n${MARKER_COMMAND}\n`)
      })
      if ('error' in outcome) throw outcome.error
      if (/^Error:/m.test(outcome.output)) throw new Error(firstLine(outcome.output))
    } finally {
      clearTimeout(timer)
      if (running === self) idle(self)
    }
  }

  return {
    run(commands) {
      if (commands.length === 0) return Promise.resolve()
      if (commands.some((c) => c.includes('\n')))
        return Promise.reject(new Error('an nft session command must be one line'))
      const next = queue.then(() => request(commands))
      queue = next.catch(() => {})
      return next
    },
    async close() {
      await queue
      const self = running
      if (self === null) return
      running = null
      self.child.stdin.end()
      const grace = setTimeout(() => self.child.kill('SIGKILL'), CLOSE_GRACE_MS)
      await self.exited
      clearTimeout(grace)
    },
  }
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? ''
}
