import type { EventEmitter } from 'eventemitter3'
import type { Entry } from './entry.js'
import {
  LoaderError,
  STORE_FAILURE_KINDS,
  StoreError,
  type StoreFailureKind,
  storeFailureKind,
  type TierCacheError,
  TimeoutError,
} from './errors.js'
import type { TierCacheLogger } from './logger.js'
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
   * `key` is the key concerned (`undefined` for a call about no one key, e.g.
   * `purge`), `cache` this cache's name.
   */
  error: [error: TierCacheError, key: string | undefined, cache: string]
}

/**
 * Counters per level, from `cache.stats()`. A look-up (`get`, `getWithInfo`,
 * each key of `getMany`) ends in one of: an L1 hit, a store hit, a stale value,
 * joining a load already running in this process (`flightWaits`), or a miss.
 * (A miss that then waits for another process's load and finds its value in
 * the store also counts as an `l2Hits`.)
 */
export interface TierCacheStats {
  /** Look-ups: each `get` or `getWithInfo`, and each key of a `getMany`. */
  gets: number
  /**
   * Share of look-ups that ran no loader of their own: `(gets - misses) / gets`,
   * `0` before the first. Callers that joined a running load (`flightWaits`)
   * count as served: 100 concurrent callers of a cold key are 1 miss and 99
   * flight waits, a ratio of 0.99. For a ratio of values found in the cache
   * only, use `(gets - misses - flightWaits) / gets`.
   */
  hitRatio: number
  /** Fresh values served from L1. */
  l1Hits: number
  /** Fresh values served from the shared store. */
  l2Hits: number
  /** Look-ups that found no fresh value in L1 or the shared store and started a load (or, with no loader, found nothing). */
  misses: number
  /** Look-ups that joined a load of the same key already running in this process instead of starting one. */
  flightWaits: number
  /** Loader calls (one per key per flight; `getMany` counts one per call). */
  loads: number
  /** Stale or resurrected values served. */
  staleServed: number
  /** Of `staleServed`, values re-armed after a failed load (`resurrectTtl`). */
  resurrected: number
  /** Background refreshes started. */
  refreshes: number
  /** Loader failures (thrown, rejected or timed out). */
  loaderErrors: number
  /** Shared store failures (thrown, timed out, undecodable). */
  storeErrors: number
  /** `storeErrors` by kind. */
  storeErrorsByKind: Record<StoreFailureKind, number>
  /** Waits for another process's load of a key (its distributed lock). */
  lockWaits: number
  /** Invalidations this cache published to the bus. */
  busPublished: number
  /** Invalidations received from the bus (each key list or purge counts one). */
  busReceived: number
  /** Times the bus told this cache it was disconnected. */
  busDisconnects: number
  /** Entries now in L1. */
  l1Size: number
}

/** What a {@link Stats} reports to. */
export interface StatsOptions {
  readonly events: EventEmitter<TierCacheEvents>
  /** The cache's name, carried by every error event and log line. */
  readonly cache: string
  readonly logger: TierCacheLogger | undefined
}

/**
 * The counters of one cache and the events that go with them: each outcome
 * counts, and emits only when someone listens, so nothing is built on a hit
 * nobody watches. Failures also go to the logger, when there is one.
 */
export class Stats {
  #gets = 0
  #l1Hits = 0
  #l2Hits = 0
  #misses = 0
  #flightWaits = 0
  #loads = 0
  #staleServed = 0
  #resurrected = 0
  #refreshes = 0
  #loaderErrors = 0
  #storeErrors = 0
  readonly #storeErrorsByKind = Object.fromEntries(STORE_FAILURE_KINDS.map((kind) => [kind, 0])) as Record<
    StoreFailureKind,
    number
  >
  #lockWaits = 0
  #busPublished = 0
  #busReceived = 0
  #busDisconnects = 0
  readonly #events: EventEmitter<TierCacheEvents>
  readonly #cache: string
  readonly #logger: TierCacheLogger | undefined

  constructor(options: StatsOptions) {
    this.#events = options.events
    this.#cache = options.cache
    this.#logger = options.logger
  }

  /** `count` look-ups began (a get, or the keys of a getMany). */
  gets(count: number): void {
    this.#gets += count
  }

  /** A look-up joined a load of its key already running in this process. */
  flightWait(): void {
    this.#flightWaits++
  }

  /** A load waits for another process's load of the same key. */
  lockWait(): void {
    this.#lockWaits++
  }

  /** An invalidation went out on the bus. */
  busPublished(): void {
    this.#busPublished++
  }

  /** An invalidation came in from the bus. */
  busReceived(): void {
    this.#busReceived++
  }

  /** The bus lost its connection: L1 trust is bounded until it is back. */
  busDisconnected(maxStalenessMs: number): void {
    this.#busDisconnects++
    this.#logger?.warn(
      { cache: this.#cache, maxStalenessMs },
      'tiercache: invalidation bus disconnected; L1 entries older than maxStalenessMs are not served',
    )
  }

  /** The bus is back: L1 was dropped. */
  busReconnected(): void {
    this.#logger?.debug?.({ cache: this.#cache }, 'tiercache: invalidation bus reconnected; L1 dropped')
  }

  /** A get answered on the hot path: one look-up and one L1 hit (two counters and a listener check). */
  l1Hit(key: string): void {
    this.#gets++
    this.#l1Hits++
    if (this.#events.listenerCount('hit') > 0) this.#events.emit('hit', key, 1)
  }

  /** An L1 entry served as fresh by a look-up already counted: a hit, or a resurrected value (reported as stale). */
  l1(key: string, entry: Entry<unknown>): void {
    if (entry.resurrected) {
      this.stale(key, 'resurrected')
      return
    }
    this.#l1Hits++
    if (this.#events.listenerCount('hit') > 0) this.#events.emit('hit', key, 1)
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
    if (reason === 'resurrected') this.#resurrected++
    if (this.#events.listenerCount('stale') > 0) this.#events.emit('stale', key, reason)
  }

  /** A background refresh started. */
  refresh(key: string): void {
    this.#refreshes++
    if (this.#events.listenerCount('refresh') > 0) this.#events.emit('refresh', key)
    this.#logger?.debug?.({ cache: this.#cache, key }, 'tiercache: background refresh started')
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
    this.#storeErrorsByKind[storeFailureKind(error)]++
    this.error(error, key)
  }

  /** A failure that is not counted (a refresh that went wrong, a publish that failed). */
  error(error: unknown, key: string | undefined): void {
    if (this.#logger !== undefined) this.#log(error, key)
    this.#events.emit('error', error as TierCacheError, key, this.#cache)
  }

  #log(error: unknown, key: string | undefined): void {
    const obj = { cache: this.#cache, key, err: error }
    if (error instanceof LoaderError || error instanceof TimeoutError) {
      this.#logger!.error(obj, 'tiercache: load failed')
      return
    }
    const operation = error instanceof StoreError ? error.operation : undefined
    const kind = storeFailureKind(error)
    this.#logger!.warn(
      { ...obj, operation, kind },
      operation === 'publish'
        ? 'tiercache: publishing an invalidation failed'
        : 'tiercache: shared store failed; served from the next level',
    )
  }

  /** The counters now, with the size of L1. */
  snapshot(l1Size: number): TierCacheStats {
    return {
      gets: this.#gets,
      hitRatio: this.#gets === 0 ? 0 : (this.#gets - this.#misses) / this.#gets,
      l1Hits: this.#l1Hits,
      l2Hits: this.#l2Hits,
      misses: this.#misses,
      flightWaits: this.#flightWaits,
      loads: this.#loads,
      staleServed: this.#staleServed,
      resurrected: this.#resurrected,
      refreshes: this.#refreshes,
      loaderErrors: this.#loaderErrors,
      storeErrors: this.#storeErrors,
      storeErrorsByKind: { ...this.#storeErrorsByKind },
      lockWaits: this.#lockWaits,
      busPublished: this.#busPublished,
      busReceived: this.#busReceived,
      busDisconnects: this.#busDisconnects,
      l1Size,
    }
  }
}
