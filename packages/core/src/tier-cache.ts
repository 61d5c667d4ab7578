import { EventEmitter } from 'eventemitter3'
import { type Clock, systemClock } from './clock.js'
import { msgpackCodec } from './codec.js'
import { type Deferred, deferred, orAfter, withDeadline } from './deadline.js'
import { type Entry, isFresh, isKept, isServableStale, lifetime, makeEntry, remainingTtl } from './entry.js'
import { LoaderError, StoreError, type TierCacheError, TimeoutError } from './errors.js'
import type { StaleReason, TierCacheEvents, TierCacheStats } from './events.js'
import type { InvalidationBus, InvalidationKind } from './invalidation.js'
import {
  type BulkLoader,
  type BulkLoaderContext,
  freshnessOf,
  type GetInfo,
  info,
  type Loader,
  type LoaderContext,
  type PeekResult,
} from './loader.js'
import { createLocalTier, type LocalTier } from './local-tier.js'
import { MemoryStore } from './memory-store.js'
import {
  CACHE_DEFAULTS,
  type FreshnessPolicy,
  type GetOptions,
  type SetOptions,
  type TierCacheOptions,
} from './options.js'
import { FAILED, SharedTier } from './shared-tier.js'
import { SingleFlight, type Ticket } from './single-flight.js'
import type { SharedStore, StoreWrite } from './store.js'
import { checkDurations, checkKey, describe, splitArgs } from './validate.js'

/** One load of one key, as it travels from the flight through the lock to the loader. */
interface Load<V> {
  readonly key: string
  readonly f: FreshnessPolicy
  readonly loader: Loader<V>
  /** A value still held past expiry: served stale, or resurrected if the load fails. */
  readonly kept: Entry<V> | undefined
  readonly ticket: Ticket
  /** A background refresh (nobody waits for it) rather than a caller's load. */
  readonly refreshing: boolean
}

/**
 * A multi-level cache: L1 (in-process LRU) → L2 (a shared store) → a loader,
 * single-flighted per key in the process and, with a store that has a lock,
 * across processes. See docs/concepts.md for a key's lifetime.
 *
 * L1 hands out the same object to every caller: values are decoded once, not
 * per read. Treat cached values as immutable (or freeze them in `l1Serializer`).
 *
 * @example
 * const users = new TierCache<User>({ name: 'users', ttl: 30_000, staleTtl: 60_000 })
 * const user = await users.get('user:1', (key) => db.user(1))
 */
export class TierCache<V = unknown> extends EventEmitter<TierCacheEvents> {
  /** The namespace of this cache in the shared store. */
  readonly name: string
  readonly #l1: LocalTier<V> | undefined
  readonly #l2: SharedTier<V>
  readonly #clock: Clock
  readonly #ipc: InvalidationBus | undefined
  readonly #unsubscribe: (() => void) | undefined
  readonly #l1Serializer: ((value: unknown, key: string) => V) | undefined
  readonly #defaults: FreshnessPolicy
  readonly #lockTimeout: number
  readonly #lockLease: number
  readonly #softTimeout: number
  readonly #hardTimeout: number
  readonly #refreshRetryDelay: number
  readonly #flights = new SingleFlight<GetInfo<V>>()
  /** Keys with a background refresh running on this node. */
  readonly #refreshing = new Set<string>()
  /** Keys whose last refresh failed, and when the next may start. */
  readonly #refreshBackoff = new Map<string, number>()
  /** While the invalidation bus is down: L1 entries older than this many ms are not trusted. */
  #l1MaxAge: number | undefined
  readonly #stats: Omit<TierCacheStats, 'l1Size'> = {
    l1Hits: 0,
    l2Hits: 0,
    misses: 0,
    loads: 0,
    staleServed: 0,
    refreshes: 0,
    loaderErrors: 0,
    storeErrors: 0,
  }
  readonly #reportStoreError = (
    error: TierCacheError | (Error & { key?: string; namespace?: string }),
    key?: string,
  ) => {
    // A store shared by several caches reports for all of them; keep what is ours or unattributed.
    const namespace = (error as { namespace?: unknown }).namespace
    if (typeof namespace === 'string' && namespace !== this.name) return
    this.#stats.storeErrors++
    this.#emitError(error, key ?? (error as { key?: string }).key)
  }

  constructor(options: TierCacheOptions<V> = {}) {
    super()
    checkDurations(options, 'options')
    const name = options.name ?? CACHE_DEFAULTS.name
    checkKey(name, 'options.name')
    if (options.l1Serializer !== undefined && typeof options.l1Serializer !== 'function') {
      throw new TypeError(`options.l1Serializer must be a function, got ${describe(options.l1Serializer)}`)
    }
    this.name = name
    this.#defaults = {
      ttl: options.ttl ?? CACHE_DEFAULTS.ttl,
      negTtl: options.negTtl ?? CACHE_DEFAULTS.negTtl,
      staleTtl: options.staleTtl ?? CACHE_DEFAULTS.staleTtl,
      resurrectTtl: options.resurrectTtl ?? CACHE_DEFAULTS.resurrectTtl,
    }
    this.#clock = options.clock ?? systemClock
    this.#l1 = createLocalTier(options, this.#clock)
    this.#l1Serializer = options.l1Serializer
    this.#l2 = new SharedTier<V>({
      namespace: name,
      store: options.store ?? new MemoryStore({ clock: options.clock }),
      codec: options.codec ?? msgpackCodec(),
      clock: this.#clock,
      timeoutMs: options.storeTimeout ?? CACHE_DEFAULTS.storeTimeout,
      l1Serializer: options.l1Serializer,
      report: this.#reportStoreError,
    })
    this.#lockTimeout = options.lockTimeout ?? CACHE_DEFAULTS.lockTimeout
    this.#lockLease = options.lockLease ?? CACHE_DEFAULTS.lockLease
    this.#softTimeout = options.softTimeout ?? CACHE_DEFAULTS.softTimeout
    this.#hardTimeout = options.hardTimeout ?? CACHE_DEFAULTS.hardTimeout
    this.#refreshRetryDelay = options.refreshRetryDelay ?? CACHE_DEFAULTS.refreshRetryDelay
    this.#l2.store.on?.('error', this.#reportStoreError)
    this.#ipc = options.ipc
    this.#unsubscribe = this.#ipc?.subscribe(name, {
      invalidate: (keys) => {
        for (const key of keys) this.#forget(key)
      },
      invalidateAll: () => this.#forgetAll(),
      disconnected: (maxStalenessMs) => {
        this.#l1MaxAge = maxStalenessMs
      },
      reconnected: () => {
        this.#l1MaxAge = undefined
        this.#forgetAll()
      },
    })
  }

  /**
   * The value of `key`: from L1, else the shared store, else the loader (run once
   * for all concurrent callers). Without a loader, a miss resolves `undefined`.
   *
   * @example
   * await cache.get('user:1', (key, ctx) => db.user(1))
   * await cache.get('user:1', { ttl: 10_000 }, loader)
   */
  get(key: string, loader?: Loader<V>): Promise<V | undefined>
  get(key: string, options: GetOptions | undefined, loader?: Loader<V>): Promise<V | undefined>
  get(key: string, a?: GetOptions | Loader<V>, b?: Loader<V>): Promise<V | undefined> {
    // The L1 hit path: one LRU look-up that returns the value as a settled promise.
    // While the invalidation bus is down every read takes the slow path, which bounds L1 trust.
    if (this.#l1MaxAge === undefined && (a === undefined || typeof a === 'function') && b === undefined) {
      const hit = this.#l1?.hit(key)
      if (hit !== undefined) {
        this.#countL1Hit(key)
        return hit
      }
    }
    return this.getWithInfo(key, a as GetOptions, b).then(valueOfInfo)
  }

  /**
   * Like `get`, and tells where the value came from (`hitLevel`), whether it is
   * stale, and why a stale value was served (`reason`).
   *
   * @example
   * const { value, hitLevel, stale } = await cache.getWithInfo('user:1', loader)
   */
  getWithInfo(key: string, loader?: Loader<V>): Promise<GetInfo<V>>
  getWithInfo(key: string, options: GetOptions | undefined, loader?: Loader<V>): Promise<GetInfo<V>>
  getWithInfo(key: string, a?: GetOptions | Loader<V>, b?: Loader<V>): Promise<GetInfo<V>> {
    // Not an async function: a miss hands back the flight's own promise, with no wrapper
    // promise and no extra microtask hops; bad arguments still become a rejection.
    try {
      return this.#resolve(key, a, b)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  #resolve(key: string, a: GetOptions | Loader<V> | undefined, b: Loader<V> | undefined): Promise<GetInfo<V>> {
    checkKey(key)
    const [options, loader] = splitArgs(a, b)
    const f = this.#freshness(options)
    const now = this.#clock.now()

    // 1. L1: fresh, or stale inside its window (served at once, one refresh starts)
    const entry = this.#trustedL1(key, now)
    if (entry !== undefined && isFresh(entry, now)) {
      this.#countL1(key, entry)
      return Promise.resolve(entry.resurrected ? info(entry, 4, 'resurrected') : info(entry, 1))
    }
    if (entry !== undefined && loader !== undefined && isServableStale(entry, now)) {
      return Promise.resolve(this.#serveStale(key, entry, f, loader))
    }
    if (loader === undefined) return this.#lookUp(key, f)

    // 2. Join the flight already running for this key, or start one
    const flight =
      this.#flights.get(key) ?? this.#flights.start(key, (ticket) => this.#fly({ key, f, loader, ticket }, entry))
    const softTimeout = options?.softTimeout ?? this.#softTimeout
    if (softTimeout > 0 && entry !== undefined && isKept(entry, now)) {
      return this.#staleAfter(key, flight, entry, softTimeout)
    }
    return flight
  }

  /**
   * The values of many keys, in the order of `keys`, with ONE shared-store round
   * trip for all L1 misses and ONE loader call for all store misses. Concurrent
   * single `get`s of those keys join the bulk load.
   *
   * @example
   * const [a, b] = await cache.getMany(['user:1', 'user:2'], (keys) => db.users(keys))
   */
  getMany(keys: readonly string[], loader?: BulkLoader<V>): Promise<(V | undefined)[]>
  getMany(keys: readonly string[], options: GetOptions | undefined, loader?: BulkLoader<V>): Promise<(V | undefined)[]>
  async getMany(
    keys: readonly string[],
    a?: GetOptions | BulkLoader<V>,
    b?: BulkLoader<V>,
  ): Promise<(V | undefined)[]> {
    if (!Array.isArray(keys)) throw new TypeError(`keys must be an array of non-empty strings, got ${describe(keys)}`)
    for (const [i, key] of keys.entries()) checkKey(key, `keys[${i}]`)
    const [options, loader] = splitArgs(a, b)
    const f = this.#freshness(options)
    const now = this.#clock.now()
    const results = new Array<V | undefined>(keys.length)
    const joined: Promise<void>[] = []
    const wanted = new Map<string, number[]>()
    // A stale key is refreshed alone, through the bulk loader.
    const single: Loader<V> | undefined = loader && (async (key, ctx) => (await loader([key], ctx))[0])

    // 1. L1, and loads already running
    for (const [i, key] of keys.entries()) {
      const entry = this.#trustedL1(key, now)
      const flight = this.#flights.get(key)
      if (entry !== undefined && isFresh(entry, now)) {
        this.#countL1(key, entry)
        results[i] = entry.value
      } else if (entry !== undefined && single !== undefined && isServableStale(entry, now)) {
        results[i] = this.#serveStale(key, entry, f, single).value
      } else if (flight !== undefined) {
        joined.push(
          flight.then((got) => {
            results[i] = got.value
          }),
        )
      } else {
        const at = wanted.get(key)
        if (at === undefined) wanted.set(key, [i])
        else at.push(i)
      }
    }

    // 2. One shared-store round trip for the rest
    const missing = [...wanted.keys()]
    const toLoad: string[] = []
    const kept = new Map<string, Entry<V>>()
    const found = missing.length > 0 ? await this.#l2.readMany(missing, f) : []
    const readAt = this.#clock.now()
    for (const [j, key] of missing.entries()) {
      const record = found[j]
      let value: V | undefined
      if (record !== undefined && isFresh(record, readAt)) {
        this.#l1?.set(key, record)
        this.#count('l2Hits', 'hit', key)
        value = record.value
      } else if (record !== undefined && single !== undefined && isServableStale(record, readAt)) {
        this.#l1?.set(key, record)
        value = this.#serveStale(key, record, f, single).value
      } else {
        this.#count('misses', 'miss', key)
        const old = this.#l1?.get(key) ?? record
        if (old !== undefined && isKept(old, readAt)) kept.set(key, old)
        toLoad.push(key)
        continue
      }
      for (const i of wanted.get(key)!) results[i] = value
    }

    // 3. One loader call for what the store did not have
    if (toLoad.length > 0 && loader !== undefined) {
      const loaded = await this.#loadMany(toLoad, f, loader, kept)
      for (const [j, key] of toLoad.entries()) {
        for (const i of wanted.get(key)!) results[i] = loaded[j]
      }
    }
    await Promise.all(joined)
    return results
  }

  /**
   * Look at L1 only, synchronously; never calls the store or a loader.
   * `undefined` when L1 holds nothing usable for `key`.
   */
  peek(key: string): PeekResult<V> | undefined {
    checkKey(key)
    const now = this.#clock.now()
    const entry = this.#l1?.get(key)
    if (entry === undefined || !isKept(entry, now)) return undefined
    return { value: entry.value, ttlRemaining: remainingTtl(entry, now), stale: !isFresh(entry, now) }
  }

  /**
   * Store `value` under `key` in L1 and the shared store, and tell other nodes
   * to drop their L1 copy. `undefined`/`null` is stored as a miss for `negTtl`.
   */
  async set(key: string, value: V | undefined | null, options?: SetOptions): Promise<void> {
    checkKey(key)
    checkDurations(options, 'options')
    this.#flights.supersede(key)
    await this.#write([{ key, value: value ?? undefined }], this.#freshness(options))
    this.#publish('set', [key])
  }

  /** Remove `key` from L1 and the shared store, here and (through `ipc`) on every node. */
  async delete(key: string): Promise<void> {
    checkKey(key)
    this.#forget(key)
    await this.#l2.call('delete', () => this.#l2.store.delete(this.name, key))
    this.#publish('delete', [key])
  }

  /** Drop every entry of this namespace, in L1 and (in O(1)) in the shared store. Other namespaces are untouched. */
  async purge(): Promise<void> {
    this.#forgetAll()
    await this.#l2.call('purge', () => this.#l2.store.purge(this.name))
    this.#publish('purge', [])
  }

  /** The shared store this cache reads and writes (e.g. to build a sibling namespace on it). */
  get store(): SharedStore {
    return this.#l2.store
  }

  /** The invalidation bus, when one was given. */
  get ipc(): InvalidationBus | undefined {
    return this.#ipc
  }

  /** Counters per level since this cache was created. */
  stats(): TierCacheStats {
    return { ...this.#stats, l1Size: this.#l1?.size ?? 0 }
  }

  /** Stop listening to the invalidation bus and the store. The store is the caller's to close. */
  close(): void {
    this.#unsubscribe?.()
    this.#l2.store.off?.('error', this.#reportStoreError)
    this.removeAllListeners()
  }

  // ---- the load narrative -------------------------------------------------

  /** One flight: the shared store, then the loader under the distributed lock. */
  async #fly(load: Omit<Load<V>, 'kept' | 'refreshing'>, l1: Entry<V> | undefined): Promise<GetInfo<V>> {
    const { key, f, ticket } = load
    // 2. Shared store
    const found = await this.#l2.read(key, f)
    const now = this.#clock.now()
    if (found !== undefined && isFresh(found, now)) {
      if (!ticket.superseded) this.#l1?.set(key, found)
      this.#count('l2Hits', 'hit', key)
      return info(found, 2)
    }
    if (found !== undefined && isServableStale(found, now)) {
      if (!ticket.superseded) this.#l1?.set(key, found)
      return this.#serveStale(key, found, f, load.loader, true)
    }
    this.#count('misses', 'miss', key)
    const kept = found ?? (l1 !== undefined && isKept(l1, now) ? l1 : undefined)

    // 3. Loader, once per key across processes when the store has a lock
    return this.#load({ ...load, kept, refreshing: false })
  }

  /**
   * Take the distributed lock, re-read the store (another process may have
   * filled it meanwhile), run the loader, write through, release. A caller that
   * does not get the lock waits for its release and reads what the holder wrote;
   * if nothing came, a load runs the loader itself, a refresh gives up.
   */
  async #load(load: Load<V>): Promise<GetInfo<V>> {
    const { key, f, kept, ticket, refreshing } = load
    const lock = this.#l2.store.lock
    let token: string | undefined
    if (lock !== undefined) {
      const deadline = this.#clock.now() + this.#lockTimeout
      for (;;) {
        const taken = await this.#l2.call('lock', () => lock.acquire(this.name, key, this.#lockLease))
        if (taken === FAILED) break // store down: load without the lock
        const waitMs = deadline - this.#clock.now()
        const woken =
          taken === undefined && waitMs > 0
            ? await this.#l2.call('lock', () => lock.waitForRelease(this.name, key, waitMs), waitMs)
            : false
        token = taken
        const landed = await this.#l2.read(key, f)
        if (landed !== undefined && isFresh(landed, this.#clock.now())) {
          if (token !== undefined) await this.#l2.call('unlock', () => lock.release(this.name, key, token!))
          if (!ticket.superseded) this.#l1?.set(key, landed)
          this.#count('l2Hits', 'hit', key)
          if (refreshing) this.#refreshBackoff.delete(key)
          return info(landed, 2)
        }
        if (token !== undefined) break
        if (refreshing && kept !== undefined) {
          // Another node's refresh failed or outlived our wait: keep serving stale.
          this.#refreshBackoff.set(key, this.#clock.now() + this.#refreshRetryDelay)
          return info(kept, 4, 'refreshing')
        }
        // The holder released without a value (its load failed): try for the lock again;
        // past the lock timeout, load without it rather than hang.
        if (woken !== true || this.#clock.now() >= deadline) break
      }
    }
    try {
      return await this.#runLoader(load, token)
    } finally {
      if (token !== undefined && lock !== undefined) {
        await this.#l2.call('unlock', () => lock.release(this.name, key, token!))
      }
    }
  }

  async #runLoader(load: Load<V>, token: string | undefined): Promise<GetInfo<V>> {
    const { key, f, loader, kept, ticket, refreshing } = load
    const controller = new AbortController()
    const ctx: LoaderContext<V> = { key, ...f, staleValue: kept?.value, refreshing, signal: controller.signal }
    const extender = this.#keepLock(key, token)
    const started = this.#clock.now()
    this.#stats.loads++
    let value: V | undefined | null
    try {
      value = await this.#withHardTimeout(key, controller, () => loader(key, ctx))
    } catch (thrown) {
      return this.#loadFailed(load, thrown instanceof TimeoutError ? thrown : new LoaderError(key, thrown))
    } finally {
      if (extender !== undefined) clearInterval(extender)
    }
    checkDurations(ctx, 'ctx')
    const [stored] = await this.#write([{ key, value: value ?? undefined, ticket }], freshnessOf(ctx))
    if (refreshing) {
      this.#refreshBackoff.delete(key)
      this.#publish('refresh', [key])
    }
    if (this.listenerCount('load') > 0) this.emit('load', key, this.#clock.now() - started)
    return { value: stored, hitLevel: 3, stale: false }
  }

  /**
   * A load failed. mlcache's resurrect: a value still held is re-armed as fresh
   * for `resurrectTtl`; otherwise a stale value inside its window is served;
   * otherwise every waiter gets the error. Nothing new is cached.
   */
  async #loadFailed(load: Omit<Load<V>, 'loader'>, error: LoaderError | TimeoutError): Promise<GetInfo<V>> {
    const { key, f, kept, ticket, refreshing } = load
    this.#stats.loaderErrors++
    this.#emitError(error, key)
    const now = this.#clock.now()
    if (refreshing) this.#refreshBackoff.set(key, now + this.#refreshRetryDelay)
    if (kept !== undefined && isKept(kept, now) && f.resurrectTtl > 0) {
      // Re-armed as if written now with ttl = resurrectTtl (and the same windows).
      const life = lifetime(false, { ...f, ttl: f.resurrectTtl })
      const revived = makeEntry(kept.value, now, life.freshMs, life.keepMs, f, true)
      if (!ticket.superseded) {
        this.#l1?.set(key, revived)
        const write = this.#l2.encode(key, kept.value, life)
        if (write !== FAILED) await this.#l2.write([[key, write]])
      }
      this.#countStale(key, 'resurrected')
      return info(revived, 4, 'resurrected')
    }
    if (kept !== undefined && isServableStale(kept, now)) {
      if (!refreshing) this.#countStale(key, 'loader-failed')
      return info(kept, 4, 'loader-failed')
    }
    throw error
  }

  /** One loader call for the keys of a `getMany` that neither L1 nor the store had. */
  async #loadMany(keys: string[], f: FreshnessPolicy, loader: BulkLoader<V>, kept: Map<string, Entry<V>>) {
    const flights = keys.map((key) => {
      const pending: Deferred<GetInfo<V>> = deferred()
      pending.promise.catch(() => {}) // the getMany caller gets the rejection; joiners handle their own
      return { key, pending, ticket: this.#flights.adopt(key, pending.promise) }
    })
    const controller = new AbortController()
    const ctx: BulkLoaderContext = { ...f, signal: controller.signal }
    this.#stats.loads++
    try {
      const values = await this.#withHardTimeout(keys.join(','), controller, () => loader(keys, ctx))
      if (!Array.isArray(values) || values.length !== keys.length) {
        throw new TypeError(`bulk loader must resolve to an array of ${keys.length} values, got ${describe(values)}`)
      }
      checkDurations(ctx, 'ctx')
      const items = flights.map(({ key, ticket }, j) => ({ key, value: values[j] ?? undefined, ticket }))
      const stored = await this.#write(items, freshnessOf(ctx))
      for (const [j, { pending }] of flights.entries()) pending.resolve({ value: stored[j], hitLevel: 3, stale: false })
      return stored
    } catch (thrown) {
      const outcomes = await Promise.allSettled(
        flights.map(({ key, ticket }) => {
          const error = thrown instanceof TimeoutError ? thrown : new LoaderError(key, thrown)
          return this.#loadFailed({ key, f, kept: kept.get(key), ticket, refreshing: false }, error)
        }),
      )
      for (const [j, { pending }] of flights.entries()) {
        const outcome = outcomes[j]!
        if (outcome.status === 'fulfilled') pending.resolve(outcome.value)
        else pending.reject(outcome.reason)
      }
      const failed = outcomes.find((o) => o.status === 'rejected')
      if (failed !== undefined) throw failed.reason
      return outcomes.map((o) => (o as PromiseFulfilledResult<GetInfo<V>>).value.value)
    }
  }

  /** Run a loader under the hard timeout; on time-out its signal aborts and the call rejects with `TimeoutError`. */
  #withHardTimeout<T>(key: string, controller: AbortController, run: () => T | Promise<T>): Promise<T> {
    return withDeadline(Promise.resolve().then(run), this.#hardTimeout, () => {
      const error = new TimeoutError(key, this.#hardTimeout)
      controller.abort(error)
      return error
    })
  }

  // ---- stale serving ------------------------------------------------------

  /** Serve `entry` stale now and start one background refresh (if none runs). */
  #serveStale(key: string, entry: Entry<V>, f: FreshnessPolicy, loader: Loader<V>, inFlight = false): GetInfo<V> {
    this.#countStale(key, 'refreshing')
    this.#refreshInBackground(key, f, loader, entry, inFlight)
    return info(entry, 4, 'refreshing')
  }

  /**
   * Start one refresh of a stale key unless one runs (or a load of it runs,
   * when not called from that very load), or the last one failed too recently.
   */
  #refreshInBackground(key: string, f: FreshnessPolicy, loader: Loader<V>, entry: Entry<V>, inFlight: boolean): void {
    if (this.#refreshing.has(key) || (!inFlight && this.#flights.has(key))) return
    const retryAt = this.#refreshBackoff.get(key)
    if (retryAt !== undefined && this.#clock.now() < retryAt) return
    this.#refreshing.add(key)
    this.#stats.refreshes++
    if (this.listenerCount('refresh') > 0) this.emit('refresh', key)
    // From inside a flight the flight's own ticket already guards the key.
    const ticket = inFlight ? { superseded: false } : this.#flights.mark(key)
    this.#load({ key, f, loader, kept: entry, ticket, refreshing: true })
      .catch((error: unknown) => this.#emitError(error, key))
      .finally(() => {
        this.#refreshing.delete(key)
        this.#flights.unmark(key, ticket)
      })
  }

  /** Race a load against the soft timeout: past it, callers get the kept value while the load goes on. */
  #staleAfter(key: string, flight: Promise<GetInfo<V>>, kept: Entry<V>, ms: number): Promise<GetInfo<V>> {
    return orAfter(flight, ms, () => {
      this.#countStale(key, 'soft-timeout')
      return info(kept, 4, 'soft-timeout')
    })
  }

  // ---- reading and writing the levels -------------------------------------

  /** Without a loader: L2 only; a miss resolves `undefined` and nothing is cached. */
  async #lookUp(key: string, f: FreshnessPolicy): Promise<GetInfo<V>> {
    const found = await this.#l2.read(key, f)
    const now = this.#clock.now()
    if (found !== undefined && isServableStale(found, now)) {
      this.#l1?.set(key, found)
      if (isFresh(found, now)) {
        this.#count('l2Hits', 'hit', key)
        return info(found, 2)
      }
      this.#countStale(key, 'refreshing')
      return info(found, 4, 'refreshing')
    }
    this.#count('misses', 'miss', key)
    return { value: undefined, hitLevel: 3, stale: false }
  }

  /** Write loaded or set values to L1 and the store (one round trip); resolves to what L1 now serves. */
  async #write(
    items: readonly { key: string; value: V | undefined; ticket?: Ticket }[],
    f: FreshnessPolicy,
  ): Promise<(V | undefined)[]> {
    const now = this.#clock.now()
    const writes: [string, StoreWrite][] = []
    const served = items.map(({ key, value, ticket }) => {
      const life = lifetime(value === undefined, f)
      const l1Value = value !== undefined && this.#l1Serializer ? this.#l1Serializer(value, key) : value
      if (ticket?.superseded) return l1Value
      this.#l1?.set(key, makeEntry(l1Value, now, life.freshMs, life.keepMs, f))
      const write = this.#l2.encode(key, value, life)
      if (write !== FAILED) writes.push([key, write])
      return l1Value
    })
    await this.#l2.write(writes)
    return served
  }

  /** Extend the lock lease while a long loader runs, so no other process takes over a live load. */
  #keepLock(key: string, token: string | undefined): ReturnType<typeof setInterval> | undefined {
    const lock = this.#l2.store.lock
    if (token === undefined || lock?.extend === undefined) return undefined
    const timer = setInterval(() => {
      void this.#l2.call('lock', () => lock.extend!(this.name, key, token, this.#lockLease))
    }, this.#lockLease / 2)
    timer.unref?.()
    return timer
  }

  // ---- L1 and invalidation ------------------------------------------------

  #trustedL1(key: string, now: number): Entry<V> | undefined {
    const entry = this.#l1?.get(key)
    if (entry === undefined) return undefined
    if (!isKept(entry, now)) {
      this.#l1!.delete(key)
      return undefined
    }
    if (this.#l1MaxAge !== undefined && now - entry.cachedAt >= this.#l1MaxAge) return undefined
    return entry
  }

  #forget(key: string): void {
    this.#flights.supersede(key)
    this.#l1?.delete(key)
    this.#refreshBackoff.delete(key)
  }

  #forgetAll(): void {
    this.#flights.supersedeAll()
    this.#l1?.clear()
    this.#refreshBackoff.clear()
  }

  #publish(kind: InvalidationKind, keys: string[]): void {
    if (this.#ipc === undefined) return
    try {
      this.#ipc.publish({ kind, namespace: this.name, keys })
    } catch (cause) {
      this.#emitError(new StoreError('publish', cause), keys[0])
    }
  }

  #freshness(options: GetOptions | SetOptions | undefined): FreshnessPolicy {
    if (options === undefined) return this.#defaults
    const f = { ...this.#defaults }
    if (options.ttl !== undefined) f.ttl = options.ttl
    if (options.negTtl !== undefined) f.negTtl = options.negTtl
    if (options.staleTtl !== undefined) f.staleTtl = options.staleTtl
    if (options.resurrectTtl !== undefined) f.resurrectTtl = options.resurrectTtl
    return f
  }

  // ---- counting and events ------------------------------------------------

  #countL1(key: string, entry: Entry<V>): void {
    if (entry.resurrected) this.#countStale(key, 'resurrected')
    else this.#countL1Hit(key)
  }

  #countL1Hit(key: string): void {
    this.#stats.l1Hits++
    if (this.listenerCount('hit') > 0) this.emit('hit', key, 1)
  }

  #countStale(key: string, reason: StaleReason): void {
    this.#stats.staleServed++
    if (this.listenerCount('stale') > 0) this.emit('stale', key, reason)
  }

  #count(counter: 'l2Hits' | 'misses', event: 'hit' | 'miss', key: string): void {
    this.#stats[counter]++
    if (this.listenerCount(event) === 0) return
    if (event === 'hit') this.emit('hit', key, 2)
    else this.emit('miss', key)
  }

  #emitError(error: unknown, key: string | undefined): void {
    this.emit('error', error as TierCacheError, key)
  }
}

function valueOfInfo<V>(result: GetInfo<V>): V | undefined {
  return result.value
}
