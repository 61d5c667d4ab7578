import type { Entry } from './entry.js'

/**
 * Where a value came from: 1 = L1, 2 = shared store, 3 = loader, 4 = a stale
 * or resurrected value; 0 = nowhere (a miss of a call without a loader: no
 * level held the key and nothing was loaded).
 */
export type HitLevel = 0 | 1 | 2 | 3 | 4

/** Why a stale value was served. */
export type StaleReason = 'refreshing' | 'loader-failed' | 'soft-timeout' | 'resurrected'

/** A value with where it came from, from `getWithInfo`. */
export interface GetInfo<V> {
  /** The value, `undefined` for a (cached) miss. */
  readonly value: V | undefined
  /** 1 = L1, 2 = shared store, 3 = loader, 4 = a stale or resurrected value, 0 = not found (no loader ran). */
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

/** The answer for a fresh entry read from the store: level 2, or 4 when another node resurrected it. */
export function fromStore<V>(entry: Entry<V>): GetInfo<V> {
  return entry.resurrected ? info(entry, 4, 'resurrected') : info(entry, 2)
}

/**
 * The answer for a miss with no loader to run: found nowhere and nothing
 * loaded (level 0, not 3: no loader ran).
 */
export function notFound<V>(): GetInfo<V> {
  return NOT_FOUND
}

/** The answer for a value the loader just produced : level 3, fresh. */
export function loaded<V>(value: V | undefined): GetInfo<V> {
  return { value, hitLevel: 3, stale: false }
}

/** The answer for a miss of a call without a loader: found nowhere, nothing loaded. */
export const NOT_FOUND: GetInfo<never> = Object.freeze({ value: undefined, hitLevel: 0, stale: false })
