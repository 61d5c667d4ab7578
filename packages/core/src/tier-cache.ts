import { EventEmitter } from 'eventemitter3'
import { LRUCache } from 'lru-cache'
import { type Clock, systemClock } from './clock.js'
import { type Codec, msgpackCodec } from './codec.js'
import { type Deferred, deferred, withDeadline } from './deadline.js'
import { type Entry, isFresh, isKept, isServableStale, lifetime, makeEntry } from './entry.js'
import { DecodeError, LoaderError, StoreError, type TierCacheError, TimeoutError } from './errors.js'
import type { HitLevel, StaleReason, TierCacheEvents, TierCacheStats } from './events.js'
import type { InvalidationBus, InvalidationKind } from './invalidation.js'
import { MemoryStore } from './memory-store.js'
import {
  checkDurations,
  checkKey,
  DEFAULTS,
  describe,
  type Freshness,
  type GetOptions,
  type SetOptions,
  type TierCacheOptions,
} from './options.js'
import type { SharedStore, StoreRecord, StoreWrite } from './store.js'

/**
 * What a loader receives besides the key. The freshness fields start at the
 * call's settings; a loader may overwrite them to set this value's lifetime
 * (as an mlcache callback returns a ttl).
 */
export interface LoaderContext<V> {
  /** The key being loaded. */
  readonly key: string
  /** ms this value will be fresh; writable. */
  ttl: number
  /** ms a miss (`undefined`/`null`) will be cached; writable. */
  negTtl: number
  /** ms of stale window after expiry; writable. */
  staleTtl: number
  /** ms a stale value is re-armed when a later load fails; writable. */
  resurrectTtl: number
  /** The expired value this load replaces, if one is still held (e.g. for conditional requests). */
  readonly staleValue: V | undefined
  /** True when this load is a background refresh of a stale value. */
  readonly refreshing: boolean
  /** Aborted when the hard timeout elapses. */
  readonly signal: AbortSignal
}

/** Loads one missing value. `undefined` or `null` is cached as a miss for `negTtl`. */
export type Loader<V> = (key: string, ctx: LoaderContext<V>) => Promise<V | undefined | null> | V | undefined | null

/** What a bulk loader receives besides the keys: writable freshness for all of them, and the abort signal. */
export type BulkLoaderContext = Pick<LoaderContext<unknown>, 'ttl' | 'negTtl' | 'staleTtl' | 'resurrectTtl' | 'signal'>

/** Loads many missing values at once; resolves to their values in the order of `keys`. */
export type BulkLoader<V> = (
  keys: string[],
  ctx: BulkLoaderContext,
) => Promise<readonly (V | undefined | null)[]> | readonly (V | undefined | null)[]

/** A value with where it came from, from `getWithInfo`. */
export interface GetInfo<V> {
  /** The value, `undefined` for a (cached) miss. */
  readonly value: V | undefined
  /** 1 = L1, 2 = shared store, 3 = loader, 4 = a stale or resurrected value. */
  readonly hitLevel: HitLevel
  /** True when the value is past its TTL (served from the stale window or resurrected). */
  readonly stale: boolean
  /**
   * Why a stale value was served (only when `hitLevel` is 4): `refreshing` or
   * `soft-timeout` while a load runs (nginx's UPDATING), `loader-failed` or
   * `resurrected` because the load failed (nginx's STALE).
   */
  readonly reason?: StaleReason
}

/** What `peek` reports about an L1 entry. */
export interface PeekResult<V> {
  readonly value: V | undefined
  /** ms until stale; `<= 0` when stale, `Infinity` when it never expires. */
  readonly ttlRemaining: number
  readonly stale: boolean
}

const FAILED: unique symbol = Symbol('store call failed')

/** A load in progress; `superseded` is set when a set/delete/purge makes its result obsolete. */
interface Ticket {
  superseded: boolean
}

/**
 * A multi-level cache: L1 (in-process LRU) → L2 (a shared store) → a loader,
 * single-flighted per key in the process and, with a store that has a lock,
 * across processes. See docs/ for a key's lifetime.
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
  readonly #l1: LRUCache<string, Entry<V>> | undefined
  readonly #store: SharedStore
  readonly #codec: Codec
  readonly #clock: Clock
  readonly #ipc: InvalidationBus | undefined
  readonly #unsubscribe: (() => void) | undefined
  readonly #forwardStoreError = (error: Error & { key?: string }) => {
    this.#stats.storeErrors++
    this.#emitError(error, error.key)
  }
  readonly #l1Serializer: ((value: unknown, key: string) => V) | undefined
  readonly #defaults: Freshness
  readonly #lockTimeout: number
  readonly #lockLease: number
  readonly #softTimeout: number
  readonly #hardTimeout: number
  readonly #storeTimeout: number
  readonly #refreshRetryDelay: number
  /** In-process single flight: one promise per key being looked up in the store and loaded. */
  readonly #flights = new Map<string, Promise<GetInfo<V>>>()
  readonly #tickets = new Map<string, Ticket>()
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

  constructor(options: TierCacheOptions<V> = {}) {
    super()
    checkDurations(options, 'options')
    const name = options.name ?? DEFAULTS.name
    checkKey(name, 'options.name')
    this.name = name
    this.#defaults = {
      ttl: options.ttl ?? DEFAULTS.ttl,
      negTtl: options.negTtl ?? DEFAULTS.negTtl,
      staleTtl: options.staleTtl ?? DEFAULTS.staleTtl,
      resurrectTtl: options.resurrectTtl ?? DEFAULTS.resurrectTtl,
    }
    this.#l1 = createL1(options)
    this.#store = options.store ?? new MemoryStore({ clock: options.clock })
    this.#codec = options.codec ?? msgpackCodec()
    this.#clock = options.clock ?? systemClock
    this.#l1Serializer = options.l1Serializer
    this.#lockTimeout = options.lockTimeout ?? DEFAULTS.lockTimeout
    this.#lockLease = options.lockLease ?? DEFAULTS.lockLease
    this.#softTimeout = options.softTimeout ?? DEFAULTS.softTimeout
    this.#hardTimeout = options.hardTimeout ?? DEFAULTS.hardTimeout
    this.#storeTimeout = options.storeTimeout ?? DEFAULTS.storeTimeout
    this.#refreshRetryDelay = options.refreshRetryDelay ?? DEFAULTS.refreshRetryDelay
    if (options.l1Serializer !== undefined && typeof options.l1Serializer !== 'function') {
      throw new TypeError(`options.l1Serializer must be a function, got ${describe(options.l1Serializer)}`)
    }
    this.#store.on?.('error', this.#forwardStoreError)
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
    // The L1 hit path: one LRU look-up, one clock read, no allocation but the promise.
    const entry = this.#l1?.get(key)
    if (entry !== undefined && (a === undefined || typeof a === 'function') && b === undefined) {
      const now = this.#clock.now()
      if (now < entry.staleAt && (this.#l1MaxAge === undefined || now - entry.cachedAt < this.#l1MaxAge)) {
        this.#countL1(key, entry)
        return Promise.resolve(entry.value)
      }
    }
    return this.getWithInfo(key, a as GetOptions, b).then(valueOfInfo)
  }

  /**
   * Like `get`, and tells where the value came from (`hitLevel`) and whether it is stale.
   *
   * @example
   * const { value, hitLevel, stale } = await cache.getWithInfo('user:1', loader)
   */
  getWithInfo(key: string, loader?: Loader<V>): Promise<GetInfo<V>>
  getWithInfo(key: string, options: GetOptions | undefined, loader?: Loader<V>): Promise<GetInfo<V>>
  async getWithInfo(key: string, a?: GetOptions | Loader<V>, b?: Loader<V>): Promise<GetInfo<V>> {
    checkKey(key)
    const [options, loader] = typeof a === 'function' ? [undefined, a] : [a, b]
    checkDurations(options, 'options')
    if (loader !== undefined && typeof loader !== 'function') {
      throw new TypeError(`loader must be a function, got ${describe(loader)}`)
    }
    const now = this.#clock.now()

    // 1. L1
    const entry = this.#trustedL1(key, now)
    if (entry !== undefined) {
      if (isFresh(entry, now)) {
        this.#countL1(key, entry)
        return entry.resurrected ? info(entry, 4, 'resurrected') : info(entry, 1)
      }
      if (loader !== undefined && isServableStale(entry, now)) {
        return this.#serveStale(key, entry, this.#freshness(options), loader)
      }
    }

    // 2. Join the load already running for this key, or start one
    if (loader === undefined) return this.#lookUp(key, this.#freshness(options))
    let flight = this.#flights.get(key)
    if (flight === undefined) {
      const ticket: Ticket = { superseded: false }
      flight = this.#fly(key, this.#freshness(options), loader, entry, ticket)
      this.#flights.set(key, flight)
      this.#tickets.set(key, ticket)
      const land = () => {
        if (this.#flights.get(key) === flight) {
          this.#flights.delete(key)
          this.#tickets.delete(key)
        }
      }
      flight.then(land, land)
    }
    const softTimeout = options?.softTimeout ?? this.#softTimeout
    if (softTimeout > 0 && entry !== undefined && isKept(entry, now)) {
      return this.#staleAfter(key, flight, entry, softTimeout)
    }
    return flight
  }

  /**
   * The values of many keys, in the order of `keys`, with ONE shared-store round
   * trip for all L1 misses and ONE loader call for all store misses.
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
    const [options, loader] = typeof a === 'function' ? [undefined, a] : [a, b]
    checkDurations(options, 'options')
    if (loader !== undefined && typeof loader !== 'function') {
      throw new TypeError(`loader must be a function, got ${describe(loader)}`)
    }
    const f = this.#freshness(options)
    const now = this.#clock.now()
    const results = new Array<V | undefined>(keys.length)
    const joined: Promise<void>[] = []
    const wanted = new Map<string, number[]>()
    const single: Loader<V> | undefined = loader && (async (key, ctx) => (await loader([key], ctx))[0])

    // 1. L1, and loads already running
    keys.forEach((key, i) => {
      const entry = this.#trustedL1(key, now)
      if (entry !== undefined && isFresh(entry, now)) {
        this.#countL1(key, entry)
        results[i] = entry.value
      } else if (entry !== undefined && single !== undefined && isServableStale(entry, now)) {
        results[i] = entry.value
        this.#countStale(key, 'refreshing')
        this.#refreshInBackground(key, f, single, entry)
      } else if (this.#flights.has(key)) {
        joined.push(
          this.#flights.get(key)!.then((info) => {
            results[i] = info.value
          }),
        )
      } else {
        const at = wanted.get(key)
        if (at === undefined) wanted.set(key, [i])
        else at.push(i)
      }
    })

    // 2. One shared-store round trip for the rest
    const missing = [...wanted.keys()]
    const toLoad: string[] = []
    const kept = new Map<string, Entry<V>>()
    if (missing.length > 0) {
      const records = await this.#storeCall('getMany', () => this.#store.getMany(this.name, missing))
      const readAt = this.#clock.now()
      missing.forEach((key, j) => {
        const record = records === FAILED ? undefined : records[j]
        const found = record === undefined ? undefined : this.#fromRecord(key, record, readAt, f)
        if (found !== undefined && isFresh(found, readAt)) {
          this.#l1?.set(key, found)
          this.#count('l2Hits', 'hit', key, 2)
          for (const i of wanted.get(key)!) results[i] = found.value
        } else if (found !== undefined && single !== undefined && isServableStale(found, readAt)) {
          this.#l1?.set(key, found)
          this.#countStale(key, 'refreshing')
          this.#refreshInBackground(key, f, single, found)
          for (const i of wanted.get(key)!) results[i] = found.value
        } else {
          this.#count('misses', 'miss', key)
          const old = this.#l1?.get(key) ?? found
          if (old !== undefined && isKept(old, readAt)) kept.set(key, old)
          toLoad.push(key)
        }
      })
    }

    // 3. One loader call for what the store did not have
    if (toLoad.length > 0 && loader !== undefined) {
      const loaded = await this.#loadMany(toLoad, f, loader, kept)
      toLoad.forEach((key, j) => {
        for (const i of wanted.get(key)!) results[i] = loaded[j]
      })
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
    return { value: entry.value, ttlRemaining: entry.staleAt - now, stale: !isFresh(entry, now) }
  }

  /**
   * Store `value` under `key` in L1 and the shared store, and tell other nodes
   * to drop their L1 copy. `undefined`/`null` is stored as a miss for `negTtl`.
   */
  async set(key: string, value: V | undefined | null, options?: SetOptions): Promise<void> {
    checkKey(key)
    checkDurations(options, 'options')
    this.#supersede(key)
    const f = this.#freshness(options)
    await this.#write(key, value ?? undefined, f)
    this.#publish('set', [key])
  }

  /** Remove `key` from L1 and the shared store, here and (through `ipc`) on every node. */
  async delete(key: string): Promise<void> {
    checkKey(key)
    this.#forget(key)
    await this.#storeCall('delete', () => this.#store.delete(this.name, key))
    this.#publish('delete', [key])
  }

  /** Drop every entry of this namespace, in L1 and (in O(1)) in the shared store. Other namespaces are untouched. */
  async purge(): Promise<void> {
    this.#forgetAll()
    await this.#storeCall('purge', () => this.#store.purge(this.name))
    this.#publish('purge', [])
  }

  /** The shared store this cache reads and writes (e.g. to build a sibling namespace on it). */
  get store(): SharedStore {
    return this.#store
  }

  /** The invalidation bus, when one was given. */
  get ipc(): InvalidationBus | undefined {
    return this.#ipc
  }

  /** Counters per level since this cache was created. */
  stats(): TierCacheStats {
    return { ...this.#stats, l1Size: this.#l1?.size ?? 0 }
  }

  /** Stop listening to the invalidation bus. The store is the caller's to close. */
  close(): void {
    this.#unsubscribe?.()
    this.#store.off?.('error', this.#forwardStoreError)
    this.removeAllListeners()
  }

  // ---- the load narrative -------------------------------------------------

  /** One flight: the shared store, then the loader under the distributed lock. */
  async #fly(key: string, f: Freshness, loader: Loader<V>, l1: Entry<V> | undefined, ticket: Ticket) {
    // 2. Shared store
    const found = await this.#readStore(key, f)
    const now = this.#clock.now()
    if (found !== undefined && isFresh(found, now)) {
      if (!ticket.superseded) this.#l1?.set(key, found)
      this.#count('l2Hits', 'hit', key, 2)
      return info(found, 2)
    }
    if (found !== undefined && isServableStale(found, now)) {
      if (!ticket.superseded) this.#l1?.set(key, found)
      return this.#serveStale(key, found, f, loader, true)
    }
    this.#count('misses', 'miss', key)
    const kept = found ?? (l1 !== undefined && isKept(l1, now) ? l1 : undefined)

    // 3. Loader, once per key across processes when the store has a lock
    return this.#load(key, f, loader, kept, ticket, false)
  }

  /**
   * Take the distributed lock, re-read the store (another process may have
   * filled it meanwhile), run the loader, write through, release. A caller that
   * does not get the lock waits for its release and reads what the holder wrote;
   * if nothing came, a load runs the loader itself, a refresh gives up.
   */
  async #load(
    key: string,
    f: Freshness,
    loader: Loader<V>,
    kept: Entry<V> | undefined,
    ticket: Ticket,
    refreshing: boolean,
  ): Promise<GetInfo<V>> {
    const lock = this.#store.lock
    let token: string | undefined
    if (lock !== undefined) {
      const deadline = this.#clock.now() + this.#lockTimeout
      for (;;) {
        const taken = await this.#storeCall('lock', () => lock.acquire(this.name, key, this.#lockLease))
        if (taken === FAILED) break // store down: load without the lock
        const waitMs = deadline - this.#clock.now()
        const woken =
          taken === undefined && waitMs > 0
            ? await this.#storeCall('lock', () => lock.waitForRelease(this.name, key, waitMs), waitMs)
            : false
        token = taken
        const landed = await this.#readStore(key, f)
        if (landed !== undefined && isFresh(landed, this.#clock.now())) {
          if (token !== undefined) await this.#storeCall('unlock', () => lock.release(this.name, key, token!))
          if (!ticket.superseded) this.#l1?.set(key, landed)
          this.#count('l2Hits', 'hit', key, 2)
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
      return await this.#runLoader(key, f, loader, kept, ticket, refreshing, token)
    } finally {
      if (token !== undefined && lock !== undefined) {
        await this.#storeCall('unlock', () => lock.release(this.name, key, token!))
      }
    }
  }

  async #runLoader(
    key: string,
    f: Freshness,
    loader: Loader<V>,
    kept: Entry<V> | undefined,
    ticket: Ticket,
    refreshing: boolean,
    token: string | undefined,
  ): Promise<GetInfo<V>> {
    const controller = new AbortController()
    const ctx: LoaderContext<V> = { key, ...f, staleValue: kept?.value, refreshing, signal: controller.signal }
    const extender = this.#keepLock(key, token)
    const started = this.#clock.now()
    this.#stats.loads++
    let value: V | undefined | null
    try {
      value = await withDeadline(
        Promise.resolve().then(() => loader(key, ctx)),
        this.#hardTimeout,
        () => {
          const error = new TimeoutError(key, this.#hardTimeout)
          controller.abort(error)
          return error
        },
      )
    } catch (thrown) {
      return this.#loadFailed(key, thrown instanceof TimeoutError ? thrown : new LoaderError(key, thrown), {
        f,
        kept,
        ticket,
        refreshing,
      })
    } finally {
      if (extender !== undefined) clearInterval(extender)
    }
    checkDurations(ctx, 'ctx')
    const stored = await this.#write(key, value ?? undefined, freshnessOf(ctx), ticket)
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
  async #loadFailed(
    key: string,
    error: LoaderError | TimeoutError,
    at: { f: Freshness; kept: Entry<V> | undefined; ticket: Ticket; refreshing: boolean },
  ): Promise<GetInfo<V>> {
    this.#stats.loaderErrors++
    this.#emitError(error, key)
    const { f, kept, ticket, refreshing } = at
    const now = this.#clock.now()
    if (refreshing) this.#refreshBackoff.set(key, now + this.#refreshRetryDelay)
    if (kept !== undefined && isKept(kept, now) && f.resurrectTtl > 0) {
      const keepMs = f.resurrectTtl + Math.max(f.staleTtl, f.resurrectTtl)
      const revived = makeEntry(kept.value, now, f.resurrectTtl, keepMs, f, true)
      if (!ticket.superseded) {
        this.#l1?.set(key, revived)
        await this.#writeStore(key, kept.value, { freshMs: f.resurrectTtl, keepMs, staleMs: f.staleTtl })
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
  async #loadMany(keys: string[], f: Freshness, loader: BulkLoader<V>, kept: Map<string, Entry<V>>) {
    const flights = keys.map((key) => {
      const pending: Deferred<GetInfo<V>> = deferred()
      pending.promise.catch(() => {}) // rejections reach the getMany caller; joiners handle their own
      const ticket: Ticket = { superseded: false }
      this.#flights.set(key, pending.promise)
      this.#tickets.set(key, ticket)
      return { key, pending, ticket }
    })
    const land = () => {
      for (const { key, pending } of flights) {
        if (this.#flights.get(key) === pending.promise) {
          this.#flights.delete(key)
          this.#tickets.delete(key)
        }
      }
    }
    const controller = new AbortController()
    const ctx: BulkLoaderContext = { ...f, signal: controller.signal }
    this.#stats.loads++
    try {
      const values = await withDeadline(
        Promise.resolve().then(() => loader(keys, ctx)),
        this.#hardTimeout,
        () => {
          const error = new TimeoutError(keys.join(','), this.#hardTimeout)
          controller.abort(error)
          return error
        },
      )
      if (!Array.isArray(values) || values.length !== keys.length) {
        throw new TypeError(`bulk loader must resolve to an array of ${keys.length} values, got ${describe(values)}`)
      }
      checkDurations(ctx, 'ctx')
      const writes = await this.#writeMany(
        flights.map(({ key, ticket }, j) => ({ key, value: values[j] ?? undefined, ticket })),
        freshnessOf(ctx),
      )
      flights.forEach(({ pending }, j) => {
        pending.resolve({ value: writes[j], hitLevel: 3, stale: false })
      })
      return writes
    } catch (thrown) {
      const outcomes = await Promise.allSettled(
        flights.map(({ key, ticket }) => {
          const error = thrown instanceof TimeoutError ? thrown : new LoaderError(key, thrown)
          return this.#loadFailed(key, error, { f, kept: kept.get(key), ticket, refreshing: false })
        }),
      )
      flights.forEach(({ pending }, j) => {
        const outcome = outcomes[j]!
        if (outcome.status === 'fulfilled') pending.resolve(outcome.value)
        else pending.reject(outcome.reason)
      })
      const failed = outcomes.find((o) => o.status === 'rejected')
      if (failed !== undefined) throw failed.reason
      return outcomes.map((o) => (o as PromiseFulfilledResult<GetInfo<V>>).value.value)
    } finally {
      land()
    }
  }

  // ---- stale serving ------------------------------------------------------

  /** Serve `entry` stale now and start one background refresh (if none runs). */
  #serveStale(key: string, entry: Entry<V>, f: Freshness, loader: Loader<V>, inFlight = false): GetInfo<V> {
    this.#countStale(key, 'refreshing')
    this.#refreshInBackground(key, f, loader, entry, inFlight)
    return info(entry, 4, 'refreshing')
  }

  /**
   * Start one refresh of a stale key unless one runs (or a load of it runs,
   * when not called from that very load).
   */
  #refreshInBackground(key: string, f: Freshness, loader: Loader<V>, entry: Entry<V>, inFlight = false): void {
    if (this.#refreshing.has(key) || (!inFlight && this.#flights.has(key))) return
    const retryAt = this.#refreshBackoff.get(key)
    if (retryAt !== undefined && this.#clock.now() < retryAt) return
    this.#refreshing.add(key)
    this.#stats.refreshes++
    if (this.listenerCount('refresh') > 0) this.emit('refresh', key)
    const ticket: Ticket = { superseded: false }
    if (!inFlight) this.#tickets.set(key, ticket)
    this.#load(key, f, loader, entry, ticket, true)
      .catch((error: unknown) => this.#emitError(error, key))
      .finally(() => {
        this.#refreshing.delete(key)
        if (this.#tickets.get(key) === ticket) this.#tickets.delete(key)
      })
  }

  /** Race a load against the soft timeout: past it, callers get the kept value while the load goes on. */
  #staleAfter(key: string, flight: Promise<GetInfo<V>>, kept: Entry<V>, ms: number): Promise<GetInfo<V>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#countStale(key, 'soft-timeout')
        resolve(info(kept, 4, 'soft-timeout'))
      }, ms)
      timer.unref?.()
      flight.then(
        (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(error)
        },
      )
    })
  }

  // ---- reading and writing the levels -------------------------------------

  /** Without a loader: L2 only; a miss resolves `undefined` and nothing is cached. */
  async #lookUp(key: string, f: Freshness): Promise<GetInfo<V>> {
    const found = await this.#readStore(key, f)
    const now = this.#clock.now()
    if (found !== undefined && isServableStale(found, now)) {
      this.#l1?.set(key, found)
      if (isFresh(found, now)) {
        this.#count('l2Hits', 'hit', key, 2)
        return info(found, 2)
      }
      this.#countStale(key, 'refreshing')
      return info(found, 4, 'refreshing')
    }
    this.#count('misses', 'miss', key)
    return { value: undefined, hitLevel: 3, stale: false }
  }

  async #readStore(key: string, f: Freshness): Promise<Entry<V> | undefined> {
    const record = await this.#storeCall('get', () => this.#store.get(this.name, key))
    if (record === FAILED || record === undefined) return undefined
    return this.#fromRecord(key, record, this.#clock.now(), f)
  }

  /** Decode a store record into an L1 entry that lives for the record's remaining time, not a fresh TTL. */
  #fromRecord(key: string, record: StoreRecord, now: number, f: Freshness): Entry<V> | undefined {
    let value: V | undefined
    if (record.data !== undefined) {
      try {
        const decoded = this.#codec.decode(record.data)
        value = this.#l1Serializer ? this.#l1Serializer(decoded, key) : (decoded as V)
      } catch (cause) {
        this.#stats.storeErrors++
        this.#emitError(new DecodeError(key, cause), key)
        return undefined
      }
    }
    const windows = record.staleMs === undefined ? f : { ...f, staleTtl: record.staleMs }
    return makeEntry(value, now, record.freshMs, record.keepMs, windows)
  }

  /** Write a loaded or set value to L1 and the store; resolves to what L1 now serves. */
  async #write(key: string, value: V | undefined, f: Freshness, ticket?: Ticket): Promise<V | undefined> {
    const [stored] = await this.#writeMany([{ key, value, ticket }], f)
    return stored
  }

  async #writeMany(
    items: readonly { key: string; value: V | undefined; ticket?: Ticket | undefined }[],
    f: Freshness,
  ): Promise<(V | undefined)[]> {
    const now = this.#clock.now()
    const writes: [string, StoreWrite][] = []
    const served = items.map(({ key, value, ticket }) => {
      const life = lifetime(value === undefined, f)
      const data = value === undefined ? undefined : this.#encode(key, value)
      const l1Value = value !== undefined && this.#l1Serializer ? this.#l1Serializer(value, key) : value
      if (ticket?.superseded) return l1Value
      this.#l1?.set(key, makeEntry(l1Value, now, life.freshMs, life.keepMs, f))
      if (data !== FAILED) writes.push([key, { data, ...life }])
      return l1Value
    })
    if (writes.length === 1) {
      const [key, write] = writes[0]!
      await this.#storeCall('set', () => this.#store.set(this.name, key, write))
    } else if (writes.length > 1) {
      await this.#storeCall('setMany', () => this.#store.setMany(this.name, writes))
    }
    return served
  }

  async #writeStore(key: string, value: V | undefined, life: Omit<StoreWrite, 'data'>): Promise<void> {
    const data = value === undefined ? undefined : this.#encode(key, value)
    if (data === FAILED) return
    await this.#storeCall('set', () => this.#store.set(this.name, key, { data, ...life }))
  }

  #encode(key: string, value: V): Uint8Array | typeof FAILED {
    try {
      return this.#codec.encode(value)
    } catch (cause) {
      // Unencodable values stay in L1 only; the caller still gets them.
      this.#emitError(
        new StoreError('encode', cause, `could not encode the value of "${key}" with ${this.#codec.name}`),
        key,
      )
      return FAILED
    }
  }

  /** A store call that never throws: failures and time-outs become an `error` event and `FAILED`. */
  async #storeCall<T>(operation: string, call: () => Promise<T>, extraMs = 0): Promise<T | typeof FAILED> {
    // A lock wait has its own time-out; the store's only bounds the round trips around it.
    const limit = this.#storeTimeout + extraMs
    try {
      return await withDeadline(
        call(),
        limit,
        () => new StoreError(operation, undefined, `shared store ${operation} timed out after ${limit} ms`),
      )
    } catch (cause) {
      this.#stats.storeErrors++
      this.#emitError(cause instanceof StoreError ? cause : new StoreError(operation, cause), undefined)
      return FAILED
    }
  }

  /** Extend the lock lease while a long loader runs, so no other process takes over a live load. */
  #keepLock(key: string, token: string | undefined): ReturnType<typeof setInterval> | undefined {
    const lock = this.#store.lock
    if (token === undefined || lock?.extend === undefined) return undefined
    const timer = setInterval(() => {
      void this.#storeCall('lock', () => lock.extend!(this.name, key, token, this.#lockLease))
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

  /** A load running for `key` must not write its (now older) result. */
  #supersede(key: string): void {
    const ticket = this.#tickets.get(key)
    if (ticket !== undefined) ticket.superseded = true
  }

  #forget(key: string): void {
    this.#supersede(key)
    this.#l1?.delete(key)
    this.#refreshBackoff.delete(key)
  }

  #forgetAll(): void {
    for (const ticket of this.#tickets.values()) ticket.superseded = true
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

  #freshness(options: GetOptions | SetOptions | undefined): Freshness {
    if (options === undefined) return this.#defaults
    return { ...this.#defaults, ...pickDefined(options) }
  }

  // ---- counting and events ------------------------------------------------

  #countL1(key: string, entry: Entry<V>): void {
    if (entry.resurrected) {
      this.#countStale(key, 'resurrected')
      return
    }
    this.#stats.l1Hits++
    if (this.listenerCount('hit') > 0) this.emit('hit', key, 1)
  }

  #countStale(key: string, reason: StaleReason): void {
    this.#stats.staleServed++
    if (this.listenerCount('stale') > 0) this.emit('stale', key, reason)
  }

  #count(counter: 'l2Hits' | 'misses', event: 'hit' | 'miss', key: string, level?: 2): void {
    this.#stats[counter]++
    if (this.listenerCount(event) === 0) return
    if (event === 'hit') this.emit('hit', key, level ?? 2)
    else this.emit('miss', key)
  }

  #emitError(error: unknown, key: string | undefined): void {
    this.emit('error', error as TierCacheError, key)
  }
}

function createL1<V>(options: TierCacheOptions<V>): LRUCache<string, Entry<V>> | undefined {
  const max = options.lruSize ?? (options.lruMaxBytes === undefined ? DEFAULTS.lruSize : undefined)
  if (max !== undefined && (!Number.isInteger(max) || max < 0)) {
    throw new TypeError(`options.lruSize must be an integer >= 0, got ${describe(max)}`)
  }
  if (options.lruMaxBytes === undefined) return max === 0 ? undefined : new LRUCache({ max: max! })
  const maxSize = options.lruMaxBytes
  if (!Number.isInteger(maxSize) || maxSize < 1) {
    throw new TypeError(`options.lruMaxBytes must be a positive integer, got ${describe(maxSize)}`)
  }
  const sizeOf = options.sizeOf
  if (typeof sizeOf !== 'function') {
    throw new TypeError(`options.sizeOf must be a function when lruMaxBytes is set, got ${describe(sizeOf)}`)
  }
  return new LRUCache<string, Entry<V>>({
    ...(max ? { max } : {}),
    maxSize,
    // A cached miss still costs its key and entry; count it so misses cannot grow L1 unbounded.
    sizeCalculation: (entry, key) =>
      Math.max(1, entry.value === undefined ? key.length + 64 : sizeOf(entry.value, key)),
  })
}

function info<V>(entry: Entry<V>, hitLevel: HitLevel, reason?: StaleReason): GetInfo<V> {
  if (reason === undefined) return { value: entry.value, hitLevel, stale: hitLevel === 4 }
  return { value: entry.value, hitLevel, stale: true, reason }
}

function valueOfInfo<V>(result: GetInfo<V>): V | undefined {
  return result.value
}

function freshnessOf(ctx: Freshness): Freshness {
  return { ttl: ctx.ttl, negTtl: ctx.negTtl, staleTtl: ctx.staleTtl, resurrectTtl: ctx.resurrectTtl }
}

function pickDefined(options: object): Partial<Freshness> {
  const picked: Partial<Freshness> = {}
  const from = options as Partial<Freshness>
  if (from.ttl !== undefined) picked.ttl = from.ttl
  if (from.negTtl !== undefined) picked.negTtl = from.negTtl
  if (from.staleTtl !== undefined) picked.staleTtl = from.staleTtl
  if (from.resurrectTtl !== undefined) picked.resurrectTtl = from.resurrectTtl
  return picked
}
