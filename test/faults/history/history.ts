/**
 * A history: what every node of a run did, as seen from outside the cache.
 * Times are ms on one clock shared by the processes of a host
 * (`hostNow()`, CLOCK_MONOTONIC: see host-clock.ts).
 *
 * Values are unique strings, so the checker knows which write produced a value
 * a read returned: `S|<node>|<n>` for a `set`, `L|<node>|<n>` for a loader call.
 */

/** What a node asked its cache to do. `purge` has no key: it concerns every key. */
export type OperationKind = 'get' | 'set' | 'delete' | 'purge'

/** One call of a node on its cache, from invoke to completion. */
export interface Operation {
  readonly id: string
  readonly node: string
  readonly kind: OperationKind
  /** Absent for `purge`. */
  readonly key?: string
  /** For `set`: the value written. For a `get` that resolved: the value seen (`undefined` for a miss). */
  readonly value?: string
  readonly invoke: number
  /** `Infinity` when the call never completed (its node was killed, or the run ended first). */
  readonly complete: number
  /** True when the call resolved, false when it rejected, undefined when it never completed. */
  readonly ok?: boolean
  /** For a `get` that resolved: where the value came from (1 L1, 2 store, 3 loader, 4 stale). */
  readonly hitLevel?: number
  readonly error?: string
}

/** One loader call on one node: the loader's value becomes a candidate for every later read. */
export interface LoadCall {
  readonly node: string
  readonly key: string
  readonly value: string
  /** When the loader was called. */
  readonly start: number
  /**
   * When the node sent the last store read of the key that completed before
   * the loader call: the read the load decided on. A write that completed
   * after it was sent may have run after it in the store, so the load could
   * not see it. Absent when unknown (then `start` stands for it).
   */
  readonly decidedAt?: number
  /** When it resolved its value (`Infinity` if it never did). */
  readonly end: number
}

/** A span of time, e.g. a fault from its start to its heal. */
export interface Span {
  readonly from: number
  readonly to: number
}

/** Everything the checker needs about one run. */
export interface History {
  readonly operations: readonly Operation[]
  readonly loads: readonly LoadCall[]
  /** The documented bound: a `get` starting later than this after a write resolved returns it or newer. */
  readonly maxStalenessMs: number
  /** Fresh time of every value written in the run (no per-call ttl). */
  readonly ttlMs: number
  /**
   * When the store was not healthy (a fault and the time it may take to heal).
   * Guarantee (4), one loader call per key per expiry, holds only outside.
   */
  readonly unhealthy: readonly Span[]
  /** When the fault was healed, to measure time to recover. Absent without a fault. */
  readonly healedAt?: number
  /**
   * Guarantee (4)'s bound on a call: `lockWait` + one `lockLease` (a caller
   * waits at most `lockWait` for a lock, and a lock nobody uses frees itself
   * within one lease). A call that took longer is a violation. Absent: not checked.
   */
  readonly maxCallMs?: number
}
