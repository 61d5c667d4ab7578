/**
 * Error classes. Each carries a stable `code`; `instanceof` keeps working when
 * two copies of a package are loaded (two installed versions, or the ESM and
 * the CommonJS build in one process), because the check goes through a
 * `Symbol.for` brand that every copy shares rather than the class identity.
 */

/**
 * The static property under which an error class holds its brand, a
 * `Symbol.for` symbol of its own. Every instance carries the brands of its
 * class and of each branded ancestor, and `instanceof` tests the brand.
 * A subclass that declares no brand of its own is checked by class identity.
 *
 * @example
 * class QuotaError extends TierCacheError {
 *   static readonly [errorBrand] = Symbol.for('my-app.QuotaError')
 * }
 */
export const errorBrand = Symbol.for('tiercache.errorBrand')

type Branded = { readonly [errorBrand]?: symbol }

/** Base class of every error tiercache throws or emits. */
export class TierCacheError extends Error {
  // The brand 0.1.0 already gave every instance, kept so copies of both versions agree.
  static readonly [errorBrand]: symbol = Symbol.for('tiercache.error')

  /** A stable, machine-readable code such as `TIERCACHE_LOADER`. */
  readonly code: string

  constructor(message: string, code = 'TIERCACHE_ERROR', options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TierCacheError'
    this.code = code
    for (let c: object | null = new.target; c !== null && c !== Error; c = Object.getPrototypeOf(c)) {
      const brand = Object.hasOwn(c, errorBrand) ? (c as Branded)[errorBrand] : undefined
      if (brand !== undefined) Object.defineProperty(this, brand, { value: true })
    }
  }

  static override [Symbol.hasInstance](instance: unknown): boolean {
    if (!Object.hasOwn(this, errorBrand)) return Function.prototype[Symbol.hasInstance].call(this, instance)
    const brand = (this as Branded)[errorBrand] as symbol
    return typeof instance === 'object' && instance !== null && brand in instance
  }
}

/** The loader threw or rejected; `cause` holds what it threw. Every waiter of the load gets it. */
export class LoaderError extends TierCacheError {
  static override readonly [errorBrand]: symbol = Symbol.for('tiercache.core.LoaderError')
  /** The key whose load failed. */
  readonly key: string
  constructor(key: string, cause: unknown) {
    super(`loader failed for key "${key}": ${messageOf(cause)}`, 'TIERCACHE_LOADER', { cause })
    this.name = 'LoaderError'
    this.key = key
  }
}

/** The loader did not settle before the hard timeout. */
export class TimeoutError extends TierCacheError {
  static override readonly [errorBrand]: symbol = Symbol.for('tiercache.core.TimeoutError')
  /** The key whose load timed out. */
  readonly key: string
  /** The timeout that elapsed, in ms. */
  readonly timeoutMs: number
  constructor(key: string, timeoutMs: number) {
    super(`loader for key "${key}" did not settle within ${timeoutMs} ms`, 'TIERCACHE_TIMEOUT')
    this.name = 'TimeoutError'
    this.key = key
    this.timeoutMs = timeoutMs
  }
}

/** A shared store or invalidation bus failed; emitted as an `error` event, the caller is served from the next level. */
export class StoreError extends TierCacheError {
  static override readonly [errorBrand]: symbol = Symbol.for('tiercache.core.StoreError')
  /** What was being done: `get`, `set`, `lock`, ... */
  readonly operation: string
  constructor(operation: string, cause: unknown, message?: string) {
    super(message ?? `shared store ${operation} failed: ${messageOf(cause)}`, 'TIERCACHE_STORE', { cause })
    this.name = 'StoreError'
    this.operation = operation
  }
}

/** Bytes in the shared store could not be decoded; read as a miss. */
export class DecodeError extends TierCacheError {
  static override readonly [errorBrand]: symbol = Symbol.for('tiercache.core.DecodeError')
  /** The key whose bytes were unreadable. */
  readonly key: string
  constructor(key: string, cause: unknown) {
    super(`could not decode the stored value of "${key}": ${messageOf(cause)}`, 'TIERCACHE_DECODE', { cause })
    this.name = 'DecodeError'
    this.key = key
  }
}

function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause)
}

/**
 * Why a store call failed, one word each (a store counts its failures by kind):
 * - `timeout`: no answer in time (a write may still land).
 * - `circuit-open`: refused without trying, after repeated connectivity failures.
 * - `connection`: not connected (refused before sending), or the connection was lost with the call in flight.
 * - `server`: the store answered with an error.
 * - `decode`: bytes under a key are not a record.
 * - `too-large`: a value over the store's size limit (refused, or read as a miss).
 * - `contention`: the namespace was purged again on every attempt.
 */
export type StoreErrorKind =
  | 'timeout'
  | 'circuit-open'
  | 'connection'
  | 'server'
  | 'decode'
  | 'too-large'
  | 'contention'

/**
 * What is known of a failed call's effect: `unknown` (it may have been applied,
 * now or later: a time-out, a connection lost in flight) or `not-applied` (it
 * was never sent, or the store refused it as a whole).
 */
export type StoreOutcome = 'unknown' | 'not-applied'

/**
 * A store call failed, with its kind and what is known of its effect. A cache
 * whose `set`/`delete`/`purge` meets one must reject: with `unknown` the value
 * in the store cannot be known; with `not-applied` it is the old one.
 */
export class StoreCallError extends StoreError {
  static override readonly [errorBrand]: symbol = Symbol.for('tiercache.core.StoreCallError')
  /** Why it failed. */
  readonly kind: StoreErrorKind
  /** Whether the call may have had its effect. */
  readonly outcome: StoreOutcome
  /** The namespace, when the failure concerns one (an oversized or unreadable record). */
  readonly namespace?: string
  /** The key, when the failure concerns one. */
  readonly key?: string
  constructor(details: {
    operation: string
    kind: StoreErrorKind
    outcome: StoreOutcome
    cause?: unknown
    message?: string
    namespace?: string
    key?: string
  }) {
    const { operation, kind, outcome, cause } = details
    super(
      operation,
      cause,
      details.message ?? `shared store ${operation} failed (${kind}, outcome ${outcome}): ${messageOf(cause)}`,
    )
    this.name = 'StoreCallError'
    this.kind = kind
    this.outcome = outcome
    if (details.namespace !== undefined) this.namespace = details.namespace
    if (details.key !== undefined) this.key = details.key
  }
}

/**
 * What `cache.stats().storeErrorsByKind` counts: a store's {@link StoreErrorKind}s,
 * plus the cache's own `encode` (a value its codec could not write; it stays in
 * L1 only) and `other` (a failure that says no kind, e.g. from a store that
 * throws plain errors).
 */
export type StoreFailureKind = StoreErrorKind | 'encode' | 'other'

/** Every {@link StoreFailureKind}, in one place. */
export const STORE_FAILURE_KINDS: readonly StoreFailureKind[] = [
  'timeout',
  'circuit-open',
  'connection',
  'server',
  'decode',
  'too-large',
  'contention',
  'encode',
  'other',
]

/** The kind of a failure the store or the cache reported. */
export function storeFailureKind(error: unknown): StoreFailureKind {
  if (error instanceof StoreCallError) return error.kind
  if (error instanceof DecodeError) return 'decode'
  if (error instanceof StoreError && error.operation === 'encode') return 'encode'
  return 'other'
}
