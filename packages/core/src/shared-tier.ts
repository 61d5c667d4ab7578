import type { Clock } from './clock.js'
import type { Codec } from './codec.js'
import { withDeadline } from './deadline.js'
import { aheadOf, type Entry, makeEntry } from './entry.js'
import { DecodeError, StoreCallError, StoreError, type TierCacheError } from './errors.js'
import type { Announcement } from './invalidation.js'
import type { FreshnessPolicy } from './options.js'
import type {
  SharedStore,
  StoreHealth,
  StoreLock,
  StoreRead,
  StoreRecord,
  StoreTouch,
  StoreVersion,
  StoreWrite,
  StoreWriteResult,
} from './store.js'
import { frameTagged, judged, type TagIndex, type TagStamp, unframeTagged } from './tags.js'
import { isTraced, type StoreTrace, tracing } from './tracing.js'

/** What a store call resolves to when it failed or timed out (already reported). */
export const FAILED: unique symbol = Symbol('store call failed')

/** What a load read: the entry, if any, and the version to write its result back with. */
export interface Reading<V> {
  readonly entry: Entry<V> | undefined
  /** `undefined` when the store could not be read: the load then writes nothing to the store. */
  readonly version: StoreVersion | undefined
}

const UNREAD: Reading<never> = { entry: undefined, version: undefined }

/** The `data` of a value written to a store that keeps values: the store holds the value, not bytes. */
const NO_BYTES = new Uint8Array(0)

/** The error a store call failed with, as a `StoreError` (a store's own are kept as they are). */
function storeErrorOf(operation: string, cause: unknown): StoreError {
  if (cause instanceof StoreError) return cause
  // A store that throws something else says nothing of whether a write landed.
  return new StoreCallError({ operation, kind: 'server', outcome: 'unknown', cause })
}

/** The key a health check reads when the store has no `health()`: any answer, even "absent", is healthy. */
const HEALTH_KEY = '__tiercache_health__'

/** What a store call is about, for reports and traces. */
export interface CallSite {
  /** The key concerned, when the call is about one key. */
  readonly key?: string
  /** ms added to the store timeout, for calls that wait by design (a lock wait). */
  readonly extraMs?: number
}

/** A call about no one key (shared, so a call allocates none). */
const NO_SITE: CallSite = Object.freeze({})

/** How a {@link SharedTier} is wired into its cache. */
export interface SharedTierOptions<V> {
  readonly namespace: string
  /** The cache this tier belongs to: the `owner` of its store traces. */
  readonly owner: object
  readonly store: SharedStore
  readonly codec: Codec
  readonly clock: Clock
  /** ms one store call may take. */
  readonly timeoutMs: number
  readonly l1Serializer: ((value: unknown, key: string) => V) | undefined
  /** `refreshAhead`: entries read from the store are due for a refresh once this fraction of the reader's ttl is left behind. */
  readonly refreshAhead: number
  /**
   * Receives every store, decode and encode failure of this namespace, and what
   * the store reports through its own `error` event (the cache emits and counts them).
   */
  readonly report: (error: TierCacheError, key: string | undefined) => void
  /** Judges tagged records as they are read (tags.ts); absent for the tag namespace itself. */
  readonly tags?: TagIndex
  /**
   * Forward only the store's failures that name this namespace (the tag
   * namespace: the value namespace of the same cache forwards the unnamed ones,
   * which must not reach the cache twice).
   */
  readonly namedErrorsOnly?: boolean
}

/** A failure the store reports itself: its own namespace and key when it knows them. */
type StoreReported = Error & { key?: string; namespace?: string }

/**
 * L2 as the cache sees it, and the cache's only door to the store: calls
 * behind time-outs that never throw, records decoded into entries, values
 * encoded into writes, the distributed lock, deletes and purges, and the
 * failures the store reports on its own.
 */
export class SharedTier<V> {
  /** The store itself, to hand to users (`cache.store`); the cache calls it only through this class. */
  readonly store: SharedStore
  readonly #o: SharedTierOptions<V>
  /** Forwards what the store reports itself; a store shared by several caches reports for all of them. */
  readonly #report = (error: StoreReported | TierCacheError, key?: string): void => {
    const namespace = (error as { namespace?: unknown }).namespace
    if (typeof namespace === 'string' && namespace !== this.#o.namespace) return
    this.#o.report(error as TierCacheError, key ?? (error as { key?: string }).key)
  }
  /** What the store reports through its own `error` event. */
  readonly #forward = (error: StoreReported): void => {
    if (this.#o.namedErrorsOnly === true && typeof error.namespace !== 'string') return
    this.#report(error)
  }

  constructor(options: SharedTierOptions<V>) {
    this.#o = options
    this.store = options.store
    this.store.on?.('error', this.#forward)
  }

  /** ms one store call may take (the cache's `storeTimeout`). */
  get timeoutMs(): number {
    return this.#o.timeoutMs
  }

  /** The namespace this tier reads and writes. */
  get namespace(): string {
    return this.#o.namespace
  }

  /** Stop forwarding the store's own failures. */
  close(): void {
    this.store.off?.('error', this.#forward)
  }

  /**
   * A store call that never throws: failures and time-outs are reported and
   * resolve `FAILED`. `at.key` names the key concerned in the report and the
   * trace; `at.extraMs` widens the deadline for calls that wait by design (a lock wait).
   */
  call<T>(operation: string, run: () => Promise<T>, at: CallSite = NO_SITE): Promise<T | typeof FAILED> {
    return this.#traced(operation, run, at).then(undefined, (cause: unknown) => {
      this.#report(cause instanceof StoreError ? cause : new StoreError(operation, cause), at.key)
      return FAILED
    })
  }

  /**
   * A store call whose failure the caller must see (a user's write): reported,
   * then rejected with a `StoreError`, a `StoreCallError` saying whether the
   * write may still land (`outcome`) when the store (or the time-out) knows.
   */
  must<T>(operation: string, run: () => Promise<T>, at: CallSite = NO_SITE): Promise<T> {
    return this.#traced(operation, run, at).then(undefined, (cause: unknown) => {
      const error = storeErrorOf(operation, cause)
      this.#report(error, at.key)
      throw error
    })
  }

  /**
   * A store call that is not traffic of the cache's own (the tag epoch read
   * once before the first load): bounded and traced like the others, but a
   * failure is not reported, only rejected.
   */
  quiet<T>(operation: string, run: () => Promise<T>): Promise<T> {
    return this.#traced(operation, run, NO_SITE)
  }

  /** `run` bounded, published on `tiercache:store` when someone listens (nothing is built otherwise). */
  #traced<T>(operation: string, run: () => Promise<T>, at: CallSite): Promise<T> {
    return isTraced(tracing.store)
      ? tracing.store.tracePromise(() => this.#bounded(operation, run, at), this.#trace(operation, at.key))
      : this.#bounded(operation, run, at)
  }

  /**
   * Check the store now, without counting or reporting a failure (a health
   * check is not traffic): its own `health()`, else a read of one key.
   */
  async probe(): Promise<StoreHealth> {
    const check = (): Promise<StoreHealth> =>
      this.store.health !== undefined
        ? this.store.health()
        : this.store.get(this.#o.namespace, HEALTH_KEY).then(() => ({ ok: true }))
    try {
      const health = await this.#traced('health', check, NO_SITE)
      return health.circuit === undefined && this.store.circuit !== undefined
        ? { ...health, circuit: this.store.circuit }
        : health
    } catch (cause) {
      const error = cause instanceof Error ? cause.message : String(cause)
      return this.store.circuit === undefined ? { ok: false, error } : { ok: false, circuit: this.store.circuit, error }
    }
  }

  /** `run` under the store timeout (unless the store bounds its calls); a synchronous throw becomes a rejection. */
  #bounded<T>(operation: string, run: () => Promise<T>, at: CallSite): Promise<T> {
    let running: Promise<T>
    try {
      running = run()
    } catch (cause) {
      return Promise.reject(cause)
    }
    if (this.store.boundsCalls === true) return running
    const limit = this.#o.timeoutMs + (at.extraMs ?? 0)
    return withDeadline(
      running,
      limit,
      () =>
        new StoreCallError({
          operation,
          kind: 'timeout',
          outcome: 'unknown',
          message: `shared store ${operation} timed out after ${limit} ms`,
        }),
    )
  }

  #trace(operation: string, key: string | undefined): StoreTrace {
    return { cache: this.#o.namespace, owner: this.#o.owner, store: this.store.name, operation, key }
  }

  /**
   * The entry of `key` in the store, fresh or stale (`undefined` when absent,
   * unreadable or the store failed), and the version a load writes back with
   * (`undefined` when the store failed: such a load does not write to the store).
   */
  read(key: string, f: FreshnessPolicy): Promise<Reading<V>> {
    // One promise step over the store's, failures included (what `call` does, in the same step):
    // this is every L1 miss's path.
    const at: CallSite = { key }
    return this.#traced('get', () => this.store.read(this.#o.namespace, key), at).then(
      (read) => {
        const entry = read.record && this.#toEntry(key, read.record, { now: this.#o.clock.now(), f })
        // A tagged entry is judged against its tags' states first (tags.ts): one more round trip unless L1 holds them.
        if (entry?.tags !== undefined)
          return this.#judged(entry, entry.tags).then((e) => ({ entry: e, version: read.version }))
        return { entry, version: read.version }
      },
      (cause: unknown) => {
        this.#report(cause instanceof StoreError ? cause : new StoreError('get', cause), key)
        return UNREAD
      },
    )
  }

  /** A tagged entry as its tags' states let it be served (a stale copy, or nothing when deleted or unknown). */
  async #judged(entry: Entry<V>, stamp: TagStamp): Promise<Entry<V> | undefined> {
    const verdict = await this.#o.tags!.verdict(stamp)
    return judged(entry, verdict, this.#o.clock.now())
  }

  /** {@link read} for many keys in one round trip, in order. */
  async readMany(keys: readonly string[], f: FreshnessPolicy): Promise<Reading<V>[]> {
    const reads = await this.call('getMany', () => this.store.readMany(this.#o.namespace, keys))
    if (reads === FAILED) return keys.map(() => UNREAD)
    return this.#readings(keys, reads, f)
  }

  /**
   * {@link read} for a caller that has nothing else to answer with (a `get`
   * without a loader): a failed or timed-out read rejects with its
   * `StoreError` (reported first) instead of reading as "absent", which it
   * may well not be.
   */
  async mustRead(key: string, f: FreshnessPolicy): Promise<Reading<V>> {
    const read = await this.must('get', () => this.store.read(this.#o.namespace, key), { key })
    return (await this.#readings([key], [read], f))[0]!
  }

  /** {@link readMany} likewise: rejects with the `StoreError` when the store could not be read. */
  async mustReadMany(keys: readonly string[], f: FreshnessPolicy): Promise<Reading<V>[]> {
    const reads = await this.must('getMany', () => this.store.readMany(this.#o.namespace, keys))
    return this.#readings(keys, reads, f)
  }

  /** Reads as entries; a tagged one judged against its tags' states (tags.ts). */
  #readings(keys: readonly string[], reads: readonly StoreRead[], f: FreshnessPolicy): Promise<Reading<V>[]> {
    const at = { now: this.#o.clock.now(), f }
    return Promise.all(
      keys.map((key, i) => {
        const read = reads[i]!
        const entry = read.record && this.#toEntry(key, read.record, at)
        if (entry?.tags === undefined) return { entry, version: read.version }
        return this.#judged(entry, entry.tags).then((e) => ({ entry: e, version: read.version }))
      }),
    )
  }

  /**
   * Write loads' results back, each only if its key is still at the version it
   * was read at (one `set`, or one `setMany` for several). Per write: the
   * store's answer (`applied: false` = refused, something newer is there), or
   * `FAILED` when the store failed (reported; the write may or may not land).
   */
  async writeBack(writes: readonly (readonly [string, StoreWrite])[]): Promise<(StoreWriteResult | typeof FAILED)[]> {
    const ns = this.#o.namespace
    if (writes.length === 1) {
      const [key, write] = writes[0]!
      return [await this.call('set', () => this.store.set(ns, key, write), { key })]
    }
    if (writes.length === 0) return []
    const results = await this.call('setMany', () => this.store.setMany(ns, writes))
    return results === FAILED ? writes.map(() => FAILED) : results
  }

  /** A user's `set`: unconditional; rejects with the store's `StoreError` when it failed or timed out. */
  async put(key: string, write: StoreWrite): Promise<void> {
    await this.must('set', () => this.store.set(this.#o.namespace, key, write), { key })
  }

  /** Encode a value (or a miss) into a store write; `FAILED` when the codec cannot encode it. */
  encode(
    key: string,
    value: V | undefined,
    life: Pick<StoreWrite, 'freshMs' | 'keepMs' | 'staleMs'>,
    meta?: unknown,
    tags?: TagStamp,
  ): StoreWrite | typeof FAILED {
    const { freshMs, keepMs, staleMs } = life
    if (value === undefined && tags === undefined) return { data: undefined, freshMs, keepMs, staleMs }
    try {
      if (this.store.keepsValues === true && value !== undefined) return this.#kept(value, life, meta, tags)
      const data = value === undefined ? undefined : this.#o.codec.encode(value)
      const write: StoreWrite =
        tags === undefined
          ? { data, freshMs, keepMs, staleMs }
          : { data: frameTagged(tags, data), freshMs, keepMs, staleMs, tagged: true }
      return meta === undefined ? write : { ...write, meta: this.#o.codec.encode(meta) }
    } catch (cause) {
      // Unencodable values stay in L1 only; the caller still gets them.
      this.#report(
        new StoreError('encode', cause, `could not encode the value of "${key}" with ${this.#o.codec.name}`),
        key,
      )
      return FAILED
    }
  }

  /** A write to a store that keeps values: the value itself, and no codec bytes (only the tags' frame). */
  #kept(
    value: V,
    life: Pick<StoreWrite, 'freshMs' | 'keepMs' | 'staleMs'>,
    meta: unknown,
    tags: TagStamp | undefined,
  ): StoreWrite {
    const { freshMs, keepMs, staleMs } = life
    const write: StoreWrite =
      tags === undefined
        ? { data: NO_BYTES, freshMs, keepMs, staleMs, value }
        : { data: frameTagged(tags, NO_BYTES), freshMs, keepMs, staleMs, tagged: true, value }
    return meta === undefined ? write : { ...write, meta: this.#o.codec.encode(meta) }
  }

  /**
   * Make the record of `key` fresh again if it is still at `ifVersion` (a
   * "not modified" answer): the store's `touch`, else a fenced rewrite of
   * `rewrite` (the value and meta re-encoded). The store's answer, or `FAILED`.
   */
  async touch(
    key: string,
    touch: StoreTouch,
    rewrite: () => StoreWrite | typeof FAILED,
  ): Promise<StoreWriteResult | typeof FAILED> {
    const store = this.store
    if (store.touch !== undefined) {
      return this.call('touch', () => store.touch!(this.#o.namespace, key, touch), { key })
    }
    const write = rewrite()
    if (write === FAILED) return FAILED
    return (await this.writeBack([[key, { ...write, ifVersion: touch.ifVersion }]]))[0]!
  }

  /**
   * Delete the record of `key` (publishing `announce` with it, when given);
   * rejects with the store's `StoreError` when it failed or timed out.
   */
  async delete(key: string, announce?: Announcement): Promise<void> {
    const ns = this.#o.namespace
    await this.must(
      'delete',
      () => (announce === undefined ? this.store.delete(ns, key) : this.store.delete(ns, key, { announce })),
      { key },
    )
  }

  /**
   * Make every record of this namespace unreachable (publishing `announce`
   * with it, when given); rejects with the store's `StoreError` when it failed or timed out.
   */
  async purge(announce?: Announcement): Promise<void> {
    const ns = this.#o.namespace
    await this.must('purge', () => (announce === undefined ? this.store.purge(ns) : this.store.purge(ns, { announce })))
  }

  /**
   * `announcement` if the store will publish it with a write, atomically (the
   * store must say so: `SharedStore.announces`); `undefined` otherwise.
   */
  accepts(announcement: Announcement | undefined): Announcement | undefined {
    return announcement !== undefined && this.store.announces?.(announcement) === true ? announcement : undefined
  }

  // ---- the distributed lock -------------------------------------------------

  /** True when the store offers a distributed lock. */
  get hasLock(): boolean {
    return this.store.lock !== undefined
  }

  /** Try once to take the lock of `key`: the owner token, `undefined` when another owner holds it. */
  acquire(key: string, leaseMs: number): Promise<string | undefined | typeof FAILED> {
    return this.call('lock', () => this.#lock().acquire(this.#o.namespace, key, leaseMs), { key })
  }

  /** Wait until the holder of `key`'s lock releases it (`true`) or `waitMs` pass (`false`). */
  waitForRelease(key: string, waitMs: number): Promise<boolean | typeof FAILED> {
    // The wait is by design: it widens this call's deadline rather than counting against it.
    return this.call('lock-wait', () => this.#lock().waitForRelease(this.#o.namespace, key, waitMs), {
      key,
      extraMs: waitMs,
    })
  }

  /** Release the lock of `key` if `token` still owns it. */
  async release(key: string, token: string): Promise<void> {
    await this.call('unlock', () => this.#lock().release(this.#o.namespace, key, token), { key })
  }

  /**
   * Extend the lease of `key` every half lease while a long loader runs, so no
   * other process takes over a live load, but not past `lease.stopAt` (the
   * load's hard timeout): a loader that never settles then loses the lock one
   * lease later instead of holding it forever. Clear the returned timer when
   * the load ends; `undefined` when there is no lock to keep or the store
   * cannot extend one.
   */
  keepLock(
    key: string,
    token: string | undefined,
    lease: { readonly ms: number; readonly stopAt: number },
  ): ReturnType<typeof setInterval> | undefined {
    const lock = this.store.lock
    if (token === undefined || lock?.extend === undefined) return undefined
    const timer = setInterval(() => {
      if (this.#o.clock.now() >= lease.stopAt) {
        clearInterval(timer)
        return
      }
      void this.call('lock', () => lock.extend!(this.#o.namespace, key, token, lease.ms), { key })
    }, lease.ms / 2)
    timer.unref?.()
    return timer
  }

  #lock(): StoreLock {
    const lock = this.store.lock
    if (lock === undefined) throw new TypeError(`the ${this.store.name} store has no lock`)
    return lock
  }

  /**
   * Decode a record into an entry that lives for the record's remaining time
   * (never a fresh TTL) with the writer's stale window when it stored one.
   */
  #toEntry(
    key: string,
    record: StoreRecord,
    at: { readonly now: number; readonly f: FreshnessPolicy },
  ): Entry<V> | undefined {
    let value: V | undefined
    let meta: unknown
    let data = record.data
    let tags: TagStamp | undefined
    if (record.tagged === true && data !== undefined) {
      try {
        ;({ stamp: tags, data } = unframeTagged(data))
      } catch (cause) {
        this.#report(new DecodeError(key, cause), key)
        return undefined
      }
    }
    if (data !== undefined) {
      try {
        // A store that keeps values hands the value back as it was written: nothing to decode.
        const decoded = record.value !== undefined ? record.value : this.#o.codec.decode(data)
        value = this.#o.l1Serializer ? this.#o.l1Serializer(decoded, key) : (decoded as V)
        if (record.meta !== undefined) meta = this.#o.codec.decode(record.meta)
      } catch (cause) {
        this.#report(new DecodeError(key, cause), key)
        return undefined
      }
    }
    // The writer's stale window when it stored one, else this reader's.
    return makeEntry(
      value,
      at.now,
      {
        freshMs: record.freshMs,
        keepMs: record.keepMs,
        staleMs: record.staleMs ?? at.f.staleTtl,
        resurrected: record.resurrected === true,
        // The reader's ttl (the writer's is not stored): due once the last part of it has begun.
        aheadMs: aheadOf(this.#o.refreshAhead, at.f.ttl, data === undefined),
      },
      meta,
      tags,
    )
  }
}
