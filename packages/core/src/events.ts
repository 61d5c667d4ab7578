import type { TierCacheError } from './errors.js'

/** Where a value came from: 1 = L1, 2 = shared store, 3 = loader, 4 = a stale or resurrected value. */
export type HitLevel = 1 | 2 | 3 | 4

/** Why a stale value was served. */
export type StaleReason = 'refreshing' | 'loader-failed' | 'soft-timeout' | 'resurrected'

/** Events a `TierCache` emits (eventemitter3). Events are built only when someone listens. */
export interface TierCacheEvents {
  /** A fresh value was served from L1 (level 1) or the shared store (level 2). */
  hit: [key: string, level: 1 | 2]
  /** Neither L1 nor the shared store had a fresh value. */
  miss: [key: string]
  /** The loader ran and its value was cached. */
  load: [key: string, durationMs: number]
  /** A stale value was served, and why. */
  stale: [key: string, reason: StaleReason]
  /** A background refresh of a stale key started on this node. */
  refresh: [key: string]
  /**
   * Something failed and the cache went on to the next level: a `StoreError`,
   * `DecodeError`, `LoaderError` (also when it was absorbed by a stale value)
   * or `TimeoutError`. Never fatal: with no listener it is only counted.
   */
  error: [error: TierCacheError, key: string | undefined]
}

/** Counters per level, from `cache.stats()`. */
export interface TierCacheStats {
  /** Fresh values served from L1. */
  l1Hits: number
  /** Fresh values served from the shared store. */
  l2Hits: number
  /** Look-ups that found no fresh value in L1 or the shared store. */
  misses: number
  /** Loader calls (one per key per flight; `getMany` counts one per call). */
  loads: number
  /** Stale or resurrected values served. */
  staleServed: number
  /** Background refreshes started. */
  refreshes: number
  /** Loader failures (thrown, rejected or timed out). */
  loaderErrors: number
  /** Shared store failures (thrown, timed out, undecodable). */
  storeErrors: number
  /** Entries now in L1. */
  l1Size: number
}
