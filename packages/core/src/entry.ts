import type { FreshnessPolicy } from './options.js'
import type { TagStamp } from './tags.js'

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
  /**
   * From this instant a read of the (still fresh) entry starts a background
   * refresh (`refreshAhead`); L1's hot path treats the entry as a miss from
   * then on, so the check costs a hit nothing. `Infinity` = never.
   */
  readonly refreshAt: number
  /** What the loader stored beside the value (`ctx.meta`), for the next load's `ctx.staleMeta`. */
  readonly meta: unknown
  /** Its tags and the stamp of its load (tags.ts); `undefined` for an untagged entry. */
  readonly tags: TagStamp | undefined
}

/** How long an entry lives, in ms from when it is made. */
export interface EntryTimes {
  /** Until stale. */
  readonly freshMs: number
  /** Until dropped (at least `freshMs`). */
  readonly keepMs: number
  /** The stale window after `freshMs` (capped by `keepMs`). */
  readonly staleMs: number
  /** Re-armed after a failed load rather than loaded or read. @default false */
  readonly resurrected?: boolean
  /** Refreshed ahead this long before it goes stale (`refreshAhead`). @default no refresh ahead */
  readonly aheadMs?: number
}

/** Build an entry that becomes stale `times.freshMs` from `now` and is dropped `times.keepMs` from `now`. */
export function makeEntry<V>(
  value: V | undefined,
  now: number,
  times: EntryTimes,
  meta?: unknown,
  tags: TagStamp | undefined = undefined,
): Entry<V> {
  const staleAt = now + times.freshMs
  const expiresAt = Math.max(staleAt, now + times.keepMs)
  return {
    value,
    staleAt,
    staleUntil: Math.min(staleAt + times.staleMs, expiresAt),
    expiresAt,
    cachedAt: now,
    resurrected: times.resurrected === true,
    refreshAt: times.aheadMs === undefined || times.resurrected === true ? Infinity : staleAt - times.aheadMs,
    meta,
    tags,
  }
}

/** Fresh, and due for a refresh ahead of its expiry (`refreshAhead`). */
export const isDueAhead = (entry: Entry<unknown>, now: number): boolean => now >= entry.refreshAt && now < entry.staleAt

/**
 * How long before expiry an entry of a value (not a miss) is refreshed ahead:
 * the last `1 - ratio` of `ttl`; `undefined` when refresh-ahead is off or the value never goes stale.
 */
export function aheadOf(ratio: number, ttl: number, negative: boolean): number | undefined {
  return ratio > 0 && ttl > 0 && !negative ? (1 - ratio) * ttl : undefined
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
export function lifetime(negative: boolean, f: FreshnessPolicy): EntryTimes {
  const ttl = negative ? f.negTtl : f.ttl
  if (ttl === 0) return { freshMs: Infinity, keepMs: Infinity, staleMs: f.staleTtl }
  return { freshMs: ttl, keepMs: ttl + Math.max(f.staleTtl, f.resurrectTtl), staleMs: f.staleTtl }
}

/**
 * `times` with the fresh time spread by up to ±`fraction` (`0.1`: ±10 %), so
 * keys written together do not all go stale together; the windows after it
 * keep their length. `random` returns [0, 1). A value that never goes stale
 * stays so.
 */
export function jittered(times: EntryTimes, fraction: number, random: () => number): EntryTimes {
  if (fraction === 0 || times.freshMs === Infinity) return times
  const freshMs = times.freshMs * (1 + fraction * (2 * random() - 1))
  return { ...times, freshMs, keepMs: freshMs + (times.keepMs - times.freshMs) }
}
