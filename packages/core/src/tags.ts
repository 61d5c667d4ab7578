import { LRUCache } from 'lru-cache'
import type { Clock } from './clock.js'
import type { Entry } from './entry.js'
import { StoreCallError } from './errors.js'
import { FAILED, type SharedTier } from './shared-tier.js'
import type { StoreRead } from './store.js'
import { describe } from './validate.js'

/**
 * Tags in core: `ctx.tags` or `set(key, value, { tags })` attach tags to an
 * entry; `invalidateTag(tag)` makes every entry with the tag stale,
 * `deleteTag(tag)` makes them misses. Both are O(1) on the store: nothing
 * looks for the entries, each entry is judged when it is read.
 *
 * The order of tag operations and loads comes from one counter per namespace
 * in the store, the **tag epoch**, never from a clock (clocks of different
 * hosts disagree). Each tag operation moves the epoch on by one with a fenced
 * write (compare-and-set) and records its number in the tag's own record:
 * `inv`, the number of its latest invalidate or delete, and `del`, of its
 * latest delete. An entry carries its tags and a **stamp**: the highest tag
 * operation number its node had seen when its load started (its own
 * operations, the tag records it read). Every number a node has seen belongs
 * to an operation that had already taken its number, so a load stamped `s`
 * started after operations `<= s`; an operation numbered above `s` may have
 * started before or after the load and is taken to be after it. So an entry
 * whose tag has `del > stamp` is a miss, one with `inv > stamp` is stale:
 * a load that started before a tag operation never looks newer than it. A
 * node that had not heard of an older operation stamps too low, and the
 * entry it loads is judged stale once: too much invalidation, never too
 * little.
 */

/** The tags of an entry and the stamp of its load (see the module comment). */
export interface TagStamp {
  readonly tags: readonly string[]
  /** The highest tag operation number seen when the entry's load (or `set`) started. */
  readonly at: number
}

/**
 * The stamp number of each running load, by its loader context, so a value a
 * loader writes under another key (`set(k, v, { tags, loadedBy: ctx })`) is
 * stamped as of its load's start, not of the `set`.
 */
const loadStamps = new WeakMap<object, number>()

/** Remember that the load of `ctx` is stamped `seen`. */
export function stampLoad(ctx: object, seen: number): void {
  loadStamps.set(ctx, seen)
}

/** The stamp number of the load of `ctx`; a `TypeError` naming `name` when `ctx` is no loader context. */
export function loadStampOf(ctx: unknown, name: string): number {
  const seen = typeof ctx === 'object' && ctx !== null ? loadStamps.get(ctx) : undefined
  if (seen === undefined) throw new TypeError(`${name} must be the ctx a loader was given, got ${describe(ctx)}`)
  return seen
}

/** A tag's record: the numbers of its latest invalidate-or-delete and of its latest delete (0 = none). */
interface TagState {
  readonly inv: number
  readonly del: number
}

/** A tag state as L1 holds it, with when it was read. */
interface HeldState extends TagState {
  readonly cachedAt: number
}

const NEVER: TagState = Object.freeze({ inv: 0, del: 0 })

/**
 * Keys of bus messages that concern a tag rather than a key: a tag operation
 * goes out on the cache's own channel (so it rides on the cache's heartbeats
 * and L1 trust) with this prefix in front of the tag.
 */
export const TAG_MESSAGE_PREFIX = '\u0000tag:'

/**
 * The bus key of an operation on `tag` numbered `n` (0 when unknown: it
 * failed): receivers learn the number at once, so their next loads are
 * stamped past it.
 */
export function tagMessage(tag: string, n: number): string {
  return `${TAG_MESSAGE_PREFIX}${n}:${tag}`
}

/**
 * A user's key as it travels on the bus. A key that starts with NUL gets one
 * more NUL in front, so no user key can read as a tag operation on the
 * receiving nodes (`\0tag:1000000:x` did: a `delete` of it raised every other
 * node's tag stamp to 1000000, and their loads were then judged fresh after any
 * later `invalidateTag`). {@link keyFromBus} takes it off.
 */
export function busKey(key: string): string {
  return key.charCodeAt(0) === 0 ? `\u0000${key}` : key
}

/** The user's key of a bus key that is not a tag operation (see {@link busKey}). */
export function keyFromBus(sent: string): string {
  return sent.startsWith('\u0000\u0000') ? sent.slice(1) : sent
}

/** The tag and operation number of a bus key made by {@link tagMessage}; `undefined` for any other key. */
export function parseTagMessage(key: string): { tag: string; n: number } | undefined {
  if (!key.startsWith(TAG_MESSAGE_PREFIX)) return undefined
  const colon = key.indexOf(':', TAG_MESSAGE_PREFIX.length)
  const n = Number(key.slice(TAG_MESSAGE_PREFIX.length, colon))
  if (colon < 0 || !Number.isSafeInteger(n)) return undefined
  return { tag: key.slice(colon + 1), n }
}

/** The key of the epoch record in the tag namespace. */
const EPOCH_KEY = '\u0000epoch'
/** The key of a tag's record in the tag namespace. */
const tagKey = (tag: string) => `t:${tag}`
/** How many times a tag operation retries its compare-and-set when another operation wrote in between. */
const MAX_ATTEMPTS = 20

/** How an entry stands against the tag operations this node knows. */
export type TagVerdict = 'ok' | 'stale' | 'deleted' | 'unknown'

/** How a {@link TagIndex} is wired into its cache. */
export interface TagIndexOptions {
  /** The tag namespace of the cache (`<name>\0tags`) in the cache's store, with the cache's time-out and reports. */
  readonly tier: SharedTier<never>
  readonly clock: Clock
  /**
   * Whether a tag state read at `cachedAt` may still be used now: the same
   * rule as for the cache's L1 (the bus vouches for it), or its age when there
   * is no bus.
   */
  readonly trusted: (cachedAt: number, now: number) => boolean
  /** Most tag states held in L1. @default 10_000 */
  readonly max?: number
}

/**
 * The tag states one cache knows (an L1 of its own, bounded), the highest tag
 * operation number seen, and the tag operations themselves.
 */
export class TagIndex {
  readonly #o: TagIndexOptions
  /**
   * Made at the first tag state learnt: lru-cache allocates its slots for `max` up front
   * (230 KB for 10,000), which every cache paid even when it never used a tag.
   */
  #states: LRUCache<string, HeldState> | undefined
  /** The highest tag operation number this node has seen: what a load starting now is stamped with. */
  #seen = 0
  /**
   * Moved on whenever a tag state is dropped (a tag operation here or on
   * another node): a store read of tag states that started before a drop
   * must not put what it read into L1, it may predate the operation.
   */
  #drops = 0
  #warmed = false
  #warming: Promise<void> | undefined

  constructor(options: TagIndexOptions) {
    this.#o = options
  }

  /** The stamp number of a load starting now (its tags are known only once the loader has run). */
  get seen(): number {
    return this.#seen
  }

  /**
   * Read the tag epoch once, at the first use of tags (or `cache.warmTags()`),
   * so a process that just started does not stamp its loads 0 (their values
   * would be judged stale, or deleted, by every tag operation ever made). A
   * promise the first time, `undefined` once done. A failed read is not
   * reported (it is not traffic) and leaves the stamp as it is: too low at worst.
   */
  warm(): Promise<void> | undefined {
    if (this.#warmed) return undefined
    this.#warming ??= this.#readEpoch().finally(() => {
      this.#warmed = true
    })
    return this.#warming
  }

  /** The epoch read while it runs (loads starting meanwhile wait for it); `undefined` otherwise. */
  get warming(): Promise<void> | undefined {
    return this.#warmed ? undefined : this.#warming
  }

  async #readEpoch(): Promise<void> {
    const { tier } = this.#o
    try {
      // A plain get: no version is needed, and the store counts it apart from the reads of loads.
      const record = await tier.quiet('get', () => tier.store.get(tier.namespace, EPOCH_KEY))
      this.#see(decodeNumbers(record?.data)[0] ?? 0)
    } catch {
      // Stamped with what this node has seen so far.
    }
  }

  /** A tag operation numbered `n` was announced on the bus. */
  heard(n: number): void {
    this.#see(n)
  }

  /** How `entry` stands, from L1 alone: `unknown` when a tag's state is not held (or no longer trusted). */
  verdictNow(stamp: TagStamp, now: number): TagVerdict {
    let verdict: TagVerdict = 'ok'
    for (const tag of stamp.tags) {
      const held = this.#states?.get(tag)
      if (held === undefined || !this.#o.trusted(held.cachedAt, now)) return 'unknown'
      if (held.del > stamp.at) return 'deleted'
      if (held.inv > stamp.at) verdict = 'stale'
    }
    return verdict
  }

  /**
   * How `entry` stands, reading from the store the states L1 does not hold
   * (one round trip for all). `unknown` when the store could not be read:
   * nothing is cached then, so a failed read is never taken for "no
   * operation" later.
   */
  async verdict(stamp: TagStamp): Promise<TagVerdict> {
    void this.warm()
    const now = this.#o.clock.now()
    const fromL1 = this.verdictNow(stamp, now)
    if (fromL1 !== 'unknown') return fromL1
    const read = await this.#read(stamp.tags)
    if (read === FAILED) return 'unknown'
    let verdict: TagVerdict = 'ok'
    for (const state of read) {
      if (state.del > stamp.at) return 'deleted'
      if (state.inv > stamp.at) verdict = 'stale'
    }
    return verdict
  }

  /**
   * Read into L1 the states of those of `tags` it does not hold, so the first
   * read of an entry just written is an L1 hit. Never rejects (a failed read
   * is reported and caches nothing).
   */
  async learn(tags: readonly string[]): Promise<void> {
    void this.warm()
    const now = this.#o.clock.now()
    const missing = tags.filter((tag) => {
      const held = this.#states?.get(tag)
      return held === undefined || !this.#o.trusted(held.cachedAt, now)
    })
    if (missing.length > 0) await this.#read(missing)
  }

  /** Read the states of `tags` from the store; cache them unless a drop happened meanwhile. */
  async #read(tags: readonly string[]): Promise<TagState[] | typeof FAILED> {
    const drops = this.#drops
    const reads = await this.#o.tier.call('getMany', () =>
      this.#o.tier.store.readMany(this.#o.tier.namespace, tags.map(tagKey)),
    )
    if (reads === FAILED) return FAILED
    const now = this.#o.clock.now()
    const states = reads.map((read) => stateOf(read))
    for (const [i, state] of states.entries()) {
      this.#see(Math.max(state.inv, state.del))
      if (drops === this.#drops) this.#remember(tags[i]!, state, now)
    }
    return states
  }

  /** Keep the highest of what L1 holds and what was read: tag numbers only grow. */
  #remember(tag: string, state: TagState, now: number): void {
    this.#states ??= new LRUCache({ max: this.#o.max ?? 10_000 })
    const held = this.#states.get(tag)
    this.#states.set(tag, {
      inv: Math.max(state.inv, held?.inv ?? 0),
      del: Math.max(state.del, held?.del ?? 0),
      cachedAt: now,
    })
  }

  #see(n: number): void {
    if (n > this.#seen) this.#seen = n
  }

  /** Another node operated on `tag` (or may have): forget its state, re-read it at the next use. */
  drop(tag: string): void {
    this.#drops++
    this.#states?.delete(tag)
  }

  /** Forget every tag state (the bus reconnected: messages may have been missed). */
  clear(): void {
    this.#drops++
    this.#states?.clear()
  }

  /**
   * Invalidate (`delete: false`) or delete `tag`: take the next epoch number,
   * then record it in the tag's record; both fenced writes, retried when
   * another operation wrote in between. Rejects with the store's
   * `StoreError` when a store call failed or timed out (then this node
   * forgets the tag's state, since the record may or may not have changed).
   */
  async operate(tag: string, del: boolean): Promise<number> {
    void this.warm()
    try {
      const n = await this.#update(EPOCH_KEY, (data) => {
        const epoch = decodeNumbers(data)[0] ?? 0
        this.#see(epoch)
        return [epoch + 1]
      })
      const [inv, deleted] = await this.#update(tagKey(tag), (data) => {
        const [inv = 0, was = 0] = decodeNumbers(data)
        return [Math.max(inv, n[0]!), del ? Math.max(was, n[0]!) : was]
      })
      this.#see(n[0]!)
      this.#drops++
      this.#remember(tag, { inv: inv!, del: deleted! }, this.#o.clock.now())
      return n[0]!
    } catch (error) {
      this.drop(tag)
      throw error
    }
  }

  /** Read a record, compute its next numbers, write them if nothing wrote in between; retry otherwise. */
  async #update(key: string, next: (data: Uint8Array | undefined) => number[]): Promise<number[]> {
    const { tier } = this.#o
    const ns = tier.namespace
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const read = await tier.must('get', () => tier.store.read(ns, key))
      const numbers = next(read.record?.data)
      const data = new TextEncoder().encode(JSON.stringify(numbers))
      const write = { data, freshMs: Infinity, keepMs: Infinity, ifVersion: read.version }
      const result = await tier.must('set', () => tier.store.set(ns, key, write))
      if (result.applied) return numbers
    }
    throw new StoreCallError({
      operation: 'tag',
      kind: 'contention',
      outcome: 'not-applied',
      message: `the tag record ${JSON.stringify(key)} changed on each of ${MAX_ATTEMPTS} attempts`,
    })
  }
}

function stateOf(read: StoreRead): TagState {
  if (read.record?.data === undefined) return NEVER
  const [inv = 0, del = 0] = decodeNumbers(read.record.data)
  return { inv, del }
}

/** A tag or epoch record: a JSON array of numbers. Anything else reads as none (0). */
function decodeNumbers(data: Uint8Array | undefined): number[] {
  if (data === undefined) return []
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(data))
    return Array.isArray(parsed) ? parsed.map((n) => (typeof n === 'number' && Number.isFinite(n) ? n : 0)) : []
  } catch {
    return []
  }
}

/**
 * The entry as it may be served given its tags' verdict: itself when `ok`, a
 * copy stale from now when `stale` (still served within its stale window, which
 * stays where its TTL put it: an invalidation does not lengthen it, and an
 * entry without one is not served stale at all), `undefined` when `deleted`
 * or `unknown`.
 */
export function judged<V>(entry: Entry<V>, verdict: TagVerdict, now: number): Entry<V> | undefined {
  if (verdict === 'ok') return entry
  if (verdict !== 'stale') return undefined
  if (entry.staleAt <= now) return entry
  const staleUntil = entry.staleUntil > entry.staleAt ? entry.staleUntil : now
  return { ...entry, staleAt: now, staleUntil }
}

/** Throws a `TypeError` naming `name` unless `tags` is an array of non-empty, well-formed strings. */
export function checkTags(tags: unknown, name: string): asserts tags is readonly string[] {
  if (!Array.isArray(tags)) throw new TypeError(`${name} must be an array of non-empty strings, got ${describe(tags)}`)
  for (const [i, tag] of tags.entries()) checkTag(tag, `${name}[${i}]`)
}

/** Throws a `TypeError` naming `name` unless `tag` is a non-empty, well-formed string. */
export function checkTag(tag: unknown, name: string): asserts tag is string {
  if (typeof tag !== 'string' || tag.length === 0) {
    throw new TypeError(`${name} must be a non-empty string, got ${describe(tag)}`)
  }
  if (!tag.isWellFormed()) {
    throw new TypeError(`${name} must be well-formed UTF-16 (it holds a lone surrogate), got ${describe(tag)}`)
  }
}

// ---- tagged records in the store --------------------------------------------

/**
 * A tagged record's data: a 4-byte big-endian length, that many bytes of
 * JSON `[stamp, miss, ...tags]`, then the codec's bytes (none for a miss).
 * The store keeps it with `tagged: true`, so untagged records are the
 * codec's bytes as before.
 */
export function frameTagged(stamp: TagStamp, data: Uint8Array | undefined): Uint8Array {
  const head = new TextEncoder().encode(JSON.stringify([stamp.at, data === undefined ? 1 : 0, ...stamp.tags]))
  const bytes = new Uint8Array(4 + head.byteLength + (data?.byteLength ?? 0))
  new DataView(bytes.buffer).setUint32(0, head.byteLength)
  bytes.set(head, 4)
  if (data !== undefined) bytes.set(data, 4 + head.byteLength)
  return bytes
}

/** A tagged record's stamp and the codec's bytes (`undefined` for a miss); throws when malformed. */
export function unframeTagged(bytes: Uint8Array): { stamp: TagStamp; data: Uint8Array | undefined } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const length = view.getUint32(0)
  const head: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length)))
  if (!Array.isArray(head) || typeof head[0] !== 'number' || head.slice(2).some((t) => typeof t !== 'string')) {
    throw new TypeError('malformed tag header')
  }
  const stamp = { at: head[0], tags: head.slice(2) as string[] }
  return { stamp, data: head[1] === 1 ? undefined : bytes.subarray(4 + length) }
}
