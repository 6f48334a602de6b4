/**
 * In-memory storage for the embedded oidc-provider (sessions, interactions, codes, grants).
 *
 * The development and test IdPs live exactly as long as their process, so memory is the right store.
 * It is written here rather than left to oidc-provider's fallback because that fallback prints a
 * production warning at every `npm start`, which would teach newcomers to ignore warnings.
 * Implements oidc-provider's adapter interface (example/my_adapter.js in its repository).
 */

type Payload = Record<string, unknown> & {
  grantId?: string
  userCode?: string
  uid?: string
  consumed?: number
}

interface Entry {
  payload: Payload
  expiresAt: number | null
}

export function createMemoryAdapterFactory(): new (name: string) => MemoryAdapter {
  // One shared map per provider, keyed by model name, so revokeByGrantId reaches every model.
  const models = new Map<string, Map<string, Entry>>()
  const grants = new Map<string, Set<string>>()
  return class extends MemoryAdapter {
    constructor(name: string) {
      let store = models.get(name)
      if (store === undefined) {
        store = new Map()
        models.set(name, store)
      }
      super(name, store, grants, models)
    }
  }
}

export class MemoryAdapter {
  readonly #name: string
  readonly #store: Map<string, Entry>
  readonly #grants: Map<string, Set<string>>
  readonly #models: Map<string, Map<string, Entry>>

  constructor(
    name: string,
    store: Map<string, Entry>,
    grants: Map<string, Set<string>>,
    models: Map<string, Map<string, Entry>>,
  ) {
    this.#name = name
    this.#store = store
    this.#grants = grants
    this.#models = models
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    this.#store.set(id, {
      payload: { ...payload },
      expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : null,
    })
    if (typeof payload.grantId === 'string') {
      let keys = this.#grants.get(payload.grantId)
      if (keys === undefined) {
        keys = new Set()
        this.#grants.set(payload.grantId, keys)
      }
      keys.add(`${this.#name}\u0000${id}`)
    }
  }

  async find(id: string): Promise<Payload | undefined> {
    const entry = this.#store.get(id)
    if (entry === undefined) return undefined
    if (entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      this.#store.delete(id)
      return undefined
    }
    return { ...entry.payload }
  }

  async findByUserCode(userCode: string): Promise<Payload | undefined> {
    return this.#findBy((payload) => payload.userCode === userCode)
  }

  async findByUid(uid: string): Promise<Payload | undefined> {
    return this.#findBy((payload) => payload.uid === uid)
  }

  async consume(id: string): Promise<void> {
    const entry = this.#store.get(id)
    if (entry !== undefined) entry.payload.consumed = Math.floor(Date.now() / 1000)
  }

  async destroy(id: string): Promise<void> {
    this.#store.delete(id)
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const key of this.#grants.get(grantId) ?? []) {
      const [model = '', id = ''] = key.split('\u0000')
      this.#models.get(model)?.delete(id)
    }
    this.#grants.delete(grantId)
  }

  async #findBy(match: (payload: Payload) => boolean): Promise<Payload | undefined> {
    for (const [id, entry] of this.#store) {
      if (match(entry.payload)) return this.find(id)
    }
    return undefined
  }
}
