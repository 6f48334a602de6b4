/**
 * What the gateway agent keeps on disk, in its state directory: the broker credential (so a restart needs
 * no new token), the private key when the agent made it (so a recreated interface gets the enrolled key
 * back), and the sync cursor with the peers' expiries (so a restart resumes without a full snapshot and
 * keeps enforcing expiries).
 *
 * The directory is 0700 and every file 0600, written to a temporary name and renamed, so a crash never
 * leaves half a file. Preshared keys are not stored: the interface already holds them.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { SavedCursor } from '../../core/sync/gateway-agent-state.ts'

export interface StoredCredential {
  gateway: string
  credential: string
  /** The interface public key the credential was enrolled with. */
  publicKey: string
  addressV4: string | null
  addressV6: string | null
  enrolledAt: number
}

/** The cursor file holds the state machine's saved cursor as it is. */
export type StoredCursor = SavedCursor

export interface AgentStateStore {
  loadCredential(): Promise<StoredCredential | null>
  saveCredential(value: StoredCredential): Promise<void>
  loadPrivateKey(): Promise<string | null>
  savePrivateKey(value: string): Promise<void>
  loadCursor(): Promise<StoredCursor | null>
  saveCursor(value: StoredCursor): Promise<void>
}

export function createFileAgentState(dir: string): AgentStateStore {
  let ready: Promise<void> | null = null
  const ensureDir = () => {
    ready ??= mkdir(dir, { recursive: true, mode: 0o700 }).then(() => chmod(dir, 0o700))
    return ready
  }
  async function read<T>(name: string): Promise<T | null> {
    try {
      return JSON.parse(await readFile(join(dir, name), 'utf8')) as T
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw error
    }
  }
  async function write(name: string, value: unknown): Promise<void> {
    await ensureDir()
    const tmp = join(dir, `.${name}.${process.pid}.tmp`)
    await writeFile(tmp, `${JSON.stringify(value)}\n`, { mode: 0o600 })
    await rename(tmp, join(dir, name))
  }
  return {
    loadCredential: () => read<StoredCredential>('credential.json'),
    saveCredential: (value) => write('credential.json', value),
    loadPrivateKey: async () => (await read<{ privateKey: string }>('private-key.json'))?.privateKey ?? null,
    savePrivateKey: (privateKey) => write('private-key.json', { privateKey }),
    loadCursor: () => read<StoredCursor>('cursor.json'),
    saveCursor: (value) => write('cursor.json', value),
  }
}

export function createMemoryAgentState(): AgentStateStore & { data: Record<string, unknown> } {
  const data: Record<string, unknown> = {}
  const copy = <T>(v: unknown): T | null => (v === undefined ? null : (structuredClone(v) as T))
  return {
    data,
    loadCredential: async () => copy<StoredCredential>(data.credential),
    saveCredential: async (v) => {
      data.credential = structuredClone(v)
    },
    loadPrivateKey: async () => copy<string>(data.privateKey),
    savePrivateKey: async (v) => {
      data.privateKey = v
    },
    loadCursor: async () => copy<StoredCursor>(data.cursor),
    saveCursor: async (v) => {
      data.cursor = structuredClone(v)
    },
  }
}
