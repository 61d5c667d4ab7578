import type { CacheStatus } from './reply.js'

/** What `httpCache.stats()` reports: answers by `X-Cache` status since the engine was made. */
export interface HttpCacheStats {
  /** Requests answered, by the `X-Cache` status they got (`BYPASS` for those passed to the origin). */
  readonly responses: Readonly<Record<CacheStatus, number>>
  /** Requests the engine could not answer (the integration sent its error response). */
  readonly errors: number
}

const STATUSES: readonly CacheStatus[] = ['HIT', 'MISS', 'EXPIRED', 'REVALIDATED', 'UPDATING', 'STALE', 'BYPASS']

/** Counts an engine's answers by `X-Cache` status. */
export class ResponseCounts {
  readonly #responses = Object.fromEntries(STATUSES.map((status) => [status, 0])) as Record<CacheStatus, number>
  #errors = 0

  /** One request answered with `status`. */
  answered(status: CacheStatus): void {
    this.#responses[status]++
  }

  /** One request the engine failed to answer. */
  failed(): void {
    this.#errors++
  }

  /** A copy of the counts. */
  snapshot(): HttpCacheStats {
    return { responses: { ...this.#responses }, errors: this.#errors }
  }
}

/** The counts of each engine, kept beside it so the request flow can count without a public method. */
const byEngine = new WeakMap<object, ResponseCounts>()

/** The counts of `engine` (made on first use). */
export function countsOf(engine: object): ResponseCounts {
  let counts = byEngine.get(engine)
  if (counts === undefined) {
    counts = new ResponseCounts()
    byEngine.set(engine, counts)
  }
  return counts
}
