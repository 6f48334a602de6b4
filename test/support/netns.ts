/**
 * Network-namespace labs for the WireGuard end-to-end tests and the bench: namespaces, veth pairs and
 * wireguard-go processes with names unique to one run, and a cleanup that removes all of it.
 *
 * Isolation rules: every name carries the run's random id (namespaces `kg-<id>-<label>`, interfaces
 * `kg<id><n>`), because UAPI sockets live in one shared directory (/var/run/wireguard) whatever the
 * namespace; veth addresses must lie inside 198.18.0.0/15 (RFC 2544 benchmarking space) and only exist
 * inside the lab's namespaces, so no test traffic can reach another host. Call `cleanup()` in afterAll;
 * an exit hook repeats it synchronously if a run dies first. Needs root, `ip`, `wg` and `wireguard-go`.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process'
import { access, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { stopChild } from '../../src/adapters/runtime/stop-child.ts'

export const UAPI_DIR = '/var/run/wireguard'

export interface ExecResult {
  code: number
  stdout: string
  stderr: string
}

export interface WireGuardGoProcess {
  namespace: string
  iface: string
  socketPath: string
  pid: number
  stop(): Promise<void>
}

export interface NetnsLab {
  /** Random hex, unique per run. */
  readonly id: string
  /** A new namespace `kg-<id>-<label>` with loopback up. */
  namespace(label: string): Promise<string>
  /** A veth pair between two lab namespaces, addressed (CIDR inside 198.18.0.0/15) and up. */
  vethPair(
    a: { namespace: string; address: string },
    b: { namespace: string; address: string },
  ): Promise<{ a: string; b: string }>
  /** A fresh, unique interface name (at most 15 characters). */
  interfaceName(): string
  /** Starts `wireguard-go` in the foreground for a new interface inside `namespace`, waits for its UAPI socket, brings it up. */
  startWireGuardGo(namespace: string, iface?: string): Promise<WireGuardGoProcess>
  /** Runs a command inside a lab namespace (never throws on a non-zero exit). */
  exec(
    namespace: string,
    command: string[],
    options?: { input?: string; timeoutMs?: number },
  ): Promise<ExecResult>
  /** One ICMP echo with a deadline; true when answered. */
  ping(namespace: string, address: string, timeoutMs?: number): Promise<boolean>
  /** Pings until one answers or `withinMs` passes. */
  pingUntil(namespace: string, address: string, withinMs: number): Promise<boolean>
  /** Kills the lab's processes, deletes its namespaces (and with them veths and tun devices) and sockets. */
  cleanup(): Promise<void>
}

function run(
  file: string,
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 30_000, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
        resolve({ code, stdout, stderr })
      },
    )
    if (options.input !== undefined) child.stdin?.end(options.input)
    else child.stdin?.end()
  })
}

async function must(
  file: string,
  args: string[],
  options?: { input?: string; timeoutMs?: number },
): Promise<string> {
  const result = await run(file, args, options)
  if (result.code !== 0)
    throw new Error(`${file} ${args.join(' ')} failed (${result.code}): ${result.stderr.trim()}`)
  return result.stdout
}

/** What this machine lacks to run the lab (root, ip, wg, wireguard-go, and nft when asked); empty when nothing. */
export async function missingForNetnsLab(options: { nft?: boolean } = {}): Promise<string[]> {
  const missing: string[] = []
  if (process.getuid?.() !== 0) missing.push('root')
  const tools: Array<readonly [string, readonly string[]]> = [
    ['ip', ['-V']],
    ['wg', ['--version']],
    ['wireguard-go', ['--version']],
    ['ping', ['-V']],
    ...(options.nft === true ? ([['nft', ['--version']]] as const) : []),
  ]
  for (const [file, args] of tools) {
    if ((await run(file, [...args])).code !== 0) missing.push(file)
  }
  return missing
}

/** True when this machine can run the lab (root, ip, wg, wireguard-go). */
export async function canRunNetnsLab(): Promise<boolean> {
  return (await missingForNetnsLab()).length === 0
}

/**
 * For the WireGuard e2e files: true when the lab can run; false (the file skips) on a developer machine
 * without root or the tools; under CI=true a missing prerequisite throws, so the run fails instead of
 * skipping what CI promised to test (.ci/run installs every package).
 */
export async function requireNetnsLab(options: { nft?: boolean } = {}): Promise<boolean> {
  const missing = await missingForNetnsLab(options)
  if (missing.length === 0) return true
  if (process.env.CI === 'true')
    throw new Error(`CI=true but the WireGuard e2e tests cannot run: missing ${missing.join(', ')}`)
  return false
}

const LAB_RANGE = { base: (198 << 24) | (18 << 16), mask: 0xfffe0000 }

function assertLabAddress(cidr: string): void {
  const [ip, prefix] = cidr.split('/')
  const parts = (ip ?? '').split('.').map(Number)
  const value =
    parts.length === 4 ? ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0 : -1
  if (prefix === undefined || value < 0 || (value & LAB_RANGE.mask) >>> 0 !== LAB_RANGE.base >>> 0) {
    throw new Error(`lab addresses must be CIDRs inside 198.18.0.0/15, got ${cidr}`)
  }
}

export function createNetnsLab(): NetnsLab {
  const id = [...crypto.getRandomValues(new Uint8Array(2))]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')
  const namespaces: string[] = []
  const processes: { child: ChildProcess; socketPath: string }[] = []
  const sockets: string[] = []
  let counter = 0
  let cleaned = false

  // If the run dies before afterAll, remove what we made; synchronous because 'exit' handlers must be.
  const onExit = () => {
    if (cleaned) return
    for (const { child } of processes) {
      try {
        if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
      } catch {}
    }
    for (const ns of namespaces) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
      } catch {}
    }
  }
  process.once('exit', onExit)

  const lab: NetnsLab = {
    id,
    async namespace(label) {
      if (!/^[a-z0-9]{1,12}$/.test(label))
        throw new Error('namespace labels are 1-12 lower-case letters or digits')
      const name = `kg-${id}-${label}`
      await must('ip', ['netns', 'add', name])
      namespaces.push(name)
      await must('ip', ['-n', name, 'link', 'set', 'lo', 'up'])
      return name
    },
    async vethPair(a, b) {
      for (const side of [a, b]) {
        if (!namespaces.includes(side.namespace))
          throw new Error(`${side.namespace} is not a namespace of this lab`)
        assertLabAddress(side.address)
      }
      const n = ++counter
      const nameA = `kv${id}${n}a`
      const nameB = `kv${id}${n}b`
      await must('ip', [
        'link',
        'add',
        nameA,
        'netns',
        a.namespace,
        'type',
        'veth',
        'peer',
        'name',
        nameB,
        'netns',
        b.namespace,
      ])
      await must('ip', ['-n', a.namespace, 'addr', 'add', a.address, 'dev', nameA])
      await must('ip', ['-n', b.namespace, 'addr', 'add', b.address, 'dev', nameB])
      await must('ip', ['-n', a.namespace, 'link', 'set', nameA, 'up'])
      await must('ip', ['-n', b.namespace, 'link', 'set', nameB, 'up'])
      return { a: nameA, b: nameB }
    },
    interfaceName() {
      return `kg${id}${++counter}`
    },
    async startWireGuardGo(namespace, iface = lab.interfaceName()) {
      if (!namespaces.includes(namespace)) throw new Error(`${namespace} is not a namespace of this lab`)
      const socketPath = join(UAPI_DIR, `${iface}.sock`)
      const child = spawn('ip', ['netns', 'exec', namespace, 'wireguard-go', iface], {
        env: { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' },
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      let stderr = ''
      child.stderr?.on('data', (d) => {
        stderr += d
      })
      processes.push({ child, socketPath })
      sockets.push(socketPath)
      const deadline = Date.now() + 10_000
      for (;;) {
        if (child.exitCode !== null) throw new Error(`wireguard-go ${iface} exited: ${stderr.trim()}`)
        if (
          await access(socketPath).then(
            () => true,
            () => false,
          )
        )
          break
        if (Date.now() > deadline) throw new Error(`wireguard-go ${iface}: no UAPI socket after 10 s`)
        await new Promise((r) => setTimeout(r, 25))
      }
      await must('ip', ['-n', namespace, 'link', 'set', iface, 'up'])
      return {
        namespace,
        iface,
        socketPath,
        pid: child.pid!,
        async stop() {
          await stopChild(child)
          await rm(socketPath, { force: true })
        },
      }
    },
    async exec(namespace, command, options) {
      if (!namespaces.includes(namespace)) throw new Error(`${namespace} is not a namespace of this lab`)
      return run('ip', ['netns', 'exec', namespace, ...command], options)
    },
    async ping(namespace, address, timeoutMs = 1_000) {
      const seconds = Math.max(1, Math.ceil(timeoutMs / 1000))
      const result = await lab.exec(
        namespace,
        ['ping', '-n', '-q', '-c', '1', '-W', String(seconds), address],
        {
          timeoutMs: timeoutMs + 2_000,
        },
      )
      return result.code === 0
    },
    async pingUntil(namespace, address, withinMs) {
      const deadline = Date.now() + withinMs
      do {
        if (await lab.ping(namespace, address, 1_000)) return true
      } while (Date.now() < deadline)
      return false
    },
    async cleanup() {
      if (cleaned) return
      cleaned = true
      process.removeListener('exit', onExit)
      const errors: string[] = []
      await Promise.all(processes.map(({ child }) => stopChild(child)))
      for (const ns of namespaces.reverse()) {
        const result = await run('ip', ['netns', 'del', ns])
        if (result.code !== 0) errors.push(`${ns}: ${result.stderr.trim()}`)
      }
      await Promise.all(sockets.map((s) => rm(s, { force: true })))
      if (errors.length > 0) throw new Error(`netns cleanup: ${errors.join('; ')}`)
    },
  }
  return lab
}
