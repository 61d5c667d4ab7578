import type { EventEmitter } from 'eventemitter3'
import type { Entry } from './entry.js'
import type { TierCacheError } from './errors.js'
import type { StaleReason } from './result.js'

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

/**
 * The counters of one cache and the events that go with them: each outcome
 * counts, and emits only when someone listens, so nothing is built on a hit
 * nobody watches.
 */
export class Stats {
  #l1Hits = 0
  #l2Hits = 0
  #misses = 0
  #loads = 0
  #staleServed = 0
  #refreshes = 0
  #loaderErrors = 0
  #storeErrors = 0
  readonly #events: EventEmitter<TierCacheEvents>

  constructor(events: EventEmitter<TierCacheEvents>) {
    this.#events = events
  }

  /** A fresh L1 value served (the hot path: a counter and a listener check). */
  l1Hit(key: string): void {
    this.#l1Hits++
    if (this.#events.listenerCount('hit') > 0) this.#events.emit('hit', key, 1)
  }

  /** An L1 entry served as fresh: a hit, or a resurrected value (reported as stale). */
  l1(key: string, entry: Entry<unknown>): void {
    if (entry.resurrected) this.stale(key, 'resurrected')
    else this.l1Hit(key)
  }

  /** A fresh store entry served: a hit, or a value another node resurrected (reported as stale). */
  l2(key: string, entry: Entry<unknown>): void {
    if (entry.resurrected) this.stale(key, 'resurrected')
    else this.l2Hit(key)
  }

  /** A fresh value served from the shared store. */
  l2Hit(key: string): void {
    this.#l2Hits++
    if (this.#events.listenerCount('hit') > 0) this.#events.emit('hit', key, 2)
  }

  /** Neither level had a fresh value. */
  miss(key: string): void {
    this.#misses++
    if (this.#events.listenerCount('miss') > 0) this.#events.emit('miss', key)
  }

  /** A stale (or resurrected) value served, and why. */
  stale(key: string, reason: StaleReason): void {
    this.#staleServed++
    if (this.#events.listenerCount('stale') > 0) this.#events.emit('stale', key, reason)
  }

  /** A background refresh started. */
  refresh(key: string): void {
    this.#refreshes++
    if (this.#events.listenerCount('refresh') > 0) this.#events.emit('refresh', key)
  }

  /** A loader call started (one per flight; one per `getMany` call). */
  loadStarted(): void {
    this.#loads++
  }

  /** A loader's value was cached, `durationMs` after its load started. */
  loaded(key: string, durationMs: number): void {
    if (this.#events.listenerCount('load') > 0) this.#events.emit('load', key, durationMs)
  }

  /** A loader failed (threw, rejected or timed out). */
  loaderError(error: TierCacheError, key: string): void {
    this.#loaderErrors++
    this.error(error, key)
  }

  /** The shared store (or its codec) failed. */
  storeError(error: TierCacheError, key: string | undefined): void {
    this.#storeErrors++
    this.error(error, key)
  }

  /** A failure that is not counted (a refresh that went wrong, a publish that failed). */
  error(error: unknown, key: string | undefined): void {
    this.#events.emit('error', error as TierCacheError, key)
  }

  /** The counters now, with the size of L1. */
  snapshot(l1Size: number): TierCacheStats {
    return {
      l1Hits: this.#l1Hits,
      l2Hits: this.#l2Hits,
      misses: this.#misses,
      loads: this.#loads,
      staleServed: this.#staleServed,
      refreshes: this.#refreshes,
      loaderErrors: this.#loaderErrors,
      storeErrors: this.#storeErrors,
      l1Size,
    }
  }
}
