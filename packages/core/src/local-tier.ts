import type { Clock } from './clock.js'
import type { Entry } from './entry.js'
import { CACHE_DEFAULTS, type TierCacheOptions } from './options.js'
import { grown, grownSlots, Recency, slotsOf } from './recency.js'
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

/** Slots allocated at first; the arrays grow by half as entries come, up to the entry bound. */
const FIRST_CAPACITY = 16
/** Per slot in `#windows`: the stale window's end and expiry, each as an offset from the entry's stale instant. */
const STALE_UNTIL = 0
const EXPIRES = 1
const WINDOWS = 2
/** The offset in `#windows` meaning `Infinity` (never expires). */
const FOREVER = 0x7fffffff

/**
 * `to` as a whole-ms offset from `from` that reads back as exactly `to` (see
 * {@link at}), or `undefined` when no `Int32` offset does (a fractional or
 * longer-than-24-day window).
 */
function offset(from: number, to: number): number | undefined {
  if (to === Number.POSITIVE_INFINITY) return FOREVER
  // A window of 0 covers a stale instant of Infinity (ttl 0), where `to - from` is NaN.
  if (Object.is(from + 0, to)) return 0
  const d = to - from
  return Number.isInteger(d) && d >= -FOREVER && d < FOREVER && Object.is(from + d, to) ? d : undefined
}

/** The instant `d` ms after `from`, as {@link offset} wrote it. */
const at = (from: number, d: number): number => (d === FOREVER ? Number.POSITIVE_INFINITY : from + d)

/**
 * L1: the entries of one cache in this process, bounded by count and/or
 * bytes, least recently used evicted first.
 *
 * An LRU of its own, as parallel arrays indexed by slot (lru-cache's layout)
 * rather than an object per entry: a key's slot in a `Map`, then its key,
 * value and recency links, and its times unboxed in typed arrays: until when
 * the hot path serves it and when it was cached as doubles, the stale
 * window's end and expiry as `Int32` offsets from its stale instant (windows
 * are whole ms; a tier that meets one that is not keeps them as doubles from
 * then on). An entry that carries more (a refresh-ahead instant, a resurrected
 * mark, meta, tags) keeps that in a side map of the few that do, and an entry
 * read on the hot path keeps its settled promise. The arrays grow by half, up
 * to the entry bound, so a full tier has no slack.
 *
 * Bytes beyond key and value, 100k entries on Node 20 (64-bit, no pointer
 * compression), weighed by local-tier.test.ts: 92 per entry (the `Map` 37,
 * key, value and promise slots 24, times 24, links 8), 133 once hit (its
 * promise); they were 105 and 145 with four doubles per slot, and 284 as an
 * lru-cache entry holding a promise plus an entry object in a side map (issue 15).
 */
export class LocalTier<V> {
  readonly #clock: Clock
  readonly #max: number
  readonly #maxSize: number
  readonly #sizeOf: ((value: V, key: string) => number) | undefined
  readonly #slots = new Map<string, number>()
  #keys!: (string | undefined)[]
  #values!: (V | undefined)[]
  /**
   * Per slot, the value as a settled promise, made at its first hit and kept
   * until the value changes: an L1 hit then allocates nothing (a new promise
   * per hit, which saves these 40 B, made hits 10-15 % slower), and an entry
   * never hit pays only the slot.
   */
  #settled!: (Promise<V | undefined> | undefined)[]
  /** Per slot, until when the hot path serves it: its stale instant; -Infinity for an entry only the slow path serves. */
  #hot!: Float64Array
  #cached!: Float64Array
  /** Per slot, {@link WINDOWS} offsets (see {@link offset}); `undefined` once a window did not fit, then `#wide` holds them. */
  #windows!: Int32Array | undefined
  /** Per slot, the stale window's end and expiry as doubles, for a tier that met a window no offset holds. */
  #wide!: Float64Array | undefined
  #sizes!: Float64Array | undefined
  readonly #extras = new Map<number, Extra>()
  /** Slots freed by deletes, to reuse before the never-used ones. */
  #free: number[] = []
  /** The first slot never used. */
  #next = 0
  #used = 0
  #capacity!: number
  #recency!: Recency
  #totalSize = 0

  constructor(options: TierCacheOptions<V>, clock: Clock, max: number | undefined) {
    this.#clock = clock
    // createLocalTier guarantees a bound: max, or maxSize with sizeOf.
    this.#max = max === undefined || max === 0 ? Number.POSITIVE_INFINITY : max
    const bySize = options.lruMaxBytes !== undefined && options.sizeOf !== undefined
    this.#maxSize = bySize ? options.lruMaxBytes! : Number.POSITIVE_INFINITY
    this.#sizeOf = bySize ? options.sizeOf : undefined
    // The first slots, as after a clear.
    this.clear()
  }

  /** The hot path: the settled value of a fresh, plain entry; `undefined` for anything else. */
  hit(key: string): Promise<V | undefined> | undefined {
    const slot = this.#slots.get(key)
    if (slot === undefined || !(this.#clock.now() < this.#hot[slot]!)) return undefined
    this.#recency.touch(slot)
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
    if (slot === undefined || !(this.#clock.now() < this.#hot[slot]!)) return undefined
    this.#recency.touch(slot)
    return this.#values[slot]
  }

  /** The entry of `key`, fresh, stale or expired (the slow path decides). */
  get(key: string): Entry<V> | undefined {
    const slot = this.#slots.get(key)
    if (slot === undefined) return undefined
    const extra = this.#extras.get(slot)
    const staleAt = extra === undefined ? this.#hot[slot]! : extra.staleAt
    const w = slot * WINDOWS
    const windows = this.#windows
    const wide = this.#wide!
    return {
      value: this.#values[slot],
      staleAt,
      staleUntil: windows === undefined ? wide[w + STALE_UNTIL]! : at(staleAt, windows[w + STALE_UNTIL]!),
      expiresAt: windows === undefined ? wide[w + EXPIRES]! : at(staleAt, windows[w + EXPIRES]!),
      cachedAt: this.#cached[slot]!,
      resurrected: extra?.resurrected ?? false,
      refreshAt: extra?.refreshAt ?? Number.POSITIVE_INFINITY,
      meta: extra?.meta,
      tags: extra?.tags,
    }
  }

  set(key: string, entry: Entry<V>): void {
    let size = 0
    if (this.#sizeOf !== undefined) {
      try {
        size = this.#sizeOfEntry(key, entry.value)
      } catch (error) {
        // The key's older copy must not outlive the value that replaces it (the store may hold that one now).
        this.delete(key)
        throw error
      }
    }
    if (size > this.#maxSize) {
      // Larger than the whole byte bound: not kept at all (not even an older copy).
      this.delete(key)
      return
    }
    let slot = this.#slots.get(key)
    if (slot === undefined) {
      if (this.#used >= this.#max) this.#evict(this.#recency.oldest!)
      slot = this.#allocate()
      this.#slots.set(key, slot)
      this.#keys[slot] = key
      this.#used++
      this.#recency.link(slot)
    } else {
      this.#extras.delete(slot)
      this.#totalSize -= this.#sizes?.[slot] ?? 0
      this.#recency.touch(slot)
    }
    this.#values[slot] = entry.value
    this.#settled[slot] = undefined
    const refreshAt = entry.refreshAt ?? Number.POSITIVE_INFINITY
    const plain = !entry.resurrected && entry.tags === undefined
    // Resurrected values are reported as stale by the slow path, tagged ones are checked
    // against their tags there (tags.ts), and a refresh ahead is the slow path's to start:
    // the hot path serves none of them.
    this.#hot[slot] = plain ? Math.min(entry.staleAt, refreshAt) : Number.NEGATIVE_INFINITY
    this.#cached[slot] = entry.cachedAt
    this.#setWindows(slot, entry.staleAt, entry.staleUntil, entry.expiresAt)
    if (!plain || refreshAt !== Number.POSITIVE_INFINITY || entry.meta !== undefined) {
      this.#extras.set(slot, new Extra(entry.staleAt, refreshAt, entry.resurrected, entry.meta, entry.tags))
    }
    if (this.#sizes !== undefined) {
      this.#sizes[slot] = size
      this.#totalSize += size
      while (this.#totalSize > this.#maxSize && this.#recency.oldest !== slot) this.#evict(this.#recency.oldest!)
    }
  }

  /** Entries held (kept for tests written when a side map could drift from the LRU). */
  get entryCount(): number {
    return this.#used
  }

  /** Slots allocated per array (for the layout test: what the arrays hold beyond the entries). */
  get capacity(): number {
    return this.#capacity
  }

  /** Whether the windows are kept as doubles (a window met no `Int32` offset holds); for tests. */
  get wide(): boolean {
    return this.#wide !== undefined
  }

  delete(key: string): void {
    const slot = this.#slots.get(key)
    if (slot !== undefined) this.#evict(slot)
  }

  clear(): void {
    this.#slots.clear()
    this.#extras.clear()
    this.#free = []
    this.#next = 0
    this.#used = 0
    this.#capacity = Math.min(FIRST_CAPACITY, this.#max)
    this.#keys = slotsOf(this.#capacity)
    this.#values = slotsOf(this.#capacity)
    this.#settled = slotsOf(this.#capacity)
    this.#hot = new Float64Array(this.#capacity)
    this.#cached = new Float64Array(this.#capacity)
    this.#windows = new Int32Array(this.#capacity * WINDOWS)
    this.#wide = undefined
    this.#recency = new Recency(this.#capacity)
    this.#sizes = this.#sizeOf === undefined ? undefined : new Float64Array(this.#capacity)
    this.#totalSize = 0
  }

  get size(): number {
    return this.#used
  }

  #sizeOfEntry(key: string, value: V | undefined): number {
    // A cached miss still costs its key and entry; counted so misses cannot grow L1 unbounded.
    if (value === undefined) return key.length + 64
    const size = this.#sizeOf!(value, key)
    // A size that is not a number >= 0 (NaN, undefined, a string) is refused: one NaN made the running
    // total NaN, `NaN > lruMaxBytes` is never true, and L1 was unbounded from then on.
    if (typeof size !== 'number' || !(size >= 0)) {
      throw new TypeError(`options.sizeOf must return a number >= 0, got ${describe(size)} for key "${key}"`)
    }
    return Math.max(1, size)
  }

  /** The stale window's end and expiry of `slot`, as offsets from its stale instant while they fit. */
  #setWindows(slot: number, staleAt: number, staleUntil: number, expiresAt: number): void {
    const w = slot * WINDOWS
    if (this.#windows !== undefined) {
      const untilOffset = offset(staleAt, staleUntil)
      const expiresOffset = offset(staleAt, expiresAt)
      if (untilOffset !== undefined && expiresOffset !== undefined) {
        this.#windows[w + STALE_UNTIL] = untilOffset
        this.#windows[w + EXPIRES] = expiresOffset
        return
      }
      this.#widen()
    }
    this.#wide![w + STALE_UNTIL] = staleUntil
    this.#wide![w + EXPIRES] = expiresAt
  }

  /** Keep every slot's windows as doubles from now on (a window no offset holds: rare, so for good). */
  #widen(): void {
    const windows = this.#windows!
    const wide = new Float64Array(this.#capacity * WINDOWS)
    for (let slot = 0; slot < this.#next; slot++) {
      if (this.#keys[slot] === undefined) continue
      const staleAt = this.#extras.get(slot)?.staleAt ?? this.#hot[slot]!
      const w = slot * WINDOWS
      wide[w + STALE_UNTIL] = at(staleAt, windows[w + STALE_UNTIL]!)
      wide[w + EXPIRES] = at(staleAt, windows[w + EXPIRES]!)
    }
    this.#wide = wide
    this.#windows = undefined
  }

  /** A free slot: a deleted one, else the next, growing the arrays (by half, up to the entry bound). */
  #allocate(): number {
    const reused = this.#free.pop()
    if (reused !== undefined) return reused
    if (this.#next >= this.#capacity) this.#grow()
    return this.#next++
  }

  #grow(): void {
    const capacity = Math.min(Math.ceil(this.#capacity * 1.5), this.#max)
    this.#keys = grownSlots(this.#keys, capacity)
    this.#values = grownSlots(this.#values, capacity)
    this.#settled = grownSlots(this.#settled, capacity)
    this.#hot = grown(this.#hot, new Float64Array(capacity))
    this.#cached = grown(this.#cached, new Float64Array(capacity))
    if (this.#windows !== undefined) this.#windows = grown(this.#windows, new Int32Array(capacity * WINDOWS))
    if (this.#wide !== undefined) this.#wide = grown(this.#wide, new Float64Array(capacity * WINDOWS))
    if (this.#sizes !== undefined) this.#sizes = grown(this.#sizes, new Float64Array(capacity))
    this.#recency.grow(capacity)
    this.#capacity = capacity
  }

  /** Drop the entry in `slot`. */
  #evict(slot: number): void {
    this.#slots.delete(this.#keys[slot]!)
    this.#recency.unlink(slot)
    this.#keys[slot] = undefined
    this.#values[slot] = undefined
    this.#settled[slot] = undefined
    this.#extras.delete(slot)
    if (this.#sizes !== undefined) this.#totalSize -= this.#sizes[slot]!
    this.#free.push(slot)
    this.#used--
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
  if (options.lruMaxBytes === undefined) {
    // As lru-cache refuses a sizeCalculation without maxSize: a sizeOf with no byte bound would be ignored.
    if (options.sizeOf !== undefined) {
      throw new TypeError('options.sizeOf is only used with options.lruMaxBytes: set lruMaxBytes, or remove sizeOf')
    }
    return max === 0 ? undefined : new LocalTier(options, clock, max)
  }
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
