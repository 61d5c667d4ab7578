import type { Clock } from './clock.js'
import type { Codec } from './codec.js'
import { withDeadline } from './deadline.js'
import { type Entry, makeEntry } from './entry.js'
import { DecodeError, StoreError } from './errors.js'
import type { FreshnessPolicy } from './options.js'
import type { SharedStore, StoreRecord, StoreWrite } from './store.js'

/** What a store call resolves to when it failed or timed out (already reported). */
export const FAILED: unique symbol = Symbol('store call failed')

/** How a {@link SharedTier} is wired into its cache. */
export interface SharedTierOptions<V> {
  readonly namespace: string
  readonly store: SharedStore
  readonly codec: Codec
  readonly clock: Clock
  /** ms one store call may take. */
  readonly timeoutMs: number
  readonly l1Serializer: ((value: unknown, key: string) => V) | undefined
  /** Receives every store, decode and encode failure (the cache emits and counts them). */
  readonly report: (error: StoreError | DecodeError, key: string | undefined) => void
}

/**
 * L2 as the cache sees it: a store behind time-outs that never throws,
 * records decoded into entries, values encoded into writes.
 */
export class SharedTier<V> {
  readonly store: SharedStore
  readonly #o: SharedTierOptions<V>

  constructor(options: SharedTierOptions<V>) {
    this.#o = options
    this.store = options.store
  }

  /**
   * A store call that never throws: failures and time-outs are reported and
   * resolve `FAILED`. `extraMs` widens the deadline for calls that wait by design (a lock wait).
   */
  call<T>(operation: string, run: () => Promise<T>, extraMs = 0): Promise<T | typeof FAILED> {
    const fail = (cause: unknown): typeof FAILED => {
      this.#o.report(cause instanceof StoreError ? cause : new StoreError(operation, cause), undefined)
      return FAILED
    }
    let running: Promise<T>
    try {
      running = run()
    } catch (cause) {
      return Promise.resolve(fail(cause))
    }
    if (this.store.boundsCalls !== true) {
      const limit = this.#o.timeoutMs + extraMs
      running = withDeadline(
        running,
        limit,
        () => new StoreError(operation, undefined, `shared store ${operation} timed out after ${limit} ms`),
      )
    }
    return running.then(undefined, fail)
  }

  /** The entry of `key` in the store, fresh or stale; `undefined` when absent, unreadable or the store failed. */
  read(key: string, f: FreshnessPolicy): Promise<Entry<V> | undefined> {
    // One promise step over the store's: this is every L1 miss's path.
    return this.call('get', () => this.store.get(this.#o.namespace, key)).then((record) =>
      record === FAILED || record === undefined ? undefined : this.#toEntry(key, record, this.#o.clock.now(), f),
    )
  }

  /** The entries of many keys in one round trip, in order. */
  async readMany(keys: readonly string[], f: FreshnessPolicy): Promise<(Entry<V> | undefined)[]> {
    const records = await this.call('getMany', () => this.store.getMany(this.#o.namespace, keys))
    if (records === FAILED) return keys.map(() => undefined)
    const now = this.#o.clock.now()
    return keys.map((key, i) => {
      const record = records[i]
      return record === undefined ? undefined : this.#toEntry(key, record, now, f)
    })
  }

  /** Write encoded records: one `set`, or one `setMany` for several. */
  async write(writes: readonly (readonly [string, StoreWrite])[]): Promise<void> {
    const ns = this.#o.namespace
    if (writes.length === 1) {
      const [key, write] = writes[0]!
      await this.call('set', () => this.store.set(ns, key, write))
    } else if (writes.length > 1) {
      await this.call('setMany', () => this.store.setMany(ns, writes))
    }
  }

  /** Encode a value (or a miss) into a store write; `FAILED` when the codec cannot encode it. */
  encode(key: string, value: V | undefined, life: Omit<StoreWrite, 'data'>): StoreWrite | typeof FAILED {
    if (value === undefined) return { data: undefined, ...life }
    try {
      return { data: this.#o.codec.encode(value), ...life }
    } catch (cause) {
      // Unencodable values stay in L1 only; the caller still gets them.
      this.#o.report(
        new StoreError('encode', cause, `could not encode the value of "${key}" with ${this.#o.codec.name}`),
        key,
      )
      return FAILED
    }
  }

  /**
   * Decode a record into an entry that lives for the record's remaining time
   * (never a fresh TTL) with the writer's stale window when it stored one.
   */
  #toEntry(key: string, record: StoreRecord, now: number, f: FreshnessPolicy): Entry<V> | undefined {
    let value: V | undefined
    if (record.data !== undefined) {
      try {
        const decoded = this.#o.codec.decode(record.data)
        value = this.#o.l1Serializer ? this.#o.l1Serializer(decoded, key) : (decoded as V)
      } catch (cause) {
        this.#o.report(new DecodeError(key, cause), key)
        return undefined
      }
    }
    const windows = record.staleMs === undefined ? f : { ...f, staleTtl: record.staleMs }
    return makeEntry(value, now, record.freshMs, record.keepMs, windows)
  }
}
