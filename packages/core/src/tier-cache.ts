import { EventEmitter } from 'eventemitter3'
import { abortable, Waiters } from './abort.js'
import { Backoff, backoffPolicy } from './backoff.js'
import { type Clock, checkClock, systemClock } from './clock.js'
import { type Codec, checkCodec, checkRepresentable, msgpackCodec } from './codec.js'
import { describe } from './describe.js'
import { type Entry, isFresh, isKept, isServableStale, remainingTtl } from './entry.js'
import { StoreError, type TierCacheError } from './errors.js'
import { type GetManyParts, getMany } from './get-many.js'
import type { TierCacheHealth } from './health.js'
import {
  type Announcement,
  checkBus,
  type InvalidationBus,
  type InvalidationEvent,
  type InvalidationHandler,
  type InvalidationKind,
} from './invalidation.js'
import { LoadPipeline } from './load.js'
import type { BulkLoader, DefiniteBulkLoader, DefiniteLoader, Loader } from './loader.js'
import { checkedL1Serializer, createLocalTier, type LocalTier } from './local-tier.js'
import { MemoryStore } from './memory-store.js'
import {
  CACHE_DEFAULTS,
  CACHE_OPTION_NAMES,
  type FreshnessPolicy,
  freshnessPolicy,
  GET_MANY_OPTION_NAMES,
  type GetManyOptions,
  type GetOptions,
  SET_OPTION_NAMES,
  type SetOptions,
  type TierCacheOptions,
} from './options.js'
import { Refresher } from './refresh.js'
import { type GetInfo, info, type PeekResult } from './result.js'
import { SharedTier } from './shared-tier.js'
import { SingleFlight } from './single-flight.js'
import { Stats, type TierCacheEvents, type TierCacheStats } from './stats.js'
import { checkStore, type SharedStore } from './store.js'
import {
  busKey,
  checkTag,
  checkTags,
  judged,
  keyFromBus,
  loadStampOf,
  parseTagMessage,
  TagIndex,
  type TagStamp,
  tagMessage,
} from './tags.js'
import { type GetTrace, isTraced, tracing } from './tracing.js'
import {
  checkFraction,
  checkKey,
  checkKeys,
  checkLogger,
  checkOptionNames,
  parseDurations,
  splitArgs,
} from './validate.js'

/** What `ctx.meta` is for, told when a loader stores something the codec cannot keep there. */
const META_HINT =
  'store plain data such as { etag } or { lastModified } in ctx.meta, the validators of the value, not the response'

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
  readonly #codec: Codec
  readonly #ipc: InvalidationBus | undefined
  readonly #unsubscribe: (() => void) | undefined
  readonly #defaults: FreshnessPolicy
  readonly #softTimeout: number
  readonly #stats: Stats
  readonly #flights = new SingleFlight<GetInfo<V>>()
  readonly #waiters = new Waiters()
  readonly #refresher: Refresher<V>
  readonly #pipeline: LoadPipeline<V>
  readonly #bulk: GetManyParts<V>
  readonly #tags: TagIndex
  /** The tag namespace (`<name>\0tags`) in the store: the tag epoch and one record per tag operated on. */
  readonly #tagTier: SharedTier<never>
  /** While the invalidation bus is down: L1 entries older than this many ms are not trusted. */
  #l1MaxAge: number | undefined
  /**
   * True while L1 may not be served on the hot path without a check: the bus
   * is down (`#l1MaxAge`), or it vouches for L1 only until `#trustUntil`.
   * One boolean, so the hot path of a cache without such a bus tests one field.
   */
  #bounded = false
  /**
   * Until this instant of the monotonic clock (`performance.now()`, never the
   * injectable one: a paused process must see the real time) the bus vouches
   * for L1; past it no L1 entry is served until it confirms again (see
   * `InvalidationHandler.confirmed`). `-Infinity` while the bus is down.
   */
  #trustUntil = Number.NEGATIVE_INFINITY
  /** The bus's bound on staleness, from its last confirmation (see `#joinableSince`). */
  #maxStalenessMs = 0
  /** This cache's subscription: named when it publishes, so the bus tells its local siblings, not it. */
  readonly #handler: InvalidationHandler

  constructor(given: TierCacheOptions<V> = {}) {
    super()
    // Durations are parsed here, once: nothing past the constructor sees a string.
    const options = parseDurations(given, 'options')!
    checkOptionNames(options, CACHE_OPTION_NAMES, 'options')
    const name = options.name ?? CACHE_DEFAULTS.name
    checkKey(name, 'options.name')
    if (options.store !== undefined) checkStore(options.store, 'options.store')
    if (options.ipc !== undefined) checkBus(options.ipc, 'options.ipc')
    const l1Serializer = checkedL1Serializer(options.l1Serializer)
    checkLogger(options.logger)
    checkClock(options.clock, 'options.clock')
    checkCodec(options.codec, 'options.codec')
    checkFraction(options.ttlJitter, 'options.ttlJitter')
    checkFraction(options.refreshAhead, 'options.refreshAhead')
    if (options.random !== undefined && typeof options.random !== 'function') {
      throw new TypeError('options.random must be a function returning a number in [0, 1)')
    }
    const codec = options.codec ?? msgpackCodec()
    this.name = name
    this.#codec = codec
    this.#stats = new Stats({ events: this, cache: name, logger: options.logger })
    this.#defaults = freshnessPolicy(CACHE_DEFAULTS, options)
    this.#softTimeout = options.softTimeout ?? CACHE_DEFAULTS.softTimeout
    this.#clock = options.clock ?? systemClock
    this.#l1 = createLocalTier(options, this.#clock)
    // Given no store, the cache's own: private to this process, so it keeps the values themselves
    // (one copy, shared with L1, never encoded) rather than a second, encoded copy of each.
    const store = options.store ?? new MemoryStore({ clock: options.clock, keepValues: true })
    const timeoutMs = options.storeTimeout ?? CACHE_DEFAULTS.storeTimeout
    const report = (error: TierCacheError, key: string | undefined) => this.#stats.storeError(error, key)
    // The tag namespace: same store, same time-out, same reports as the values (not defaults of its own).
    this.#tagTier = new SharedTier<never>({
      namespace: `${name}\u0000tags`,
      owner: this,
      store,
      codec,
      clock: this.#clock,
      timeoutMs,
      l1Serializer: undefined,
      refreshAhead: 0,
      report,
      namedErrorsOnly: true,
    })
    this.#tags = new TagIndex({
      tier: this.#tagTier,
      clock: this.#clock,
      trusted: (cachedAt, now) => this.#trustedTagState(cachedAt, now),
    })
    this.#l2 = new SharedTier<V>({
      namespace: name,
      owner: this,
      store,
      codec,
      clock: this.#clock,
      timeoutMs,
      l1Serializer,
      refreshAhead: options.refreshAhead ?? CACHE_DEFAULTS.refreshAhead,
      report,
      tags: this.#tags,
    })
    const checkValue = (value: unknown, key: string) => checkRepresentable(codec, value, "the loader's value", key)
    const checkMeta = (meta: unknown, key: string) => checkRepresentable(codec, meta, 'ctx.meta', key, META_HINT)
    const levels = { l1: this.#l1, l2: this.#l2, clock: this.#clock, stats: this.#stats }
    this.#refresher = new Refresher<V>({
      clock: this.#clock,
      stats: this.#stats,
      flights: this.#flights,
      backoff: new Backoff(
        backoffPolicy(options.refreshBackoff, options.refreshRetryDelay),
        this.#clock,
        options.random ?? Math.random,
      ),
      load: (load) => this.#pipeline.load(load),
    })
    this.#pipeline = new LoadPipeline<V>({
      ...levels,
      flights: this.#flights,
      source: { cache: name, owner: this },
      refresher: this.#refresher,
      l1Serializer,
      checkValue,
      checkMeta,
      lockWait: options.lockWait ?? CACHE_DEFAULTS.lockWait,
      lockLease: options.lockLease ?? CACHE_DEFAULTS.lockLease,
      hardTimeout: options.hardTimeout ?? CACHE_DEFAULTS.hardTimeout,
      ttlJitter: options.ttlJitter ?? CACHE_DEFAULTS.ttlJitter,
      refreshAhead: options.refreshAhead ?? CACHE_DEFAULTS.refreshAhead,
      random: options.random ?? Math.random,
      publish: (kind, keys) => this.#publish(kind, keys.map(busKey)),
      tags: this.#tags,
    })
    this.#bulk = {
      ...levels,
      flights: this.#flights,
      refresher: this.#refresher,
      pipeline: this.#pipeline,
      trustedL1: (key, now) => this.#trustedL1(key, now),
      joinableSince: () => this.#joinableSince(),
      checkValue,
      tags: this.#tags,
    }
    this.#ipc = options.ipc
    this.#handler = {
      invalidate: (keys) => {
        this.#stats.busReceived()
        for (const sent of keys) {
          const operation = parseTagMessage(sent)
          if (operation !== undefined) this.#tagChanged(operation.tag, operation.n)
          // The key as sent is evicted too, tag operation or not: a node of an older version sends
          // user keys unescaped (`\0\0k` for the key `\0\0k`, `\0tag:1:t` for `\0tag:1:t`), and
          // evicting only the unescaped form kept those keys in L1 here during a rolling upgrade.
          // An extra eviction is safe; a missed one serves another node's old value until TTL.
          this.#forget(sent)
          const key = keyFromBus(sent)
          if (key !== sent) this.#forget(key)
        }
      },
      invalidateAll: () => {
        this.#stats.busReceived()
        this.#forgetAll()
      },
      disconnected: (maxStalenessMs) => {
        this.#stats.busDisconnected(maxStalenessMs)
        this.#l1MaxAge = maxStalenessMs
        this.#bounded = true
        this.#trustUntil = Number.NEGATIVE_INFINITY
      },
      reconnected: () => {
        this.#l1MaxAge = undefined
        this.#bounded = false
        this.#forgetAll()
        this.#tags.clear()
        this.#stats.busReconnected()
      },
      confirmed: (ageMs, maxStalenessMs) => {
        if (this.#l1MaxAge !== undefined) return
        this.#bounded = true
        this.#maxStalenessMs = maxStalenessMs
        this.#trustUntil = performance.now() - ageMs + maxStalenessMs
      },
    }
    this.#unsubscribe = this.#ipc?.subscribe(name, this.#handler)
  }

  /**
   * The value of `key`: from L1, else the shared store, else the loader (run once
   * for all concurrent callers). Without a loader, a miss resolves `undefined`.
   *
   * Typed `Promise<V>` when the loader's type excludes `undefined` and `null`
   * (a {@link DefiniteLoader}), else `Promise<V | undefined>`. The type speaks of
   * what this loader returns: a miss cached for the key by someone else
   * (`set(key, undefined)`, or a loader of the same key that can return `null`)
   * still resolves `undefined`, so keep one loader per key space.
   *
   * @example
   * const user: User = await cache.get('user:1', (key, ctx) => db.user(1)) // db.user returns Promise<User>
   * const maybe = await cache.get('user:1', { ttl: '10s' }, findUser) // findUser returns Promise<User | null>
   */
  get(key: string): Promise<V | undefined>
  get(key: string, loader: DefiniteLoader<V>): Promise<V>
  get(key: string, loader?: Loader<V>): Promise<V | undefined>
  get(key: string, options: GetOptions | undefined, loader: DefiniteLoader<V>): Promise<V>
  get(key: string, options: GetOptions | undefined, loader?: Loader<V>): Promise<V | undefined>
  get(key: string, a?: GetOptions | Loader<V>, b?: Loader<V>): Promise<V | undefined> {
    // Traced only when someone subscribes: otherwise no context is built.
    if (isTraced(tracing.get)) return this.#traceGet(key, a, b, valueOfInfo)
    // The L1 hit path: one LRU look-up that returns the value as a settled promise.
    // While the invalidation bus is down, or has not vouched for L1 lately, every read
    // takes the slow path, which bounds L1 trust.
    if (
      (a === undefined || typeof a === 'function') &&
      b === undefined &&
      (!this.#bounded || performance.now() < this.#trustUntil)
    ) {
      const hit = this.#l1?.hit(key)
      if (hit !== undefined) {
        this.#stats.l1Hit(key)
        return hit
      }
      // Tagged entries are never on the path above; a fresh one whose tags L1 vouches for is served here.
      const tagged = this.#taggedHit(key)
      if (tagged !== undefined) return tagged
    }
    return this.#getWithInfo(key, a, b).then(valueOfInfo)
  }

  /** The value of a fresh tagged L1 entry whose tags' states in L1 leave it fresh; `undefined` otherwise. */
  #taggedHit(key: string): Promise<V | undefined> | undefined {
    const entry = this.#freshTagged(key)
    if (entry === undefined) return undefined
    this.#stats.l1Hit(key)
    return Promise.resolve(entry.value)
  }

  /** A fresh tagged L1 entry whose tags' states in L1 leave it fresh (a cached miss included). */
  #freshTagged(key: string): Entry<V> | undefined {
    const entry = this.#l1?.get(key)
    if (entry?.tags === undefined || entry.resurrected) return undefined
    const now = this.#clock.now()
    // Past its refresh-ahead point the look-up decides, as for an untagged entry.
    if (!isFresh(entry, now) || now >= entry.refreshAt || this.#tags.verdictNow(entry.tags, now) !== 'ok') {
      return undefined
    }
    return entry
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
    if (isTraced(tracing.get)) return this.#traceGet(key, a, b, (got) => got)
    return this.#getWithInfo(key, a, b)
  }

  #getWithInfo(key: string, a: GetOptions | Loader<V> | undefined, b: Loader<V> | undefined): Promise<GetInfo<V>> {
    // Not an async function: a miss hands back the flight's own promise, with no wrapper
    // promise and no extra microtask hops; bad arguments still become a rejection.
    try {
      return this.#resolve(key, a, b)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** A look-up published on `tiercache:get`, its hit level set on the context before it settles. */
  #traceGet<R>(
    key: string,
    a: GetOptions | Loader<V> | undefined,
    b: Loader<V> | undefined,
    pick: (got: GetInfo<V>) => R,
  ): Promise<R> {
    const trace: GetTrace = { cache: this.name, owner: this, key }
    return tracing.get.tracePromise(
      () =>
        this.#getWithInfo(key, a, b).then((got) => {
          trace.hitLevel = got.hitLevel
          trace.stale = got.stale
          if (got.reason !== undefined) trace.reason = got.reason
          return pick(got)
        }),
      trace,
    )
  }

  /** The one narrative of a get, from the arguments to the value. */
  #resolve(key: string, a: GetOptions | Loader<V> | undefined, b: Loader<V> | undefined): Promise<GetInfo<V>> {
    // 1. Arguments: a bad key, option or loader rejects with a TypeError naming it
    checkKey(key)
    const [options, loader] = splitArgs(a, b)
    const signal = options?.signal
    if (signal?.aborted) return Promise.reject(signal.reason)
    const f = freshnessPolicy(this.#defaults, options)
    const hardTimeout = options?.hardTimeout
    const now = this.#clock.now()
    this.#stats.gets(1)

    // 2. L1: a fresh entry is served; a stale one inside its window is served at once
    //    while one background refresh starts (refresh.ts)
    const entry = this.#trustedL1(key, now)
    if (entry !== undefined && isFresh(entry, now)) {
      this.#stats.l1(key, entry)
      // Past its refresh-ahead point (the hot path no longer serves it): one background refresh.
      if (loader !== undefined && now >= entry.refreshAt)
        this.#refresher.refreshAhead({ key, f, loader, hardTimeout }, entry)
      return Promise.resolve(entry.resurrected ? info(entry, 4, 'resurrected') : info(entry, 1))
    }
    if (entry !== undefined && loader !== undefined && isServableStale(entry, now)) {
      return Promise.resolve(this.#refresher.serveStale({ key, f, loader, hardTimeout }, entry))
    }

    // 3. No loader: the shared store alone; a miss caches nothing
    if (loader === undefined) {
      const read = this.#pipeline.readOnly(key, f)
      return signal === undefined ? read : abortable(read, signal)
    }

    // 4. Join the flight already running for this key, or start one (load.ts): the shared
    //    store, then the distributed lock, the store once more (another process may have
    //    filled it meanwhile), the loader, the write-through to the store and L1, the unlock
    //    A caller with a signal stops waiting when it aborts; when every caller has, so
    //    does the load (abort.ts). A load started without a signal runs to its end.
    let flight = this.#flights.get(key, this.#joinableSince())
    if (flight !== undefined) this.#stats.flightWait()
    else {
      // A controller only when callers can leave (the load makes its own when its loader runs):
      // an AbortController per read was a large share of a Redis hit's cost.
      const controller = signal === undefined ? undefined : new AbortController()
      const started = this.#flights.start(key, (ticket) =>
        this.#pipeline.fly({ key, f, loader, ticket, hardTimeout, controller }, entry),
      )
      if (controller !== undefined) this.#waiters.track(started, controller, () => this.#flights.detach(key, started))
      flight = started
    }
    const waited = this.#waiters.wait(flight, signal)

    // 5. Soft timeout: past it, a value still held is served while the flight goes on
    const softTimeout = options?.softTimeout ?? this.#softTimeout
    if (softTimeout > 0 && entry !== undefined && isKept(entry, now)) {
      return this.#refresher.softTimeout(waited, { key, entry, ms: softTimeout })
    }
    return waited
  }

  /**
   * The values of many keys, in the order of `keys`, with ONE shared-store round
   * trip for all L1 misses and ONE loader call for all store misses. Concurrent
   * single `get`s of those keys join the bulk load.
   *
   * @example
   * const [a, b] = await cache.getMany(['user:1', 'user:2'], (keys) => db.users(keys))
   */
  getMany(keys: readonly string[]): Promise<(V | undefined)[]>
  getMany(keys: readonly string[], loader: DefiniteBulkLoader<V>): Promise<V[]>
  getMany(keys: readonly string[], loader?: BulkLoader<V>): Promise<(V | undefined)[]>
  getMany(keys: readonly string[], options: GetManyOptions | undefined, loader: DefiniteBulkLoader<V>): Promise<V[]>
  getMany(
    keys: readonly string[],
    options: GetManyOptions | undefined,
    loader?: BulkLoader<V>,
  ): Promise<(V | undefined)[]>
  getMany(keys: readonly string[], a?: GetManyOptions | BulkLoader<V>, b?: BulkLoader<V>): Promise<(V | undefined)[]> {
    if (!isTraced(tracing.getMany)) return this.#getMany(keys, a, b)
    return tracing.getMany.tracePromise(() => this.#getMany(keys, a, b), { cache: this.name, owner: this, keys })
  }

  async #getMany(
    keys: readonly string[],
    a: GetManyOptions | BulkLoader<V> | undefined,
    b: BulkLoader<V> | undefined,
  ): Promise<(V | undefined)[]> {
    checkKeys(keys)
    const [options, loader] = splitArgs<BulkLoader<V>>(a, b, GET_MANY_OPTION_NAMES)
    const f = freshnessPolicy(this.#defaults, options)
    const got = getMany(this.#bulk, { keys, f, loader, hardTimeout: options?.hardTimeout })
    return options?.signal === undefined ? got : abortable(got, options.signal)
  }

  /**
   * The hot path of `get`, synchronously: the value of a fresh entry L1 holds
   * and may trust now, counted as an L1 hit as `get` counts it. `undefined`
   * when `get` would look further (nothing fresh in L1, a cached miss, a
   * resurrected entry, L1 not vouched for while the bus is down, a traced
   * get), and when `accept` refuses the value (then nothing is counted).
   * Never calls the store or a loader. For callers that answer without waiting
   * a microtask; on `undefined`, call `get`.
   *
   * @example
   * const value = cache.getFresh(key) ?? (await cache.get(key, loader))
   */
  getFresh(key: string, accept?: (value: V) => boolean): V | undefined {
    if (accept !== undefined && typeof accept !== 'function') {
      throw new TypeError(`accept must be a function, got ${describe(accept)}`)
    }
    // As get: a traced read takes the path that publishes it; an untrusted L1 answers nothing.
    if (isTraced(tracing.get) || (this.#bounded && performance.now() >= this.#trustUntil)) return missed(key)
    // Tagged entries are never fresh for the plain path: a fresh one whose tags L1 vouches for is served too.
    const value = this.#l1?.freshValue(key) ?? this.#freshTagged(key)?.value
    if (value === undefined) return missed(key)
    if (accept !== undefined && !accept(value)) return undefined
    this.#stats.l1Hit(key)
    return value
  }

  /**
   * Resolves once no load, refresh or store read of this cache is running:
   * each has written what it will write and released its lock. For a graceful
   * shutdown, await it (bounded by your own timeout) before `close` and before
   * closing the store, so no write is cut off and no lock is left to expire.
   *
   * @example
   * await Promise.race([cache.idle(), setTimeout(5_000)])
   * cache.close()
   * await store.close()
   */
  idle(): Promise<void> {
    return this.#flights.idle()
  }

  /**
   * Look at L1 only, synchronously; never calls the store or a loader.
   * `undefined` when L1 holds nothing usable for `key`.
   */
  peek(key: string): PeekResult<V> | undefined {
    checkKey(key)
    const now = this.#clock.now()
    const held = this.#l1?.get(key)
    const entry = held?.tags === undefined ? held : judged(held, this.#tags.verdictNow(held.tags, now), now)
    if (entry === undefined || !isKept(entry, now)) return undefined
    return { value: entry.value, ttlRemaining: remainingTtl(entry, now), stale: !isFresh(entry, now) }
  }

  /**
   * Store `value` under `key` in the shared store and L1, and tell other nodes
   * to drop their L1 copy. `undefined`/`null` is stored as a miss for `negTtl`.
   * Once it resolves, no load or refresh that started before can overwrite it
   * (docs/consistency.md). Rejects with a `StoreError` when the store write
   * failed or timed out; this node then drops its own copy of `key` too.
   */
  async set(key: string, value: V | undefined | null, options?: SetOptions): Promise<void> {
    checkKey(key)
    const parsed = parseDurations(options, 'options')
    checkOptionNames(parsed, SET_OPTION_NAMES, 'options')
    if (value !== undefined && value !== null) checkRepresentable(this.#codec, value, 'value')
    const f = freshnessPolicy(this.#defaults, parsed)
    let stamp: TagStamp | undefined
    if (options?.tags !== undefined) {
      checkTags(options.tags, 'options.tags')
      // Stamped as it starts (or as its load started): a tag operation that takes its number later is newer.
      const loadedAt = options.loadedBy === undefined ? undefined : loadStampOf(options.loadedBy, 'options.loadedBy')
      // The first use of tags reads the epoch first (once), so this value is not stamped below older operations.
      const warming = loadedAt === undefined && options.tags.length > 0 ? this.#tags.warm() : undefined
      if (warming !== undefined) await warming
      const at = loadedAt ?? this.#tags.seen
      if (options.tags.length > 0) stamp = { tags: [...new Set(options.tags)], at }
    } else if (options?.loadedBy !== undefined) loadStampOf(options.loadedBy, 'options.loadedBy')
    // The key starts over, as after a delete: a backoff waited for the value this one replaces.
    this.#flights.supersede(key)
    this.#refresher.forget(key)
    await this.#written(['set', [key]], (announce) => this.#pipeline.put(key, value ?? undefined, f, announce, stamp))
  }

  /**
   * Make every entry tagged `tag` stale, on every node: served within its
   * stale window (`staleTtl`) while one caller refreshes it, else loaded again
   * at its next read. One tag operation on the store (O(1), whatever the
   * number of entries); entries are judged when read. Once it resolves, no
   * value loaded (or `set`) before it is served as fresh (docs/consistency.md).
   * Rejects with a `StoreError` when the store failed or timed out.
   *
   * @example
   * await cache.get('user:1', async (key, ctx) => { ctx.tags = ['users'];  return db.user(1) })
   * await cache.invalidateTag('users')
   */
  async invalidateTag(tag: string): Promise<void> {
    checkTag(tag, 'tag')
    await this.#tagOperation(tag, false)
  }

  /**
   * Make every entry tagged `tag` a miss, on every node: never served again,
   * not even stale or resurrected. One tag operation on the store (O(1)).
   * Rejects with a `StoreError` when the store failed or timed out.
   *
   * @example
   * await cache.set('user:1', user, { tags: ['org:7'] })
   * await cache.deleteTag('org:7') // user:1 is now a miss everywhere
   */
  async deleteTag(tag: string): Promise<void> {
    checkTag(tag, 'tag')
    await this.#tagOperation(tag, true)
  }

  /**
   * Read the namespace's tag epoch now, rather than at the first use of tags.
   * A process that just started stamps its loads with the tag operations it
   * has heard of; until the epoch is read that is none, so the first value it
   * tags may be judged stale (or deleted) once by an older tag operation and
   * loaded again. Call it at start-up in processes that tag (`HttpCache` does).
   * Never rejects.
   *
   * @example
   * const products = new TierCache<Product>({ name: 'products', store, ipc })
   * void products.warmTags()
   */
  async warmTags(): Promise<void> {
    await this.#tags.warm()
  }

  async #tagOperation(tag: string, del: boolean): Promise<void> {
    let n = 0
    try {
      n = await this.#tags.operate(tag, del)
    } finally {
      // Gets from now on start their own loads rather than join one that may predate the operation.
      this.#flights.detachAll()
      // Told also when the store failed: the others re-read the tag's record.
      await this.#publish('delete', [tagMessage(tag, n)])
    }
  }

  /** Another node operated on `tag`: its state is read again, and running loads are not joined. */
  #tagChanged(tag: string, n: number): void {
    this.#tags.heard(n)
    this.#tags.drop(tag)
    this.#flights.detachAll()
  }

  /**
   * Remove `key` from L1 and the shared store, here and (through `ipc`) on every
   * node. Rejects with a `StoreError` when the store delete failed or timed out.
   */
  async delete(key: string): Promise<void> {
    checkKey(key)
    this.#forget(key)
    await this.#written(['delete', [key]], async (announce) => {
      await this.#l2.delete(key, announce)
      // Loads that started while the delete ran may have read before it.
      this.#forget(key)
      return announce !== undefined
    })
  }

  /**
   * Drop every entry of this namespace, in L1 and (in O(1)) in the shared store.
   * Other namespaces are untouched. Rejects with a `StoreError` when the store
   * purge failed or timed out.
   */
  async purge(): Promise<void> {
    this.#forgetAll()
    await this.#written(['purge', []], async (announce) => {
      await this.#l2.purge(announce)
      this.#forgetAll()
      return announce !== undefined
    })
  }

  /**
   * A user's write: run it, then tell the other nodes. When the store failed,
   * this node forgets the keys as well (it must not serve what the store may
   * not hold), the others are still told to re-read, and the call rejects.
   *
   * When the bus and the store allow it, the store publishes the invalidation
   * itself, in the same atomic step as the write (`write` gets the
   * announcement and resolves whether it was sent with the write): then no
   * death of this process between the two can leave the other nodes serving
   * the old value, and this node only tells its siblings on the bus.
   */
  async #written(
    [kind, keys]: [InvalidationKind, string[]],
    write: (announce: Announcement | undefined) => Promise<boolean>,
  ): Promise<void> {
    // User keys go on the bus escaped (busKey), so none reads as a tag operation on the other nodes.
    const event = { kind, namespace: this.name, keys: keys.map(busKey) }
    let announced = false
    try {
      announced = await write(this.#announcement(event))
    } catch (error) {
      if (kind === 'purge') this.#forgetAll()
      else for (const key of keys) this.#forget(key)
      throw error
    } finally {
      // Resolved only once the bus has sent it: a writer whose loop blocks next has told everyone.
      if (announced) this.#announced(event)
      else await this.#publish(kind, event.keys)
    }
  }

  /** `event` as the store may publish it with the write, when both the bus and the store can. */
  #announcement(event: InvalidationEvent): Announcement | undefined {
    const bus = this.#ipc
    if (bus?.announcement === undefined || bus.announced === undefined) return undefined
    try {
      return this.#l2.accepts(bus.announcement(event))
    } catch (cause) {
      this.#stats.error(new StoreError('publish', cause), event.keys[0])
      return undefined
    }
  }

  /** The store published `event` with the write: tell this node's siblings on the bus. */
  #announced(event: InvalidationEvent): void {
    try {
      this.#ipc!.announced!(event, this.#handler)
      this.#stats.busPublished()
    } catch (cause) {
      this.#stats.error(new StoreError('publish', cause), event.keys[0])
    }
  }

  /** The shared store this cache reads and writes (e.g. to build a sibling namespace on it). */
  get store(): SharedStore {
    return this.#l2.store
  }

  /** The time source this cache measures freshness by, so layers built on it (the HTTP cache) read the same time. */
  get clock(): Clock {
    return this.#clock
  }

  /** The invalidation bus, when one was given. */
  get ipc(): InvalidationBus | undefined {
    return this.#ipc
  }

  /** Counters per level since this cache was created; see {@link TierCacheStats} for how `hitRatio` is computed. */
  stats(): TierCacheStats {
    return this.#stats.snapshot(this.#l1?.size ?? 0)
  }

  /**
   * Check the shared store now (one call, not counted as traffic: its
   * `health()`, e.g. a Redis PING, or a read of one key) and report it with the
   * circuit breaker's state and the bus connection. `degraded` still answers:
   * from L1 and the loader.
   *
   * @example
   * app.get('/healthz', async () => {
   *   const health = await users.health()
   *   return { statusCode: health.status === 'ok' ? 200 : 503, body: health }
   * })
   */
  async health(): Promise<TierCacheHealth> {
    const started = performance.now()
    const store = await this.#l2.probe()
    const latencyMs = performance.now() - started
    const bus = this.#ipc === undefined ? undefined : { connected: this.#l1MaxAge === undefined }
    return {
      status: store.ok && bus?.connected !== false ? 'ok' : 'degraded',
      cache: this.name,
      store: { name: this.#l2.store.name, ...store, latencyMs },
      ...(bus === undefined ? {} : { bus }),
    }
  }

  /**
   * Stop listening to the invalidation bus and the store, and abort every
   * loader running (its `ctx.signal`, with an `AbortError`): whoever still
   * waits for one rejects with it. The store is the caller's to close.
   */
  close(): void {
    this.#pipeline.close(new DOMException(`TierCache "${this.name}" was closed`, 'AbortError'))
    this.#unsubscribe?.()
    this.#l2.close()
    this.#tagTier.close()
    this.removeAllListeners()
  }

  // ---- L1 trust and invalidation ------------------------------------------

  /**
   * The L1 entry of `key` if it may be served now: held, the bus has vouched
   * for L1 lately, and not older than the bus-down bound.
   */
  #trustedL1(key: string, now: number): Entry<V> | undefined {
    const entry = this.#l1?.get(key)
    if (entry === undefined) return undefined
    if (!isKept(entry, now)) {
      this.#l1!.delete(key)
      return undefined
    }
    if (this.#l1MaxAge !== undefined && now - entry.cachedAt >= this.#l1MaxAge) return undefined
    if (this.#l1MaxAge === undefined && this.#bounded && performance.now() >= this.#trustUntil) return undefined
    if (entry.tags === undefined) return entry
    // A tagged entry, judged against its tags' states held in L1 (unknown: the store is asked).
    const verdict = this.#tags.verdictNow(entry.tags, now)
    if (verdict === 'deleted') this.#l1!.delete(key)
    return judged(entry, verdict, now)
  }

  /**
   * The oldest start (`performance.now()` ms) of a flight a caller may join now.
   * A flight reads the store after it starts, so it has seen every write
   * completed before then; a later write reaches this process by the bus. While
   * the bus vouches for L1 every flight may be joined (each write older than the
   * staleness bound has been heard of, and has superseded the flights it
   * concerns). Once it has not vouched for longer than the bound (a process
   * paused or blocked, or the bus late), or while it is down, only a flight
   * started within the bound may be: a caller joining an older one could get a
   * value read before a write that completed longer than the bound before the
   * call (seen by the fleet faults, a node stopped 2 s: two calls got 1.9 s old values).
   */
  #joinableSince(): number {
    if (!this.#bounded) return Number.NEGATIVE_INFINITY
    const now = performance.now()
    if (this.#l1MaxAge !== undefined) return now - this.#l1MaxAge
    return now < this.#trustUntil ? Number.NEGATIVE_INFINITY : now - this.#maxStalenessMs
  }

  /**
   * Whether a tag state read at `cachedAt` may be used now: as long as L1 may
   * be served (the bus vouches for it), or, without a bus, for the cache's
   * `ttl` (as an L1 value is: another node's tag operation reaches this node
   * no sooner than its set would).
   */
  #trustedTagState(cachedAt: number, now: number): boolean {
    if (this.#ipc === undefined) return this.#defaults.ttl === 0 || now - cachedAt < this.#defaults.ttl
    if (this.#l1MaxAge !== undefined) return now - cachedAt < this.#l1MaxAge
    return !this.#bounded || performance.now() < this.#trustUntil
  }

  #forget(key: string): void {
    this.#flights.supersede(key)
    this.#l1?.delete(key)
    this.#refresher.forget(key)
  }

  #forgetAll(): void {
    this.#flights.supersedeAll()
    this.#l1?.clear()
    this.#refresher.forgetAll()
  }

  /** Tell the other nodes (and the other caches of this name on the bus); settles once the bus has sent it. */
  #publish(kind: InvalidationKind, keys: string[]): Promise<void> | undefined {
    if (this.#ipc === undefined) return undefined
    const report = (cause: unknown) => this.#stats.error(new StoreError('publish', cause), keys[0])
    try {
      const sent = this.#ipc.publish({ kind, namespace: this.name, keys }, this.#handler)?.then(undefined, report)
      this.#stats.busPublished()
      return sent
    } catch (cause) {
      report(cause)
      return undefined
    }
  }
}

function valueOfInfo<V>(result: GetInfo<V>): V | undefined {
  return result.value
}

/**
 * `undefined`, for a key L1 did not answer, once the key is checked: a bad key is a `TypeError`
 * naming it, as in `get`. Checked only here: no bad key is ever in L1 (every write checks it), so
 * a hit needs no check, and `getFresh` stays one look-up.
 */
function missed(key: unknown): undefined {
  checkKey(key)
  return undefined
}
