import type { Entry } from './entry.js'
import type { HitLevel, StaleReason } from './events.js'
import type { FreshnessPolicy } from './options.js'

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

/** The answer for a caller served `entry` from `hitLevel`. */
export function info<V>(entry: Entry<V>, hitLevel: HitLevel, reason?: StaleReason): GetInfo<V> {
  if (reason === undefined) return { value: entry.value, hitLevel, stale: hitLevel === 4 }
  return { value: entry.value, hitLevel, stale: true, reason }
}

/** The freshness a loader settled on, without the rest of its context (which must not be retained). */
export function freshnessOf(ctx: FreshnessPolicy): FreshnessPolicy {
  return { ttl: ctx.ttl, negTtl: ctx.negTtl, staleTtl: ctx.staleTtl, resurrectTtl: ctx.resurrectTtl }
}
