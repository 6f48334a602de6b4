/**
 * The terminal client's state directory: its X25519 key pair (made here, never sent anywhere but the
 * public half), the lease it holds with its client credential and preshared key, and the pid of a
 * running `keygate up`. The directory is 0700 and every file 0600: the private key, the credential and
 * the preshared key are secrets. `/var/lib/keygate/client` as root, the user's config dir otherwise.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { TunnelDescription } from '../../core/device/tunnel.ts'
import { generateKeyPair, isWireGuardKey, publicKeyOf } from '../../core/peers/keys.ts'

export interface StoredLease {
  broker: string
  leaseId: string
  credential: string
  presharedKey: string
  name: string | null
  expiresAt: string
  /** When the lease was collected or last renewed (ISO). */
  since: string
  /** The lease's first life in ms: the yardstick for renewing "well before" the end. */
  lifetimeMs: number
  tunnel: TunnelDescription
}

export interface UpRecord {
  pid: number
  interface: string | null
  configFile: string | null
  /** The wireguard-go process this `up` started, if any. */
  userspacePid: number | null
}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KEYGATE_CLIENT_STATE_DIR) return env.KEYGATE_CLIENT_STATE_DIR
  if (process.getuid?.() === 0) return '/var/lib/keygate/client'
  const config = env.XDG_CONFIG_HOME || join(homedir(), '.config')
  return join(config, 'keygate')
}

export function createClientState(dir: string) {
  const path = (name: string) => join(dir, name)

  async function ensureDir() {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await chmod(dir, 0o700)
  }

  /** Written to a temporary name and renamed, so a crash never leaves half a file. */
  async function writeSecret(name: string, text: string) {
    await ensureDir()
    const temporary = path(`.${name}.${randomBytes(4).toString('hex')}`)
    await writeFile(temporary, text, { mode: 0o600, flag: 'wx' })
    await rename(temporary, path(name))
  }

  async function readJson<T>(name: string): Promise<T | null> {
    try {
      return JSON.parse(await readFile(path(name), 'utf8')) as T
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw error
    }
  }

  return {
    dir,
    /** The device's key pair, made on first use. */
    async keyPair(): Promise<{ privateKey: string; publicKey: string }> {
      const existing = await readFile(path('private.key'), 'utf8').then(
        (text) => text.trim(),
        () => null,
      )
      if (existing !== null && isWireGuardKey(existing)) {
        return { privateKey: existing, publicKey: publicKeyOf(existing) }
      }
      const pair = generateKeyPair((n) => new Uint8Array(randomBytes(n)))
      await writeSecret('private.key', `${pair.privateKey}\n`)
      return { privateKey: pair.privateKey, publicKey: pair.publicKey }
    },
    readLease: () => readJson<StoredLease>('lease.json'),
    writeLease: (lease: StoredLease) => writeSecret('lease.json', `${JSON.stringify(lease, null, 2)}\n`),
    forgetLease: () => rm(path('lease.json'), { force: true }),
    readUp: () => readJson<UpRecord>('up.json'),
    writeUp: (record: UpRecord) => writeSecret('up.json', `${JSON.stringify(record)}\n`),
    forgetUp: () => rm(path('up.json'), { force: true }),
    /** Where the running `up` writes what `status` shows about renewals. */
    readStatus: () => readJson<Record<string, unknown>>('status.json'),
    writeStatus: (status: Record<string, unknown>) =>
      writeSecret('status.json', `${JSON.stringify(status)}\n`),
    forgetStatus: () => rm(path('status.json'), { force: true }),
  }
}

export type ClientState = ReturnType<typeof createClientState>
