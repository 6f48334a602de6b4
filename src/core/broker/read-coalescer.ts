/**
 * Coalescing many callers' reads of the same kind into few store statements: the one mechanism behind
 * the gateways' feed reads (gateway-feed-reads.ts) and credential lookups (gateway-directory.ts), which
 * a thousand gateways coming back at once, or one wake-up of a thousand held polls, would otherwise
 * turn into a thousand queries through a pool of ten.
 *
 * Reads asked for in the same turn of the event loop go together (the flush runs after the turn's other
 * continuations); while `maxInFlight` batches are out, later reads wait and go together in the next
 * one. Coalescing only ever delays a read until the batches already out are answered; each caller gets
 * its own answer, or its own failure.
 *
 * Off (`coalesce: false`) on Workers: a request's database connection cannot serve another request's
 * read there, so every read is a batch of its own, through the same statement.
 */
import { KeygateError } from '../errors.ts'

export interface CoalesceOptions {
  coalesce: boolean
  /** Reads per statement. */
  maxBatch?: number
  /** Statements out at once; below the pool's ten connections, so other requests still find one. */
  maxInFlight?: number
}

export const DEFAULT_MAX_BATCH = 250
export const DEFAULT_MAX_IN_FLIGHT = 4

/**
 * `answer` reads a batch in one go and hands back one promise per request, in order: a rejection of
 * the whole (the statement failed) fails every read of the batch; a rejected item fails only its own.
 */
export function createReadCoalescer<Request, Answer>(
  answer: (batch: readonly Request[]) => Promise<ReadonlyArray<Promise<Answer>>>,
  options: CoalesceOptions,
): (request: Request) => Promise<Answer> {
  const maxBatch = Math.max(1, options.maxBatch ?? DEFAULT_MAX_BATCH)
  const maxInFlight = Math.max(1, options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT)
  interface Pending {
    request: Request
    resolve(answer: Answer): void
    reject(error: unknown): void
  }
  let queue: Pending[] = []
  let inFlight = 0
  let scheduled = false

  async function run(batch: Pending[]): Promise<void> {
    let answers: ReadonlyArray<Promise<Answer>>
    try {
      answers = await answer(batch.map((p) => p.request))
      if (answers.length !== batch.length)
        throw new KeygateError('INTERNAL', `a coalesced read answered ${answers.length} of ${batch.length}`)
    } catch (error) {
      for (const p of batch) p.reject(error)
      return
    }
    await Promise.all(answers.map((a, i) => a.then(batch[i]!.resolve, batch[i]!.reject)))
  }

  function drain() {
    while (queue.length > 0 && inFlight < maxInFlight) {
      const batch = queue.slice(0, maxBatch)
      queue = queue.slice(batch.length)
      inFlight++
      void run(batch).finally(() => {
        inFlight--
        drain()
      })
    }
  }

  return (request) =>
    new Promise<Answer>((resolve, reject) => {
      const pending: Pending = { request, resolve, reject }
      if (!options.coalesce) {
        void run([pending])
        return
      }
      queue.push(pending)
      if (scheduled) return
      scheduled = true
      queueMicrotask(() => {
        scheduled = false
        drain()
      })
    })
}
