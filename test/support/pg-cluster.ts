// A PostgreSQL cluster of the test's own (initdb + pg_ctl into a temp dir, on a free loopback port), for
// tests that stop and restart the database under a running broker. The shared server at 5432 is never
// touched. As root (CI) the cluster runs as the `postgres` system user, since PostgreSQL refuses root.
import { execFile } from 'node:child_process'
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freeLoopbackPort } from './test-broker.ts'

const run = promisify(execFile)
const BIN = process.env.KEYGATE_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin'

export interface PgCluster {
  url: string
  port: number
  /** Stops the server; `immediate` is a crash (no checkpoint), `fast` a clean shutdown. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>
  /** Starts it again on the same port and waits until it accepts connections. */
  start(): Promise<void>
  remove(): Promise<void>
}

async function postgresUser(): Promise<{ uid: number; gid: number } | null> {
  if (process.getuid?.() !== 0) return null
  const line = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith('postgres:'))
  if (line === undefined) throw new Error('running as root needs a "postgres" user to run the test cluster')
  const [, , uid, gid] = line.split(':')
  return { uid: Number(uid), gid: Number(gid) }
}

export async function startPgCluster(): Promise<PgCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'keygate-pg-'))
  const user = await postgresUser()
  if (user !== null) await chown(dir, user.uid, user.gid)
  const as = user === null ? {} : { uid: user.uid, gid: user.gid }
  const data = join(dir, 'data')
  const port = await freeLoopbackPort()
  const pgCtl = (...args: string[]) => run(join(BIN, 'pg_ctl'), ['-D', data, ...args], { ...as, cwd: dir })
  await run(join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync'], {
    ...as,
    cwd: dir,
  })
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`
  const start = async () => {
    await pgCtl('-o', options, '-l', join(dir, 'log'), '-w', '-t', '30', 'start')
  }
  await start()
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop(mode = 'fast') {
      await pgCtl('-m', mode, '-w', 'stop')
    },
    start,
    async remove() {
      await pgCtl('-m', 'immediate', 'stop').catch(() => {})
      await rm(dir, { recursive: true, force: true })
    },
  }
}
