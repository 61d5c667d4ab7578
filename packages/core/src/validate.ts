import { describe } from './describe.js'
import { parseDuration } from './duration.js'
import type { TierCacheLogger } from './logger.js'
import { GET_OPTION_NAMES, type GetOptions, type TierCacheOptions } from './options.js'

export { describe }

/** The options and loader-context fields that hold a duration (a number of ms or a string such as `'5m'`). */
export const DURATION_OPTION_NAMES = [
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

/** The duration fields of `T`, as numbers of milliseconds. */
export type WithMs<T> = {
  [K in keyof T]: K extends (typeof DURATION_OPTION_NAMES)[number] ? Exclude<T[K], string> : T[K]
}

/**
 * `options` with every duration parsed to ms (`'5m'` → `300_000`); throws a
 * `TypeError` naming the option when one is not a duration. Returns `options`
 * itself when every duration is already a number, so the common case copies nothing.
 */
export function parseDurations<T extends object>(options: T | undefined, where: string): WithMs<T> | undefined {
  if (options === undefined) return undefined
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${where} must be an object, got ${describe(options)}`)
  }
  const record = options as Record<string, unknown>
  let parsed: Record<string, unknown> | undefined
  for (const name of DURATION_OPTION_NAMES) {
    const value = record[name]
    if (value === undefined) continue
    const ms = parseDuration(value, `${where}.${name}`)
    if (ms !== value) {
      parsed ??= { ...record }
      parsed[name] = ms
    }
  }
  // A lease of 0 would make every lock expire as it is taken: no fleet-wide single flight at all.
  if ((parsed ?? record).lockLease === 0) throw new TypeError(`${where}.lockLease must be > 0 ms, got 0`)
  return (parsed ?? options) as WithMs<T>
}

/** Throws a `TypeError` naming the option when a duration is not a number of ms >= 0 or a duration string. */
export function checkDurations(options: object | undefined, where: string): void {
  parseDurations(options, where)
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
export function splitArgs<L>(
  a: GetOptions | L | undefined,
  b: L | undefined,
  names: readonly string[] = GET_OPTION_NAMES,
): [WithMs<GetOptions> | undefined, L | undefined] {
  const [given, loader] = typeof a === 'function' ? [undefined, a as L] : [a as GetOptions | undefined, b]
  const options = parseDurations(given, 'options')
  checkOptionNames(options, names, 'options')
  const signal = options?.signal
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`options.signal must be an AbortSignal, got ${describe(signal)}`)
  }
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

/** Throws a `TypeError` naming `name` unless `value` is a finite number with `0 <= value < 1`. */
export function checkFraction(value: unknown, name: string): asserts value is number | undefined {
  if (value === undefined) return
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value >= 1) {
    throw new TypeError(`${name} must be a number >= 0 and < 1, got ${describe(value)}`)
  }
}
