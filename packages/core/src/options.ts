import type { RefreshBackoffOptions } from './backoff.js'
import type { Clock } from './clock.js'
import type { Codec } from './codec.js'
import type { Duration } from './duration.js'
import type { InvalidationBus } from './invalidation.js'
import type { TierCacheLogger } from './logger.js'
import type { SharedStore } from './store.js'

/**
 * Options of a {@link TierCache}. Per-call options ({@link GetOptions}) override the freshness ones.
 * Every duration is a number of milliseconds or a string such as `'250ms'`, `'30s'`, `'5m'`, `'1h'`, `'1d'`.
 */
export interface TierCacheOptions<V> {
  /**
   * Namespace: two caches with different names never see each other's keys in
   * the shared store, and `purge` of one leaves the others intact.
   * @default 'default'
   */
  name?: string
  /**
   * Maximum number of entries in L1 (the in-process LRU). `0` disables L1:
   * every read goes to the shared store.
   * @default 1000
   */
  lruSize?: number
  /** Byte bound for L1, measured by `sizeOf`. Both bounds apply when both are set. */
  lruMaxBytes?: number
  /**
   * Size of one value in bytes, for `lruMaxBytes`. Required with `lruMaxBytes`. Must return a
   * number >= 0 (`Infinity`: never kept in L1); anything else is a `TypeError` naming it.
   */
  sizeOf?: (value: V, key: string) => number
  /**
   * Milliseconds a loaded value is fresh. `0` = never goes stale.
   * @default 30_000
   */
  ttl?: Duration
  /**
   * Milliseconds a miss (loader resolved `undefined` or `null`) is cached.
   * `0` = never expires, as for `ttl`.
   * @default 5_000
   */
  negTtl?: Duration
  /**
   * Milliseconds after expiry during which `get` answers at once with the stale
   * value while exactly one caller refreshes it in the background.
   * `0` = callers wait for the reload (mlcache's behaviour).
   * @default 0
   */
  staleTtl?: Duration
  /**
   * Milliseconds a stale value is served again, as if fresh, when a load fails
   * (mlcache's `resurrect_ttl`). Entries are kept past expiry for
   * max(`staleTtl`, `resurrectTtl`) so this value is still there when needed.
   * @default 0
   */
  resurrectTtl?: Duration
  /**
   * The shared (L2) store.
   * @default new MemoryStore()
   */
  store?: SharedStore
  /**
   * Encodes values for the shared store.
   * @default msgpackCodec()
   */
  codec?: Codec
  /**
   * Transforms a value read from the shared store before it enters L1, e.g. to
   * build an index or freeze it once rather than on every read (mlcache's
   * `l1_serializer`). Runs once per L1 fill, never on an L1 hit.
   */
  l1Serializer?: (value: unknown, key: string) => V
  /** Invalidation bus that keeps the L1 of other nodes honest (`@tiercache/ipc`). */
  ipc?: InvalidationBus
  /**
   * Milliseconds a caller waits for another process's load of the same key
   * (the distributed lock) before it looks in the store once more and then
   * loads itself.
   * @default 5_000
   */
  lockWait?: Duration
  /**
   * Lease of the distributed lock in ms: a holder that crashes frees the key
   * after this. Extended while the loader runs. Must be > 0 (a lease of 0
   * would be no lock at all).
   * @default 10_000
   */
  lockLease?: Duration
  /**
   * Milliseconds after which a load still running lets callers have the
   * stale value (if one is kept) while the load goes on. `0` = off.
   * @default 0
   */
  softTimeout?: Duration
  /**
   * Milliseconds after which a load is abandoned: callers reject with a
   * `TimeoutError`, the loader's `ctx.signal` aborts, and the distributed lock
   * stops being extended and is released. `0` = no limit (a loader that never
   * settles then hangs its callers, and holds the key's lock fleet-wide).
   *
   * The default is finite for that reason: 30 s is far above any load a cache
   * should front (a load that slow is an outage: three lock leases), yet
   * bounds how long a hung origin call holds callers, memory and the lock.
   * @default 30_000
   */
  hardTimeout?: Duration
  /**
   * Milliseconds any one shared-store call may take before the cache treats
   * the store as failed for that call and goes on to the next level.
   * @default 1_000
   */
  storeTimeout?: Duration
  /**
   * @deprecated Use `refreshBackoff`. A fixed wait between two attempts of a
   * key after its loader failed while a stale or resurrected value is served:
   * `refreshRetryDelay: N` is `refreshBackoff: { initial: N, factor: 1 }`.
   * Cannot be set with `refreshBackoff`.
   */
  refreshRetryDelay?: Duration
  /**
   * After a key's loader fails while a stale or resurrected value is served,
   * how long the key waits before its loader is tried again: `initial`, then
   * `factor` times longer per further failure in a row (±`jitter`), up to
   * `max`; a success starts over. A resurrected value (`resurrectTtl`) is
   * re-armed for the wait, starting at `resurrectTtl`. Per key, per process.
   * @default { initial: '1s', max: '1m', factor: 2, jitter: 0.2 }
   */
  refreshBackoff?: RefreshBackoffOptions
  /**
   * Spreads the TTL of every value written (loaded or `set`) by up to ±this
   * fraction, so keys written together do not expire together (a stampede on
   * the origin): `0.1` makes a 60 s TTL anywhere in 54–66 s. `0 <= ttlJitter < 1`.
   * The stale and resurrect windows keep their length after the jittered TTL.
   * @default 0
   */
  ttlJitter?: number
  /**
   * Refresh-ahead: once this fraction of a value's TTL has passed, a read
   * still answers with it at once and starts one background refresh (through
   * the distributed lock: one process of the fleet refreshes), so a key read
   * steadily never expires. `0.8`: refreshed by the first read in the last
   * 20 % of its TTL. `0 <= refreshAhead < 1`; `0` = off. Values read from the
   * store are timed by this cache's `ttl`.
   * @default 0
   */
  refreshAhead?: number
  /** Time source, injectable for tests. @default the system clock */
  clock?: Clock
  /** Random numbers in [0, 1) for `ttlJitter` and backoff jitter, injectable for tests. @default Math.random */
  random?: () => number
  /**
   * Where failures are logged as they happen, pino-style `(obj, msg)`: store
   * and bus failures at `warn`, loader failures at `error`, refreshes and bus
   * reconnections at `debug`. `obj` carries `cache`, `key` and `err`.
   * Independent of the `error` event. @default none
   */
  logger?: TierCacheLogger
}

/** The freshness options a call may override. */
const FRESHNESS_OPTION_NAMES = ['ttl', 'negTtl', 'staleTtl', 'resurrectTtl'] as const

/** The names of the per-call options of `set`. */
export const SET_OPTION_NAMES = [...FRESHNESS_OPTION_NAMES, 'tags', 'loadedBy'] as const

/** The names of the per-call options of `get`, `getWithInfo` and `getMany`. */
export const GET_OPTION_NAMES = [...FRESHNESS_OPTION_NAMES, 'softTimeout', 'hardTimeout', 'signal'] as const

/** The names of the per-call options of `getMany`: no `softTimeout` (the bulk call waits for its one load). */
export const GET_MANY_OPTION_NAMES = [...FRESHNESS_OPTION_NAMES, 'hardTimeout', 'signal'] as const

/**
 * Per-call options of `get`, `getWithInfo` and `getMany`. `hardTimeout` given
 * here bounds the load this call starts; a call that joins a load already
 * running waits for that load under the bound it was started with.
 */
export type GetOptions = Pick<TierCacheOptions<unknown>, Exclude<(typeof GET_OPTION_NAMES)[number], 'signal'>> & {
  /**
   * Stop waiting: when it aborts, this call rejects with `signal.reason` (an
   * `AbortError` unless you abort with a reason of your own); other callers of
   * the key are unaffected. When every caller waiting for a load has aborted
   * (and none waits without a signal), the loader's `ctx.signal` aborts too.
   * For `getMany`, only the call rejects; the bulk load goes on.
   */
  signal?: AbortSignal
}

/**
 * Per-call options of `getMany`: those of `get` but `softTimeout`, which a bulk
 * call has no use for (it answers all its keys from one load, with no value held
 * per key to fall back on); given anyway, it is refused, not ignored.
 */
export type GetManyOptions = Omit<GetOptions, 'softTimeout'>

/** Per-call options of `set`. */
export interface SetOptions extends Pick<TierCacheOptions<unknown>, (typeof FRESHNESS_OPTION_NAMES)[number]> {
  /**
   * Tags for this value (non-empty, well-formed strings): `invalidateTag(tag)`
   * then makes it stale and `deleteTag(tag)` a miss, on every node.
   */
  tags?: readonly string[]
  /**
   * The loader context (`ctx`) of the load that produced this value, when a
   * loader writes it under another key: the tags then apply as of that load's
   * start, so a tag operation that ran while the loader worked still applies
   * to it (without it, the value counts as written when `set` starts).
   */
  loadedBy?: object
}

/** The names of every {@link TierCacheOptions} field, for the check of misspelled names. */
export const CACHE_OPTION_NAMES = optionNames<TierCacheOptions<unknown>>({
  name: true,
  lruSize: true,
  lruMaxBytes: true,
  sizeOf: true,
  ttl: true,
  negTtl: true,
  staleTtl: true,
  resurrectTtl: true,
  store: true,
  codec: true,
  l1Serializer: true,
  ipc: true,
  lockWait: true,
  lockLease: true,
  softTimeout: true,
  hardTimeout: true,
  storeTimeout: true,
  refreshRetryDelay: true,
  refreshBackoff: true,
  ttlJitter: true,
  refreshAhead: true,
  clock: true,
  random: true,
  logger: true,
})

/** The freshness settings of one entry, resolved from the cache options, the call and the loader. */
export interface FreshnessPolicy {
  ttl: number
  negTtl: number
  staleTtl: number
  resurrectTtl: number
}

/**
 * The freshness of a call: `base` with what `options` sets. `base` itself when
 * `options` is absent, so a call without options allocates nothing.
 */
export function freshnessPolicy(base: FreshnessPolicy, options: Partial<FreshnessPolicy> | undefined): FreshnessPolicy {
  if (options === undefined) return base
  return {
    ttl: options.ttl ?? base.ttl,
    negTtl: options.negTtl ?? base.negTtl,
    staleTtl: options.staleTtl ?? base.staleTtl,
    resurrectTtl: options.resurrectTtl ?? base.resurrectTtl,
  }
}

/** Defaults of every cache option, in one place. */
export const CACHE_DEFAULTS = {
  name: 'default',
  lruSize: 1000,
  ttl: 30_000,
  negTtl: 5_000,
  staleTtl: 0,
  resurrectTtl: 0,
  lockWait: 5_000,
  lockLease: 10_000,
  softTimeout: 0,
  hardTimeout: 30_000,
  storeTimeout: 1_000,
  ttlJitter: 0,
  refreshAhead: 0,
} as const

/**
 * The names of every option of `T`, as a list; the compiler checks the record
 * names each option once and nothing else, so the list cannot fall behind the type.
 */
export function optionNames<T>(names: Record<keyof T, true>): readonly string[] {
  return Object.keys(names)
}
