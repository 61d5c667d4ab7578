import type { TierCacheLogger } from './logger.js'
import { GET_OPTION_NAMES, type GetOptions, type TierCacheOptions } from './options.js'

/** The options and loader-context fields that hold a duration in ms. */
const durationKeys = [
  'ttl',
  'negTtl',
  'staleTtl',
  'resurrectTtl',
  'lockWait',
  'lockLease',
  'softTimeout',
  'hardTimeout',
  'storeTimeout',
  'refreshRetryDelay',
] as const satisfies readonly (keyof TierCacheOptions<unknown>)[]

/** Throws a `TypeError` naming the option when a duration is not a finite number >= 0. */
export function checkDurations(options: object | undefined, where: string): void {
  if (options === undefined) return
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${where} must be an object, got ${describe(options)}`)
  }
  const record = options as Record<string, unknown>
  for (const name of durationKeys) {
    const value = record[name]
    if (value === undefined) continue
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new TypeError(`${where}.${name} must be a finite number of milliseconds >= 0, got ${describe(value)}`)
    }
  }
  // A lease of 0 would make every lock expire as it is taken: no fleet-wide single flight at all.
  if (record.lockLease === 0) throw new TypeError(`${where}.lockLease must be > 0 ms, got 0`)
}

/**
 * Throws a `TypeError` naming `key` when it is not a non-empty, well-formed
 * string. A lone UTF-16 surrogate (half an emoji) becomes U+FFFD on its way to
 * Redis and over IPC, so two different keys would name one record there.
 */
export function checkKey(key: unknown, name = 'key'): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(`${name} must be a non-empty string, got ${describe(key)}`)
  }
  if (!key.isWellFormed()) {
    throw new TypeError(`${name} must be well-formed UTF-16 (it holds a lone surrogate), got ${describe(key)}`)
  }
}

/**
 * Throws a `TypeError` naming the first own property of `value` that is not in
 * `valid`, and listing the valid names, so a misspelled option (`staleTTL`)
 * fails at once instead of being ignored. `undefined` passes; anything else
 * that is not an object is left to the caller's own type check.
 *
 * @example
 * checkOptionNames(options, ['ttl', 'negTtl'], 'options') // { tll: 5 } → TypeError: options.tll is not an option …
 */
export function checkOptionNames(value: unknown, valid: readonly string[], argName: string): void {
  if (typeof value !== 'object' || value === null) return
  for (const name in value) {
    if (!Object.hasOwn(value, name) || valid.includes(name)) continue
    throw new TypeError(`${argName}.${name} is not an option; valid options: ${valid.join(', ')}`)
  }
}

/** Throws a `TypeError` naming the argument when `keys` is not an array of non-empty strings. */
export function checkKeys(keys: unknown): asserts keys is readonly string[] {
  if (!Array.isArray(keys)) throw new TypeError(`keys must be an array of non-empty strings, got ${describe(keys)}`)
  for (const [i, key] of keys.entries()) checkKey(key, `keys[${i}]`)
}

/** `(options, loader)` or `(loader)`, validated: a TypeError names the bad argument. */
export function splitArgs<L>(a: GetOptions | L | undefined, b: L | undefined): [GetOptions | undefined, L | undefined] {
  const [options, loader] = typeof a === 'function' ? [undefined, a as L] : [a as GetOptions | undefined, b]
  checkDurations(options, 'options')
  checkOptionNames(options, GET_OPTION_NAMES, 'options')
  if (loader !== undefined && typeof loader !== 'function') {
    throw new TypeError(`loader must be a function, got ${describe(loader)}`)
  }
  return [options, loader]
}

/** Throws a `TypeError` naming `options.logger` unless it has `warn` and `error` functions (and `debug`, if any). */
export function checkLogger(logger: unknown): asserts logger is TierCacheLogger | undefined {
  if (logger === undefined) return
  const l = logger as Partial<Record<keyof TierCacheLogger, unknown>> | null
  if (
    typeof l !== 'object' ||
    l === null ||
    typeof l.warn !== 'function' ||
    typeof l.error !== 'function' ||
    (l.debug !== undefined && typeof l.debug !== 'function')
  ) {
    throw new TypeError(
      `options.logger must have warn(obj, msg) and error(obj, msg) functions, got ${describe(logger)}`,
    )
  }
}

/** A short description of a bad argument for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'function') return 'a function'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  return String(value)
}
