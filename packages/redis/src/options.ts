import { checkOptionNames, type Duration, optionNames, parseDuration } from '@tiercache/core'
import type { Cluster, Redis, RedisOptions } from 'ioredis'

/**
 * Options of `RedisStore`. Give either `client` or `url`.
 *
 * AUTH, TLS and the database index are ioredis's business: set them on the
 * client you pass (`new Redis({ password, username, tls, db })`), or in the
 * url (`rediss://user:pass@host:6380/2`) plus `redis` for anything else.
 *
 * @example
 * new RedisStore({ client: new Redis({ host: '10.0.0.5', password: 's3cret', db: 2 }) })
 * new RedisStore({ url: 'rediss://default:s3cret@cache.internal:6380/0', redis: { tls: { ca } } })
 * new RedisStore({ client: new Redis.Cluster([{ host: '10.0.0.5', port: 7000 }]) })
 */
export interface RedisStoreOptions {
  /**
   * An ioredis `Redis` or `Cluster`. The store registers its Lua scripts on it
   * and never closes it: the caller owns it. Not one created with
   * `stringNumbers: true` (a `TypeError`): the store reads numbers from its replies.
   */
  client?: Redis | Cluster
  /** A `redis://` or `rediss://` url; the store makes and owns the client (closed by `close()`). */
  url?: string
  /** More ioredis options for the client made from `url` (TLS certificates, timeouts...). */
  redis?: RedisOptions
  /**
   * Prepended to every key and to the release channel, to share a Redis with
   * other applications. Must not contain `{` or `}` (they would break the
   * Cluster hash tags).
   * @default 'tiercache:'
   */
  prefix?: string
  /**
   * Longest wait for any Redis call, in ms. A cache that waits longer for its
   * shared tier than for the origin is no cache.
   * @default 200
   */
  commandTimeoutMs?: Duration
  /**
   * Calls sent to Redis and not yet answered, at most; more wait their turn,
   * unsent, in order, and `commandTimeoutMs` counts from when each is sent.
   * So a burst of thousands of writes is not timed out (and refused by Redis
   * as late) while it sits in the client's own buffers. A waiting call is
   * refused unsent (`not-applied`) if the circuit opens meanwhile.
   * @default 256
   */
  maxInFlight?: number
  /**
   * Consecutive failed calls (timeouts, connection errors) that open the
   * circuit breaker; while open, calls fail at once with a `StoreError`.
   * @default 3
   */
  failureThreshold?: number
  /**
   * How long the circuit stays open before one probe call is let through, in ms.
   * @default 1000
   */
  breakerOpenMs?: Duration
  /**
   * How long a version stays usable for a conditional write (a load's or a
   * refresh's), and how long a delete's tombstone is kept, in ms. A load that
   * read more than this ago cannot write its value to Redis (the caller still
   * gets it); a delete costs a ~60-byte key for this long, and so does a write
   * whose record is kept less than this (its version outlives the record, so a
   * load that read before it stays refused after it expired). Keep it longer
   * than your slowest loader.
   * @default 60_000
   */
  fenceMs?: Duration
  /**
   * Largest value (encoded, in bytes) the store writes or reads. A larger
   * write rejects with a `StoreCallError` of kind `too-large`; a larger value
   * already in Redis reads as a miss, reported on the `error` event, and
   * crosses the wire at most once per process (then the key is remembered
   * and read by a script that stops at the limit). One huge value must not
   * time out and open the circuit for every key.
   * @default 8 MiB
   */
  maxValueBytes?: number
  /**
   * Cluster only. The namespace generation lives in another slot than the
   * values, so reads check it with a parallel GET. With `generationTrustMs > 0`
   * a checked generation is reused without checking for that long: fewer
   * calls to the node holding it, but a purge by another process may go
   * unseen for up to that many ms. (Standalone always checks, inside the read
   * script, at no cost.)
   * @default 0
   */
  generationTrustMs?: Duration
  /**
   * First delay between two checks of a lock key while waiting for its
   * release, in ms; it doubles up to `maxRecheckMs`. The release message
   * normally wakes waiters long before.
   * @default 25
   */
  minRecheckMs?: Duration
  /**
   * Longest delay between two checks of a lock key while waiting, in ms.
   * @default 500
   */
  maxRecheckMs?: Duration
}

/** The defaults of `RedisStoreOptions`. */
export const DEFAULTS = {
  prefix: 'tiercache:',
  commandTimeoutMs: 200,
  maxInFlight: 256,
  failureThreshold: 3,
  breakerOpenMs: 1000,
  generationTrustMs: 0,
  fenceMs: 60_000,
  maxValueBytes: 8 * 1024 * 1024,
  minRecheckMs: 25,
  maxRecheckMs: 500,
} as const

const OPTION_NAMES = optionNames<RedisStoreOptions>({
  client: true,
  url: true,
  redis: true,
  prefix: true,
  commandTimeoutMs: true,
  maxInFlight: true,
  failureThreshold: true,
  breakerOpenMs: true,
  fenceMs: true,
  maxValueBytes: true,
  generationTrustMs: true,
  minRecheckMs: true,
  maxRecheckMs: true,
})

/** Options after defaults and checks. */
export type ResolvedOptions = {
  [K in keyof Omit<RedisStoreOptions, 'client' | 'url' | 'redis'>]-?: K extends 'prefix'
    ? string
    : Exclude<RedisStoreOptions[K], string | undefined>
}

/** Apply defaults; throw `TypeError` naming the first bad option. */
export function resolveOptions(options: RedisStoreOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  checkOptionNames(options, OPTION_NAMES, 'options')
  if ((options.client === undefined) === (options.url === undefined)) {
    throw new TypeError('options must have exactly one of client or url')
  }
  if (options.url !== undefined && typeof options.url !== 'string') throw new TypeError('options.url must be a string')
  const resolved = { ...DEFAULTS, ...definedOnly(options) } as RedisStoreOptions & typeof DEFAULTS
  if (typeof resolved.prefix !== 'string' || /[{}]/.test(resolved.prefix)) {
    throw new TypeError('options.prefix must be a string without "{" or "}"')
  }
  positive(resolved.failureThreshold, 'failureThreshold')
  positive(resolved.maxValueBytes, 'maxValueBytes')
  if (!Number.isInteger(resolved.maxInFlight) || resolved.maxInFlight < 1) {
    throw new TypeError(`options.maxInFlight must be an integer >= 1, got ${String(resolved.maxInFlight)}`)
  }
  const minRecheckMs = positiveDuration(resolved.minRecheckMs, 'minRecheckMs')
  const maxRecheckMs = positiveDuration(resolved.maxRecheckMs, 'maxRecheckMs')
  if (maxRecheckMs < minRecheckMs) throw new TypeError('options.maxRecheckMs must be >= minRecheckMs')
  return {
    prefix: resolved.prefix,
    commandTimeoutMs: positiveDuration(resolved.commandTimeoutMs, 'commandTimeoutMs'),
    maxInFlight: resolved.maxInFlight,
    failureThreshold: resolved.failureThreshold,
    breakerOpenMs: positiveDuration(resolved.breakerOpenMs, 'breakerOpenMs'),
    generationTrustMs: parseDuration(resolved.generationTrustMs, 'options.generationTrustMs'),
    // Whole ms: Redis takes it as a PX, and refused a fractional one in the write script after the
    // record's own SET (a record kept less than the fence writes its version key with PX fenceMs):
    // every such write landed and was reported not applied.
    fenceMs: Math.ceil(positiveDuration(resolved.fenceMs, 'fenceMs')),
    maxValueBytes: resolved.maxValueBytes,
    minRecheckMs,
    maxRecheckMs,
  }
}

function positive(value: number, name: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`options.${name} must be a finite number > 0, got ${String(value)}`)
  }
}

/** A duration option (ms or `'200ms'`, `'1s'`...) that must be > 0, in ms. */
function positiveDuration(value: unknown, name: string): number {
  const ms = parseDuration(value, `options.${name}`)
  if (ms === 0) throw new TypeError(`options.${name} must be > 0, got 0`)
  return ms
}

function definedOnly(options: RedisStoreOptions): Partial<RedisStoreOptions> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined))
}
