import type { Clock } from './clock.js'
import type { Duration } from './duration.js'
import { parseDuration } from './duration.js'
import { checkFraction, checkOptionNames, describe } from './validate.js'

/**
 * How long a key waits before its loader is tried again after failing while a
 * stale or resurrected value is served: `initial` after the first failure,
 * then `factor` times longer after each further consecutive failure, up to
 * `max`, each grown wait spread by ±`jitter` so a fleet's retries do not line up.
 * A success starts the key over.
 *
 * @example
 * new TierCache({ staleTtl: '1h', refreshBackoff: { initial: '1s', max: '1m', factor: 2, jitter: 0.2 } })
 * // retries after 1 s, ~2 s, ~4 s, ~8 s … ~1 min, ~1 min …
 */
export interface RefreshBackoffOptions {
  /** The wait after the first failure. @default '1s' */
  initial?: Duration
  /** The longest wait. @default '1m' */
  max?: Duration
  /** How much longer each further consecutive failure waits, `>= 1` (`1`: a fixed delay). @default 2 */
  factor?: number
  /** Spread of each grown wait, a fraction `0 <= jitter < 1` (`0.2`: ±20 %). @default 0.2 */
  jitter?: number
}

/** {@link RefreshBackoffOptions} parsed: times in ms. */
export interface BackoffPolicy {
  readonly initialMs: number
  readonly maxMs: number
  readonly factor: number
  readonly jitter: number
}

/** The defaults of `refreshBackoff`. */
export const BACKOFF_DEFAULTS: BackoffPolicy = Object.freeze({
  initialMs: 1_000,
  maxMs: 60_000,
  factor: 2,
  jitter: 0.2,
})

const BACKOFF_OPTION_NAMES = ['initial', 'max', 'factor', 'jitter'] as const

/**
 * The backoff a cache runs with: `refreshBackoff`, or the fixed delay of the
 * older `refreshRetryDelay` (exactly what it did: factor 1, no jitter).
 * Throws a `TypeError` naming the bad option; both at once is one.
 */
export function backoffPolicy(backoff: unknown, retryDelayMs: number | undefined): BackoffPolicy {
  if (backoff !== undefined && retryDelayMs !== undefined) {
    throw new TypeError(
      'options.refreshRetryDelay and options.refreshBackoff cannot both be set: refreshRetryDelay: N is refreshBackoff: { initial: N, factor: 1 }',
    )
  }
  if (retryDelayMs !== undefined) return { initialMs: retryDelayMs, maxMs: retryDelayMs, factor: 1, jitter: 0 }
  if (backoff === undefined) return BACKOFF_DEFAULTS
  if (typeof backoff !== 'object' || backoff === null || Array.isArray(backoff)) {
    throw new TypeError(
      `options.refreshBackoff must be an object { initial, max, factor, jitter }, got ${describe(backoff)}`,
    )
  }
  checkOptionNames(backoff, BACKOFF_OPTION_NAMES, 'options.refreshBackoff')
  const o = backoff as RefreshBackoffOptions
  const initialMs =
    o.initial === undefined ? BACKOFF_DEFAULTS.initialMs : parseDuration(o.initial, 'options.refreshBackoff.initial')
  const maxMs =
    o.max === undefined
      ? Math.max(initialMs, BACKOFF_DEFAULTS.maxMs)
      : parseDuration(o.max, 'options.refreshBackoff.max')
  if (maxMs < initialMs) {
    throw new TypeError(`options.refreshBackoff.max must be >= initial (${initialMs} ms), got ${maxMs} ms`)
  }
  const factor = o.factor ?? BACKOFF_DEFAULTS.factor
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1) {
    throw new TypeError(`options.refreshBackoff.factor must be a finite number >= 1, got ${describe(factor)}`)
  }
  checkFraction(o.jitter, 'options.refreshBackoff.jitter')
  return { initialMs, maxMs, factor, jitter: o.jitter ?? BACKOFF_DEFAULTS.jitter }
}

/** One key's failures in a row and when it may be tried again. */
interface Failing {
  readonly failures: number
  readonly failedAt: number
  readonly retryAt: number
  /** After this, a new failure starts over at `initial` (a key that failed long ago is not still "failing"). */
  readonly forgetAt: number
}

/** Most keys with backoff state; past it the key that failed longest ago is forgotten first. */
export const BACKOFF_MAX_KEYS = 100_000

/**
 * The per-key backoff state. Bounded by time: each failure moves its key to the
 * back of the map, so the keys are in order of their last failure, and drops
 * the ones at the front whose state has expired. The map holds at most the keys
 * that failed within `max × (1 + jitter) + max` (with a fixed delay: within one
 * delay), however many keys ever failed. And by a count (`maxKeys`), for an
 * outage of more distinct keys than that within the window: a key forgotten
 * early is only tried again sooner, as if it had not failed.
 */
export class Backoff {
  readonly #policy: BackoffPolicy
  readonly #clock: Clock
  readonly #random: () => number
  readonly #maxKeys: number
  readonly #keys = new Map<string, Failing>()

  constructor(policy: BackoffPolicy, clock: Clock, random: () => number, maxKeys = BACKOFF_MAX_KEYS) {
    this.#policy = policy
    this.#clock = clock
    this.#random = random
    this.#maxKeys = maxKeys
  }

  /**
   * `key`'s loader failed again: the wait before its next attempt, from
   * `firstMs` (the policy's `initial` unless given, e.g. `resurrectTtl`) grown
   * by the failures in a row. Records when that attempt may start.
   */
  failed(key: string, firstMs = this.#policy.initialMs): number {
    const now = this.#clock.now()
    for (const [held, state] of this.#keys) {
      if (state.forgetAt > now) break
      this.#keys.delete(held)
    }
    const { maxMs, factor, jitter } = this.#policy
    const before = this.#keys.get(key)
    const failures = before !== undefined && now < before.forgetAt ? before.failures + 1 : 1
    let waitMs = firstMs
    if (failures > 1) {
      const grown = Math.min(Math.max(maxMs, firstMs), firstMs * factor ** (failures - 1))
      waitMs = Math.min(Math.max(maxMs, firstMs), grown * (1 + jitter * (2 * this.#random() - 1)))
    }
    const retryAt = now + waitMs
    this.#keys.delete(key)
    this.#keys.set(key, { failures, failedAt: now, retryAt, forgetAt: factor > 1 ? retryAt + maxMs : retryAt })
    if (this.#keys.size > this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value!)
    return waitMs
  }

  /** True while `key` must not be tried again. */
  waiting(key: string): boolean {
    const state = this.#keys.get(key)
    return state !== undefined && this.#clock.now() < state.retryAt
  }

  /** `key` loaded: the next failure starts over. */
  forget(key: string): void {
    this.#keys.delete(key)
  }

  forgetAll(): void {
    this.#keys.clear()
  }

  /** Keys with backoff state (for tests of the bound). */
  get size(): number {
    return this.#keys.size
  }
}
