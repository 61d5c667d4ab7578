/**
 * The reference model of one cache's semantics, written from docs/concepts.md
 * ("A key's lifetime", "Misses", "`ttl: 0`"), for one node and sequential
 * calls: what `get` returns, whether it is stale, and how many loader calls it
 * makes, as time moves.
 *
 *   fresh      now < staleAt                   the value; no loader call
 *   stale      staleAt <= now < staleUntil     the value (stale) at once; one background refresh
 *                                              (not before refreshRetryDelay after a failed one)
 *   kept       staleUntil <= now < expiresAt   the loader runs; if it fails and resurrectTtl > 0
 *                                              the value is re-armed fresh for resurrectTtl (stale: true)
 *   gone       expiresAt <= now                a miss: the loader runs; if it fails, LoaderError
 *
 * A loader resolving `null` caches a miss for `negTtl`; `ttl: 0` (or `negTtl: 0`) never goes stale.
 */

/** The freshness options of the cache under test. */
export interface ModelOptions {
  readonly ttl: number
  readonly negTtl: number
  readonly staleTtl: number
  readonly resurrectTtl: number
  readonly refreshRetryDelay: number
}

/** What the next loader call does. */
export type LoaderOutcome = 'value' | 'null' | 'throw'

/** One step of a test sequence. */
export type Command =
  | { readonly kind: 'get'; readonly key: string; readonly outcome: LoaderOutcome }
  | { readonly kind: 'peek-get'; readonly key: string }
  /** `value` is filled in by the runner (a unique string); `miss` sets `null`. */
  | { readonly kind: 'set'; readonly key: string; readonly miss: boolean; readonly value?: string }
  | { readonly kind: 'delete'; readonly key: string }
  | { readonly kind: 'purge' }
  | { readonly kind: 'advance'; readonly ms: number }

/** What a step returned, as compared between the model and the cache. */
export interface Observation {
  /** The value, `undefined` for a miss, or `'LoaderError'` when the call rejected with one. */
  readonly value: string | undefined
  readonly rejected?: string
  readonly stale: boolean
  /**
   * Where the value came from (docs/concepts.md: 1 L1, 2 store, 3 loader, 4 stale or resurrected).
   * The model cannot tell L1 from the store, so `1` accepts 1 or 2; `'not-3'` (a miss without a
   * loader) accepts anything but 3, which would say a loader ran.
   */
  readonly hitLevel?: 1 | 3 | 4 | 'not-3'
  /** Loader calls the step made (background refresh included). */
  readonly loads: number
}

interface ModelEntry {
  readonly value: string | undefined
  readonly staleAt: number
  readonly staleUntil: number
  readonly expiresAt: number
  readonly resurrected: boolean
}

/** The model: state per key, the time, and the values loaders produce (`v1`, `v2`, ...). */
export class CacheModel {
  readonly #o: ModelOptions
  readonly #entries = new Map<string, ModelEntry>()
  readonly #retryAt = new Map<string, number>()
  #loads = 0

  constructor(options: ModelOptions) {
    this.#o = options
  }

  /** Every instant at which the answer for some key changes (for runs on a real clock). */
  boundaries(): number[] {
    const times: number[] = []
    for (const e of this.#entries.values()) times.push(e.staleAt, e.staleUntil, e.expiresAt)
    for (const t of this.#retryAt.values()) times.push(t)
    return times.filter(Number.isFinite)
  }

  /** Apply `command` at time `now` (ms) and return what the cache must observe. */
  step(command: Command, now: number): Observation {
    switch (command.kind) {
      case 'get':
        return this.#get(command.key, command.outcome, now)
      case 'peek-get': {
        // get without a loader: a fresh value or one inside its stale window; else a miss, nothing cached.
        const e = this.#live(command.key, now)
        if (e !== undefined && now < e.staleUntil) {
          const stale = now >= e.staleAt || e.resurrected
          return { value: e.value, stale, hitLevel: stale ? 4 : 1, loads: 0 }
        }
        return { value: undefined, stale: false, hitLevel: 'not-3', loads: 0 }
      }
      case 'set':
        // A set starts the key's backoff over, as a delete does.
        this.#write(command.key, command.miss ? undefined : command.value, now)
        this.#retryAt.delete(command.key)
        return { value: undefined, stale: false, loads: 0 }
      case 'delete':
        this.#entries.delete(command.key)
        this.#retryAt.delete(command.key)
        return { value: undefined, stale: false, loads: 0 }
      case 'purge':
        this.#entries.clear()
        this.#retryAt.clear()
        return { value: undefined, stale: false, loads: 0 }
      case 'advance':
        return { value: undefined, stale: false, loads: 0 }
    }
  }

  #get(key: string, outcome: LoaderOutcome, now: number): Observation {
    const e = this.#live(key, now)
    // fresh
    if (e !== undefined && now < e.staleAt) {
      return { value: e.value, stale: e.resurrected, hitLevel: e.resurrected ? 4 : 1, loads: 0 }
    }
    // stale: served at once, one background refresh unless a failed one is too recent
    if (e !== undefined && now < e.staleUntil) {
      const retryAt = this.#retryAt.get(key)
      if (retryAt !== undefined && now < retryAt) return { value: e.value, stale: true, hitLevel: 4, loads: 0 }
      const loaded = this.#load(outcome)
      if (outcome === 'throw') {
        // A resurrected value is re-armed for the wait, which starts at resurrectTtl (docs/concepts.md).
        const resurrect = this.#o.resurrectTtl > 0
        this.#retryAt.set(key, now + (resurrect ? this.#o.resurrectTtl : this.#o.refreshRetryDelay))
        if (resurrect) this.#resurrect(key, e, now)
      } else {
        this.#retryAt.delete(key)
        this.#write(key, loaded, now)
      }
      return { value: e.value, stale: true, hitLevel: 4, loads: 1 }
    }
    // kept or gone: callers wait for the loader
    const loaded = this.#load(outcome)
    if (outcome !== 'throw') {
      this.#write(key, loaded, now)
      return { value: loaded, stale: false, hitLevel: 3, loads: 1 }
    }
    if (e !== undefined && this.#o.resurrectTtl > 0) {
      this.#resurrect(key, e, now)
      return { value: e.value, stale: true, hitLevel: 4, loads: 1 }
    }
    return { value: undefined, rejected: 'LoaderError', stale: false, loads: 1 }
  }

  /** The value the next loader call produces (`undefined` for a `null` outcome). */
  #load(outcome: LoaderOutcome): string | undefined {
    this.#loads++
    return outcome === 'value' ? `v${this.#loads}` : undefined
  }

  #live(key: string, now: number): ModelEntry | undefined {
    const e = this.#entries.get(key)
    if (e === undefined) return undefined
    if (now >= e.expiresAt) {
      this.#entries.delete(key)
      return undefined
    }
    return e
  }

  #write(key: string, value: string | undefined, now: number): void {
    const ttl = value === undefined ? this.#o.negTtl : this.#o.ttl
    this.#entries.set(key, this.#entry(value, now, ttl, false))
  }

  /** Re-armed as if written now with ttl = resurrectTtl, with the same windows. */
  #resurrect(key: string, e: ModelEntry, now: number): void {
    this.#entries.set(key, this.#entry(e.value, now, this.#o.resurrectTtl, true))
  }

  #entry(value: string | undefined, now: number, ttl: number, resurrected: boolean): ModelEntry {
    if (ttl === 0) {
      return { value, staleAt: Infinity, staleUntil: Infinity, expiresAt: Infinity, resurrected }
    }
    const staleAt = now + ttl
    const expiresAt = staleAt + Math.max(this.#o.staleTtl, this.#o.resurrectTtl)
    return { value, staleAt, staleUntil: Math.min(staleAt + this.#o.staleTtl, expiresAt), expiresAt, resurrected }
  }
}
