import type { Clock } from './clock.js'
import type { Codec } from './codec.js'
import type { InvalidationBus } from './invalidation.js'
import type { SharedStore } from './store.js'

/** Options of a {@link TierCache}. Per-call options ({@link GetOptions}) override the freshness ones. */
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
  /** Size of one value in bytes, for `lruMaxBytes`. Required with `lruMaxBytes`. */
  sizeOf?: (value: V, key: string) => number
  /**
   * Milliseconds a loaded value is fresh. `0` = never goes stale.
   * @default 30_000
   */
  ttl?: number
  /**
   * Milliseconds a miss (loader resolved `undefined` or `null`) is cached.
   * `0` = never expires, as for `ttl`.
   * @default 5_000
   */
  negTtl?: number
  /**
   * Milliseconds after expiry during which `get` answers at once with the stale
   * value while exactly one caller refreshes it in the background.
   * `0` = callers wait for the reload (mlcache's behaviour).
   * @default 0
   */
  staleTtl?: number
  /**
   * Milliseconds a stale value is served again, as if fresh, when a load fails
   * (mlcache's `resurrect_ttl`). Entries are kept past expiry for
   * max(`staleTtl`, `resurrectTtl`) so this value is still there when needed.
   * @default 0
   */
  resurrectTtl?: number
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
  lockWait?: number
  /**
   * Lease of the distributed lock in ms: a holder that crashes frees the key
   * after this. Extended while the loader runs.
   * @default 10_000
   */
  lockLease?: number
  /**
   * Milliseconds after which a load still running lets callers have the
   * stale value (if one is kept) while the load goes on. `0` = off.
   * @default 0
   */
  softTimeout?: number
  /**
   * Milliseconds after which a load is abandoned: callers reject with a
   * `TimeoutError` and the loader's `ctx.signal` aborts. `0` = no limit.
   * @default 0
   */
  hardTimeout?: number
  /**
   * Milliseconds any one shared-store call may take before the cache treats
   * the store as failed for that call and goes on to the next level.
   * @default 1_000
   */
  storeTimeout?: number
  /**
   * Milliseconds between two refresh attempts of the same stale key after a
   * refresh failed, so an origin outage is not hammered on every read.
   * @default 1_000
   */
  refreshRetryDelay?: number
  /** Time source, injectable for tests. @default the system clock */
  clock?: Clock
}

/** Per-call options of `get`, `getWithInfo`, `getMany` and `set`. */
export type GetOptions = Pick<
  TierCacheOptions<unknown>,
  'ttl' | 'negTtl' | 'staleTtl' | 'resurrectTtl' | 'softTimeout' | 'hardTimeout'
>

/** Per-call options of `set`. */
export type SetOptions = Pick<TierCacheOptions<unknown>, 'ttl' | 'negTtl' | 'staleTtl' | 'resurrectTtl'>

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
  hardTimeout: 0,
  storeTimeout: 1_000,
  refreshRetryDelay: 1_000,
} as const
