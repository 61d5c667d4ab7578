import type { CircuitState } from './store.js'

/** What `cache.health()` reports. */
export interface TierCacheHealth {
  /**
   * `ok` when the store answered and the bus (if any) is connected;
   * `degraded` otherwise: the cache still answers, from L1 and the loader.
   */
  readonly status: 'ok' | 'degraded'
  /** The cache's name. */
  readonly cache: string
  readonly store: {
    /** The store's name, e.g. `redis`. */
    readonly name: string
    /** The store answered the check. */
    readonly ok: boolean
    /** Its circuit breaker's state after the check, when it has one. */
    readonly circuit?: CircuitState
    /** How long the check took, in ms. */
    readonly latencyMs: number
    /** Why it is not ok. */
    readonly error?: string
  }
  /** The invalidation bus, when the cache has one. */
  readonly bus?: {
    /** False from a `disconnected` until its `reconnected`: L1 trust is bounded meanwhile. */
    readonly connected: boolean
  }
}
