import { grown, grownSlots, Recency, slotsOf } from './recency.js'

/** A record or tombstone of {@link MemoryStore}, as it is read out of or written into {@link MemoryRecords}. */
export interface Held {
  readonly data: Uint8Array | undefined
  readonly staleAt: number
  readonly expiresAt: number
  /**
   * Until when the write's version is kept, at least `fenceMs` after the write: past
   * `expiresAt` the record reads as absent, but its version still refuses a load that read
   * before the write (a record that expired by its TTL leaves its version behind, as a delete
   * leaves a tombstone).
   */
  readonly versionUntil: number
  readonly staleMs: number | undefined
  /** Write id, unique in the store and never reused; part of the version. */
  readonly id: number
  /** A delete's tombstone: no record, only the version. */
  readonly deleted: boolean
  readonly resurrected: boolean
  readonly meta: Uint8Array | undefined
  readonly tagged: boolean
  /** The value itself, in a store that keeps values. */
  readonly value: unknown
}

/** One namespace generation's index: key → slot. A purge starts a new one; the old one's slots age out. */
export type RecordIndex = Map<string, number>

/** Slots allocated at first; the arrays grow by half as records come, up to the record bound. */
const FIRST_CAPACITY = 16
/** Bits of `#flags`. */
const DELETED = 1
const RESURRECTED = 2
const TAGGED = 4
/** `staleMs` was given (`#staleMs` holds it); a number slot cannot say `undefined`. */
const HAS_STALE_MS = 8
/** The record's times did not all fit the `Int32` slots: `#wide` holds them. */
const WIDE = 16
/** The record's data is `#pinned`. */
const PINNED = 32

/** `x` exactly as an `Int32Array` holds it (not fractional, not -0, not past 2^31). */
const isInt32 = (x: number): boolean => Object.is(x | 0, x)

/** `to - from` when `from + (to - from)` gives back exactly `to` in an `Int32`; `undefined` otherwise. */
function offset(from: number, to: number): number | undefined {
  // Infinity to Infinity (never stale, kept until evicted) is 0, where `to - from` is NaN.
  if (to === from) return 0
  const d = to - from
  return isInt32(d) && from + d === to ? d : undefined
}

/** A record's times that did not fit as `Int32` offsets (fractional, a window past 24 days): kept as doubles. */
class WideTimes {
  constructor(
    readonly expiresAt: number,
    readonly versionUntil: number,
    readonly staleMs: number,
  ) {}
}

/**
 * The records of a `MemoryStore`, least recently used evicted past the bound.
 *
 * Parallel arrays indexed by slot (the layout of L1, local-tier.ts) rather
 * than an lru-cache of objects: a record there cost ~290 B beyond its value
 * (a `<ns>:<generation>:<key>` string of its own, an 11-field object, its
 * three times and its id boxed, lru-cache's slots). Here the key is the
 * caller's own string, looked up in the {@link RecordIndex} of its namespace
 * generation (so no per-record key is built), and the times and write id sit
 * unboxed in typed arrays: the stale instant and the id as doubles, the expiry,
 * the version's end and the stale window as whole-ms `Int32` offsets (a record
 * whose times do not fit keeps them aside as doubles). Meta, which few records
 * carry, is kept aside too. The arrays grow by half up to the bound, so a full
 * store holds no slack.
 *
 * Bytes per record beyond key and value, 100k records of a store keeping
 * values on Node 20 (64-bit, no pointer compression), weighed by
 * memory-store.test.ts: 91 (the index `Map` ~37, two pointers 16, two
 * doubles 16, three offsets 12, links 8, flags 1); 107 with a data and an
 * index pointer per record, 119 with all five numbers as doubles, 306 as an
 * lru-cache entry.
 */
export class MemoryRecords {
  readonly #max: number
  /**
   * Per slot, the index it is filed in (eviction removes it there, whatever
   * generation it belongs to), unless that is `#pinnedIndex`; made at the first
   * record filed in another. A store one cache uses, never purged, has one index:
   * it holds one pointer to it, not one per record.
   */
  #indexes: (RecordIndex | undefined)[] | undefined
  /** The first index a record was filed in. */
  #pinnedIndex: RecordIndex | undefined
  #keys!: (string | undefined)[]
  /**
   * Per slot, the data, unless the record's is {@link PINNED}; made at the first
   * record with other data. A store keeping values is handed the same empty bytes
   * with every untagged value: it holds one pointer to them, not one per record.
   */
  #data: (Uint8Array | undefined)[] | undefined
  /**
   * The first empty data written, held once for every record given that very object;
   * let go when the last of them is (it may be a view keeping a larger buffer alive).
   */
  #pinned: Uint8Array | undefined
  /** Records whose data is `#pinned`. */
  #pinnedRecords = 0
  /** Per slot, the value; made at the first value (a store keeping bytes never needs it). */
  #values: unknown[] | undefined
  #staleAt!: Float64Array
  /** Per slot, `expiresAt - staleAt`, unless the record is {@link WIDE}. */
  #expiresIn!: Int32Array
  /** Per slot, `versionUntil - expiresAt` (never negative), unless the record is {@link WIDE}. */
  #versionIn!: Int32Array
  /** Per slot, `staleMs` when given, unless the record is {@link WIDE}. */
  #staleMs!: Int32Array
  readonly #wide = new Map<number, WideTimes>()
  /** Exact as a double up to 2^53 writes. */
  #ids!: Float64Array
  #flags!: Uint8Array
  readonly #meta = new Map<number, Uint8Array>()
  /** Slots freed by deletes, to reuse before the never-used ones. */
  #free: number[] = []
  /** The first slot never used. */
  #next = 0
  #used = 0
  #capacity = 0
  readonly #recency = new Recency(0)

  constructor(max: number) {
    this.#max = max
    this.#allocateArrays(Math.min(FIRST_CAPACITY, max))
  }

  /** Records held, tombstones and unreachable (purged) generations included. */
  get size(): number {
    return this.#used
  }

  /** Slots allocated per array (for the layout test). */
  get capacity(): number {
    return this.#capacity
  }

  /** The record of `key` in `index`, made the most recently used (as a read of the LRU does). */
  get(index: RecordIndex | undefined, key: string): Held | undefined {
    const slot = index?.get(key)
    if (slot === undefined) return undefined
    this.#recency.touch(slot)
    const flags = this.#flags[slot]!
    const staleAt = this.#staleAt[slot]!
    const wide = flags & WIDE ? this.#wide.get(slot)! : undefined
    const expiresAt = wide?.expiresAt ?? staleAt + this.#expiresIn[slot]!
    return {
      data: flags & PINNED ? this.#pinned : this.#data?.[slot],
      staleAt,
      expiresAt,
      versionUntil: wide?.versionUntil ?? expiresAt + this.#versionIn[slot]!,
      staleMs: flags & HAS_STALE_MS ? (wide?.staleMs ?? this.#staleMs[slot]!) : undefined,
      id: this.#ids[slot]!,
      deleted: (flags & DELETED) !== 0,
      resurrected: (flags & RESURRECTED) !== 0,
      meta: this.#meta.get(slot),
      tagged: (flags & TAGGED) !== 0,
      value: this.#values?.[slot],
    }
  }

  /** File `held` under `key` in `index`, the most recently used; evicts the least recently used when full. */
  set(index: RecordIndex, key: string, held: Held): void {
    let slot = index.get(key)
    if (slot === undefined) {
      if (this.#used >= this.#max) this.#evict(this.#recency.oldest!)
      slot = this.#allocate()
      index.set(key, slot)
      this.#pinnedIndex ??= index
      if (index !== this.#pinnedIndex) this.#indexes ??= slotsOf(this.#capacity)
      if (this.#indexes !== undefined) this.#indexes[slot] = index === this.#pinnedIndex ? undefined : index
      this.#keys[slot] = key
      this.#used++
      this.#recency.link(slot)
    } else {
      this.#recency.touch(slot)
    }
    const pinned = this.#setData(slot, held.data)
    if (held.value !== undefined) this.#values ??= slotsOf(this.#capacity)
    if (this.#values !== undefined) this.#values[slot] = held.value
    this.#ids[slot] = held.id
    const fits = this.#setTimes(slot, held)
    this.#flags[slot] =
      (held.deleted ? DELETED : 0) |
      (held.resurrected ? RESURRECTED : 0) |
      (held.tagged ? TAGGED : 0) |
      (held.staleMs === undefined ? 0 : HAS_STALE_MS) |
      (fits ? 0 : WIDE) |
      (pinned ? PINNED : 0)
    if (held.meta === undefined) this.#meta.delete(slot)
    else this.#meta.set(slot, held.meta)
  }

  delete(index: RecordIndex | undefined, key: string): void {
    const slot = index?.get(key)
    if (slot !== undefined) this.#evict(slot)
  }

  /** `data` into `slot`: whether it is the pinned empty data (the first empty data seen is pinned). */
  #setData(slot: number, data: Uint8Array | undefined): boolean {
    // `#flags[slot]` is still the record being replaced (0 for a new slot).
    if (this.#flags[slot]! & PINNED) this.#unpin()
    if (data !== undefined && data.length === 0) this.#pinned ??= data
    const pinned = data !== undefined && data === this.#pinned
    if (pinned) this.#pinnedRecords++
    if (!pinned && data !== undefined) this.#data ??= slotsOf(this.#capacity)
    if (this.#data !== undefined) this.#data[slot] = pinned ? undefined : data
    return pinned
  }

  /** The times of `held` into `slot`: as `Int32` offsets when they all fit (see {@link offset}), else aside. */
  #setTimes(slot: number, held: Held): boolean {
    const staleMs = held.staleMs ?? 0
    const expiresIn = offset(held.staleAt, held.expiresAt)
    const versionIn = offset(held.expiresAt, held.versionUntil)
    this.#staleAt[slot] = held.staleAt
    if (this.#flags[slot]! & WIDE) this.#wide.delete(slot)
    if (expiresIn === undefined || versionIn === undefined || !isInt32(staleMs)) {
      this.#wide.set(slot, new WideTimes(held.expiresAt, held.versionUntil, staleMs))
      return false
    }
    this.#expiresIn[slot] = expiresIn
    this.#versionIn[slot] = versionIn
    this.#staleMs[slot] = staleMs
    return true
  }

  /** A slot for a new record: a freed one, else the next, growing the arrays (by half, up to the bound). */
  #allocate(): number {
    const reused = this.#free.pop()
    if (reused !== undefined) return reused
    if (this.#next >= this.#capacity) this.#allocateArrays(Math.min(Math.ceil(this.#capacity * 1.5), this.#max))
    return this.#next++
  }

  /** Arrays of `capacity` slots, the current ones copied into their start. */
  #allocateArrays(capacity: number): void {
    const slots = <T>(from: (T | undefined)[] | undefined) => grownSlots(from, capacity)
    // Undefined before the first allocation (from the constructor).
    const numbers = <T extends Float64Array | Int32Array | Uint32Array | Uint8Array>(from: T | undefined, to: T): T =>
      from === undefined ? to : grown(from, to)
    if (this.#indexes !== undefined) this.#indexes = slots(this.#indexes)
    this.#keys = slots(this.#keys)
    if (this.#data !== undefined) this.#data = slots(this.#data)
    if (this.#values !== undefined) this.#values = slots(this.#values)
    this.#staleAt = numbers(this.#staleAt, new Float64Array(capacity))
    this.#expiresIn = numbers(this.#expiresIn, new Int32Array(capacity))
    this.#versionIn = numbers(this.#versionIn, new Int32Array(capacity))
    this.#staleMs = numbers(this.#staleMs, new Int32Array(capacity))
    this.#ids = numbers(this.#ids, new Float64Array(capacity))
    this.#flags = numbers(this.#flags, new Uint8Array(capacity))
    this.#recency.grow(capacity)
    this.#capacity = capacity
  }

  /** Drop the record in `slot`. */
  #evict(slot: number): void {
    const index = this.#indexes?.[slot] ?? this.#pinnedIndex!
    index.delete(this.#keys[slot]!)
    this.#recency.unlink(slot)
    if (this.#indexes !== undefined) this.#indexes[slot] = undefined
    this.#keys[slot] = undefined
    if (this.#data !== undefined) this.#data[slot] = undefined
    if (this.#values !== undefined) this.#values[slot] = undefined
    this.#meta.delete(slot)
    if (this.#flags[slot]! & WIDE) this.#wide.delete(slot)
    if (this.#flags[slot]! & PINNED) this.#unpin()
    this.#flags[slot] = 0
    this.#free.push(slot)
    this.#used--
  }

  /** One record fewer holds `#pinned`; the last lets it go (no record reads it: none is {@link PINNED}). */
  #unpin(): void {
    if (--this.#pinnedRecords === 0) this.#pinned = undefined
  }
}
