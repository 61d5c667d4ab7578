import type { FreshnessPolicy } from './options.js'

/**
 * One value as L1 holds it. An entry carries its times (local clock, ms), so
 * freshness is a comparison, never a computation, on the hot path.
 */
export interface Entry<V> {
  /** The value; `undefined` for a cached miss. */
  readonly value: V | undefined
  /** Before this instant the entry is fresh. `Infinity` = never stale. */
  readonly staleAt: number
  /** Until this instant a stale entry may be served while one caller refreshes it. */
  readonly staleUntil: number
  /** After this instant the entry is gone (end of the stale and resurrect windows). */
  readonly expiresAt: number
  /** When this node cached it (for the bound on L1 trust while the invalidation bus is down). */
  readonly cachedAt: number
  /** Served again after a failed load (mlcache's resurrect): reported with hitLevel 4. */
  readonly resurrected: boolean
}

/** Build an entry that becomes stale `freshMs` from `now` and is dropped `keepMs` from `now`. */
export function makeEntry<V>(
  value: V | undefined,
  now: number,
  freshMs: number,
  keepMs: number,
  freshness: FreshnessPolicy,
  resurrected = false,
): Entry<V> {
  const staleAt = now + freshMs
  const expiresAt = Math.max(staleAt, now + keepMs)
  return {
    value,
    staleAt,
    staleUntil: Math.min(staleAt + freshness.staleTtl, expiresAt),
    expiresAt,
    cachedAt: now,
    resurrected,
  }
}

/** Fresh: served as a hit. */
export const isFresh = (entry: Entry<unknown>, now: number): boolean => now < entry.staleAt

/** Stale but inside the stale window: served at once while one caller refreshes. */
export const isServableStale = (entry: Entry<unknown>, now: number): boolean => now < entry.staleUntil

/** Still held: a failed load may resurrect it. */
export const isKept = (entry: Entry<unknown>, now: number): boolean => now < entry.expiresAt

/** Milliseconds until stale (`<= 0` when stale). */
export const remainingTtl = (entry: Entry<unknown>, now: number): number => entry.staleAt - now

/** Fresh and kept durations in ms for a value written now, `Infinity` for `ttl: 0`. */
export function lifetime(negative: boolean, f: FreshnessPolicy): { freshMs: number; keepMs: number; staleMs: number } {
  const ttl = negative ? f.negTtl : f.ttl
  if (ttl === 0) return { freshMs: Infinity, keepMs: Infinity, staleMs: f.staleTtl }
  return { freshMs: ttl, keepMs: ttl + Math.max(f.staleTtl, f.resurrectTtl), staleMs: f.staleTtl }
}
