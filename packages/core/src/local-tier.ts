import { LRUCache } from 'lru-cache'
import type { Clock } from './clock.js'
import type { Entry } from './entry.js'
import { CACHE_DEFAULTS, type TierCacheOptions } from './options.js'
import { describe } from './validate.js'

/**
 * L1: the entries of one cache in this process, bounded by count and/or bytes.
 *
 * Two views of the same entries. The LRU holds, per key, the entry's value as
 * a settled promise, with lru-cache's own TTL set to the entry's fresh time: an
 * L1 hit is one `lru.get` that returns that promise, touching no other object
 * and allocating nothing (measured in docs/benchmarks: the entry object behind
 * each key was what kept random-access hits below `await lru.get(k)`). A side
 * map holds the entries themselves (stale window, resurrect, when cached) for
 * the slow path. The LRU decides what stays: its evictions drop the entry too.
 */
export class LocalTier<V> {
  readonly #fast: LRUCache<string, Promise<V | undefined>>
  readonly #entries = new Map<string, Entry<V>>()
  readonly #clock: Clock

  constructor(options: TierCacheOptions<V>, clock: Clock, max: number | undefined) {
    this.#clock = clock
    const maxSize = options.lruMaxBytes
    const sizeOf = options.sizeOf
    // createLocalTier guarantees a bound: max, or maxSize with sizeOf.
    const bounds = {
      ...(max ? { max } : {}),
      ...(maxSize === undefined || sizeOf === undefined
        ? {}
        : {
            maxSize,
            // A cached miss still costs its key and entry; count it so misses cannot grow L1 unbounded.
            sizeCalculation: (_settled: Promise<V | undefined>, key: string) => {
              const value = this.#entries.get(key)?.value
              return Math.max(1, value === undefined ? key.length + 64 : sizeOf(value, key))
            },
          }),
    } as { max: number } | { maxSize: number; sizeCalculation: (v: Promise<V | undefined>, k: string) => number }
    this.#fast = new LRUCache<string, Promise<V | undefined>>({
      ...bounds,
      // The entry outlives its fresh time (stale and resurrect windows): a stale
      // `get` must miss without deleting, and only eviction or `delete` drops it.
      noDeleteOnStaleGet: true,
      // Our clock, read on every check: the system clock caches its own reading
      // per ms, and an injected test clock must be seen at once. lru-cache takes
      // a start time of 0 as "no TTL", hence the +1.
      perf: { now: () => this.#clock.now() + 1 },
      ttlResolution: 0,
      dispose: (_settled, key, reason) => {
        if (reason !== 'set') this.#entries.delete(key)
      },
    })
  }

  /** The hot path: the settled value of a fresh, plain entry; `undefined` for anything else. */
  hit(key: string): Promise<V | undefined> | undefined {
    return this.#fast.get(key)
  }

  /** What `hit` settles to, read synchronously: the value of a fresh, plain entry; `undefined` for anything else. */
  freshValue(key: string): V | undefined {
    return this.#fast.get(key) === undefined ? undefined : this.#entries.get(key)?.value
  }

  /** The entry of `key`, fresh, stale or expired (the slow path decides). */
  get(key: string): Entry<V> | undefined {
    return this.#entries.get(key)
  }

  set(key: string, entry: Entry<V>): void {
    this.#entries.set(key, entry)
    const now = this.#clock.now()
    // A refresh ahead is the slow path's to start: the hot path stops serving the entry when it is due.
    const remaining = Math.min(entry.staleAt, entry.refreshAt) - now
    const settled = Promise.resolve(entry.value)
    if (entry.resurrected || entry.tags !== undefined || remaining < 2) {
      // Never fresh for the hot path: resurrected values are reported as stale by the slow
      // path, tagged ones are checked against their tags there (tags.ts), and a last
      // millisecond is not worth a TTL that lru-cache compares with `>`.
      // (lru-cache's clock reads now + 1, so this start is 2 ms back: stale at once.)
      this.#fast.set(key, settled, { ttl: 1, start: now - 1 })
    } else {
      // lru-cache's entry is fresh while now - start <= ttl; ours while now < staleAt.
      this.#fast.set(key, settled, { ttl: remaining === Infinity ? 0 : Math.ceil(remaining) - 1 })
    }
    // lru-cache refuses a value larger than its whole byte bound: then L1 must not keep the entry either.
    if (this.#fast.peek(key, { allowStale: true }) !== settled) this.#entries.delete(key)
  }

  /** Entries held in the side map (equals `size` unless something is out of sync: for tests). */
  get entryCount(): number {
    return this.#entries.size
  }

  delete(key: string): void {
    this.#fast.delete(key)
    this.#entries.delete(key)
  }

  clear(): void {
    this.#fast.clear()
    this.#entries.clear()
  }

  get size(): number {
    return this.#fast.size
  }
}

/**
 * L1 for `options`, or `undefined` when `lruSize` is 0 (L1 disabled).
 * Throws a `TypeError` naming a bad bound.
 */
export function createLocalTier<V>(options: TierCacheOptions<V>, clock: Clock): LocalTier<V> | undefined {
  const max = options.lruSize ?? (options.lruMaxBytes === undefined ? CACHE_DEFAULTS.lruSize : undefined)
  if (max !== undefined && (!Number.isInteger(max) || max < 0)) {
    throw new TypeError(`options.lruSize must be an integer >= 0, got ${describe(max)}`)
  }
  if (options.lruMaxBytes === undefined) return max === 0 ? undefined : new LocalTier(options, clock, max)
  if (!Number.isInteger(options.lruMaxBytes) || options.lruMaxBytes < 1) {
    throw new TypeError(`options.lruMaxBytes must be a positive integer, got ${describe(options.lruMaxBytes)}`)
  }
  if (typeof options.sizeOf !== 'function') {
    throw new TypeError(`options.sizeOf must be a function when lruMaxBytes is set, got ${describe(options.sizeOf)}`)
  }
  return new LocalTier(options, clock, max)
}

/**
 * `l1Serializer`, checked: a serializer that returns `undefined` for a value
 * would leave a miss in L1 for the value's whole TTL while the store holds the
 * real value, so it throws a `TypeError` instead. On a store read that becomes
 * a reported decode error and a miss; on `set` or a load, the call rejects.
 */
export function checkedL1Serializer<V>(
  serializer: ((value: unknown, key: string) => V) | undefined,
): ((value: unknown, key: string) => V) | undefined {
  if (serializer === undefined) return undefined
  if (typeof serializer !== 'function') {
    throw new TypeError(`options.l1Serializer must be a function, got ${describe(serializer)}`)
  }
  return (value, key) => {
    const serialized = serializer(value, key)
    if (serialized === undefined) throw new TypeError(`options.l1Serializer returned undefined for key "${key}"`)
    return serialized
  }
}
