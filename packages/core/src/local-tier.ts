import type { Clock } from './clock.js'
import type { Entry } from './entry.js'
import { CACHE_DEFAULTS, type TierCacheOptions } from './options.js'
import type { TagStamp } from './tags.js'
import { describe } from './validate.js'

/** What few entries carry beyond their value and times: kept aside, so the common entry pays nothing for it. */
class Extra {
  constructor(
    readonly staleAt: number,
    readonly refreshAt: number,
    readonly resurrected: boolean,
    readonly meta: unknown,
    readonly tags: TagStamp | undefined,
  ) {}
}

/** Slot number meaning "none" in the recency links. */
const NONE = 0xffffffff
/** Times per slot in `#times`: until when the hot path may serve it, the stale window's end, expiry, when cached. */
const HOT = 0
const STALE_UNTIL = 1
const EXPIRES = 2
const CACHED = 3
const TIMES = 4
/** Slots allocated at first; the arrays double as entries come, up to the entry bound. */
const FIRST_CAPACITY = 16

/**
 * L1: the entries of one cache in this process, bounded by count and/or
 * bytes, least recently used evicted first.
 *
 * An LRU of its own, as parallel arrays indexed by slot (lru-cache's layout)
 * rather than an object per entry: a key's slot in a `Map`, then its key,
 * value, recency links and four times (in one `Float64Array`, unboxed). An
 * entry that carries more (a refresh-ahead instant, a resurrected mark, meta,
 * tags) keeps that in a side map of the few that do, and an entry read on
 * the hot path keeps its settled promise. Each entry was an lru-cache entry
 * holding a settled promise plus an entry object in a side map: 284 bytes
 * beyond key and value (issue 15).
 */
export class LocalTier<V> {
  readonly #clock: Clock
  readonly #max: number
  readonly #maxSize: number
  readonly #sizeOf: ((value: V, key: string) => number) | undefined
  readonly #slots = new Map<string, number>()
  #keys: (string | undefined)[] = []
  #values: (V | undefined)[] = []
  /**
   * Per slot, the value as a settled promise, made at its first hit and kept
   * until the value changes: an L1 hit then allocates nothing, and an entry
   * never hit pays nothing for it.
   */
  #settled: (Promise<V | undefined> | undefined)[] = []
  #times: Float64Array
  #newer: Uint32Array
  #older: Uint32Array
  #sizes: Float64Array | undefined
  readonly #extras = new Map<number, Extra>()
  /** Slots freed by deletes, to reuse before growing. */
  #free: number[] = []
  #used = 0
  #capacity: number
  #newest = NONE
  #oldest = NONE
  #totalSize = 0

  constructor(options: TierCacheOptions<V>, clock: Clock, max: number | undefined) {
    this.#clock = clock
    // createLocalTier guarantees a bound: max, or maxSize with sizeOf.
    this.#max = max === undefined || max === 0 ? Number.POSITIVE_INFINITY : max
    const bySize = options.lruMaxBytes !== undefined && options.sizeOf !== undefined
    this.#maxSize = bySize ? options.lruMaxBytes! : Number.POSITIVE_INFINITY
    this.#sizeOf = bySize ? options.sizeOf : undefined
    this.#capacity = Math.min(FIRST_CAPACITY, this.#max)
    this.#times = new Float64Array(this.#capacity * TIMES)
    this.#newer = new Uint32Array(this.#capacity)
    this.#older = new Uint32Array(this.#capacity)
    this.#sizes = bySize ? new Float64Array(this.#capacity) : undefined
  }

  /** The hot path: the settled value of a fresh, plain entry; `undefined` for anything else. */
  hit(key: string): Promise<V | undefined> | undefined {
    const slot = this.#slots.get(key)
    if (slot === undefined || !(this.#clock.now() < this.#times[slot * TIMES + HOT]!)) return undefined
    this.#touch(slot)
    let settled = this.#settled[slot]
    if (settled === undefined) {
      settled = Promise.resolve(this.#values[slot])
      this.#settled[slot] = settled
    }
    return settled
  }

  /** What `hit` settles to, read synchronously: the value of a fresh, plain entry; `undefined` for anything else. */
  freshValue(key: string): V | undefined {
    const slot = this.#slots.get(key)
    if (slot === undefined || !(this.#clock.now() < this.#times[slot * TIMES + HOT]!)) return undefined
    this.#touch(slot)
    return this.#values[slot]
  }

  /** The entry of `key`, fresh, stale or expired (the slow path decides). */
  get(key: string): Entry<V> | undefined {
    const slot = this.#slots.get(key)
    if (slot === undefined) return undefined
    const t = slot * TIMES
    const times = this.#times
    const extra = this.#extras.get(slot)
    return {
      value: this.#values[slot],
      staleAt: extra === undefined ? times[t + HOT]! : extra.staleAt,
      staleUntil: times[t + STALE_UNTIL]!,
      expiresAt: times[t + EXPIRES]!,
      cachedAt: times[t + CACHED]!,
      resurrected: extra?.resurrected ?? false,
      refreshAt: extra?.refreshAt ?? Number.POSITIVE_INFINITY,
      meta: extra?.meta,
      tags: extra?.tags,
    }
  }

  set(key: string, entry: Entry<V>): void {
    const size = this.#sizeOf === undefined ? 0 : this.#sizeOfEntry(key, entry.value)
    if (size > this.#maxSize) {
      // Larger than the whole byte bound: not kept at all (not even an older copy).
      this.delete(key)
      return
    }
    let slot = this.#slots.get(key)
    if (slot === undefined) {
      if (this.#used >= this.#max) this.#evict(this.#oldest)
      slot = this.#allocate()
      this.#slots.set(key, slot)
      this.#keys[slot] = key
      this.#used++
      this.#link(slot)
    } else {
      this.#extras.delete(slot)
      this.#totalSize -= this.#sizes?.[slot] ?? 0
      this.#touch(slot)
    }
    this.#values[slot] = entry.value
    this.#settled[slot] = undefined
    const refreshAt = entry.refreshAt ?? Number.POSITIVE_INFINITY
    const plain = !entry.resurrected && entry.tags === undefined
    const t = slot * TIMES
    // Resurrected values are reported as stale by the slow path, tagged ones are checked
    // against their tags there (tags.ts), and a refresh ahead is the slow path's to start:
    // the hot path serves none of them.
    this.#times[t + HOT] = plain ? Math.min(entry.staleAt, refreshAt) : Number.NEGATIVE_INFINITY
    this.#times[t + STALE_UNTIL] = entry.staleUntil
    this.#times[t + EXPIRES] = entry.expiresAt
    this.#times[t + CACHED] = entry.cachedAt
    if (!plain || refreshAt !== Number.POSITIVE_INFINITY || entry.meta !== undefined) {
      this.#extras.set(slot, new Extra(entry.staleAt, refreshAt, entry.resurrected, entry.meta, entry.tags))
    }
    if (this.#sizes !== undefined) {
      this.#sizes[slot] = size
      this.#totalSize += size
      while (this.#totalSize > this.#maxSize && this.#oldest !== slot) this.#evict(this.#oldest)
    }
  }

  /** Entries held (kept for tests written when a side map could drift from the LRU). */
  get entryCount(): number {
    return this.#used
  }

  delete(key: string): void {
    const slot = this.#slots.get(key)
    if (slot !== undefined) this.#evict(slot)
  }

  clear(): void {
    this.#slots.clear()
    this.#extras.clear()
    this.#keys = []
    this.#values = []
    this.#settled = []
    this.#free = []
    this.#used = 0
    this.#capacity = Math.min(FIRST_CAPACITY, this.#max)
    this.#times = new Float64Array(this.#capacity * TIMES)
    this.#newer = new Uint32Array(this.#capacity)
    this.#older = new Uint32Array(this.#capacity)
    if (this.#sizes !== undefined) this.#sizes = new Float64Array(this.#capacity)
    this.#newest = NONE
    this.#oldest = NONE
    this.#totalSize = 0
  }

  get size(): number {
    return this.#used
  }

  #sizeOfEntry(key: string, value: V | undefined): number {
    // A cached miss still costs its key and entry; counted so misses cannot grow L1 unbounded.
    return Math.max(1, value === undefined ? key.length + 64 : this.#sizeOf!(value, key))
  }

  /** A free slot: a deleted one, else the next, growing the arrays (doubling, up to the entry bound). */
  #allocate(): number {
    const reused = this.#free.pop()
    if (reused !== undefined) return reused
    const slot = this.#keys.length
    if (slot >= this.#capacity) this.#grow()
    this.#keys.push(undefined)
    this.#values.push(undefined)
    this.#settled.push(undefined)
    return slot
  }

  #grow(): void {
    const capacity = Math.min(this.#capacity * 2, this.#max)
    const grown = (from: Float64Array, per: number) => {
      const to = new Float64Array(capacity * per)
      to.set(from)
      return to
    }
    this.#times = grown(this.#times, TIMES)
    if (this.#sizes !== undefined) this.#sizes = grown(this.#sizes, 1)
    const newer = new Uint32Array(capacity)
    newer.set(this.#newer)
    this.#newer = newer
    const older = new Uint32Array(capacity)
    older.set(this.#older)
    this.#older = older
    this.#capacity = capacity
  }

  /** Drop the entry in `slot`. */
  #evict(slot: number): void {
    this.#slots.delete(this.#keys[slot]!)
    this.#unlink(slot)
    this.#keys[slot] = undefined
    this.#values[slot] = undefined
    this.#settled[slot] = undefined
    this.#extras.delete(slot)
    if (this.#sizes !== undefined) this.#totalSize -= this.#sizes[slot]!
    this.#free.push(slot)
    this.#used--
  }

  /** Make `slot` the most recently used. */
  #touch(slot: number): void {
    if (slot === this.#newest) return
    this.#unlink(slot)
    this.#link(slot)
  }

  #link(slot: number): void {
    this.#older[slot] = this.#newest
    this.#newer[slot] = NONE
    if (this.#newest !== NONE) this.#newer[this.#newest] = slot
    this.#newest = slot
    if (this.#oldest === NONE) this.#oldest = slot
  }

  #unlink(slot: number): void {
    const newer = this.#newer[slot]!
    const older = this.#older[slot]!
    if (newer === NONE) this.#newest = older
    else this.#older[newer] = older
    if (older === NONE) this.#oldest = newer
    else this.#newer[older] = newer
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
