/**
 * Where a cache writes what goes wrong: pino's shape, `(obj, msg)`, so a pino
 * or bunyan logger (or a child of one) can be passed as is. `obj` holds
 * `cache`, and `key` and `err` when there are some.
 *
 * @example
 * new TierCache({ name: 'users', logger: pino().child({ component: 'cache' }) })
 */
export interface TierCacheLogger {
  /** Something failed and the cache went on without it (a store failure, a lost bus). */
  warn(obj: object, msg: string): void
  /** A load failed: its callers got the error, or a stale value if one was kept. */
  error(obj: object, msg: string): void
  /** Routine events worth tracing when debugging: a background refresh, a bus reconnection. */
  debug?(obj: object, msg: string): void
}
