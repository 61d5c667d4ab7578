import { DecodeError, errorBrand, TierCacheError } from '@tiercache/core'

/**
 * Why a Redis call was refused or abandoned. These travel as the `cause` of the
 * core's `StoreError` (what the core understands); their `code` tells them apart.
 */

/** The circuit breaker is open: Redis failed repeatedly, so the call was refused without trying. */
export class CircuitOpenError extends TierCacheError {
  static override readonly [errorBrand]: symbol = Symbol.for('tiercache.redis.CircuitOpenError')
  constructor() {
    super('Redis circuit breaker is open after repeated failures', 'TIERCACHE_REDIS_CIRCUIT_OPEN')
    this.name = 'CircuitOpenError'
  }
}

/** The client is not connected (reconnecting or closed), so the call was refused instead of queued. */
export class NotConnectedError extends TierCacheError {
  static override readonly [errorBrand]: symbol = Symbol.for('tiercache.redis.NotConnectedError')
  /** The ioredis client status at the time, e.g. `reconnecting`. */
  readonly status: string
  constructor(status: string) {
    super(`Redis client is not connected (status "${status}")`, 'TIERCACHE_REDIS_NOT_CONNECTED')
    this.name = 'NotConnectedError'
    this.status = status
  }
}

/** Redis did not answer within the command timeout. */
export class CommandTimeoutError extends TierCacheError {
  static override readonly [errorBrand]: symbol = Symbol.for('tiercache.redis.CommandTimeoutError')
  /** The timeout that elapsed, in ms. */
  readonly timeoutMs: number
  constructor(timeoutMs: number) {
    super(`Redis did not answer within ${timeoutMs} ms`, 'TIERCACHE_REDIS_TIMEOUT')
    this.name = 'CommandTimeoutError'
    this.timeoutMs = timeoutMs
  }
}

/**
 * Redis received the call after its deadline (it sat in ioredis's offline
 * queue, or in the socket of a server that was frozen) and refused to run it:
 * nothing was written.
 */
export class LateCommandError extends TierCacheError {
  static override readonly [errorBrand]: symbol = Symbol.for('tiercache.redis.LateCommandError')
  constructor() {
    super('Redis received the call after its deadline and did not run it', 'TIERCACHE_REDIS_LATE')
    this.name = 'LateCommandError'
  }
}

/** A value over `maxValueBytes`: refused on write, read as a miss. */
export class ValueTooLargeError extends TierCacheError {
  static override readonly [errorBrand]: symbol = Symbol.for('tiercache.redis.ValueTooLargeError')
  /** Size of the value in bytes. */
  readonly bytes: number
  /** The limit, `maxValueBytes`. */
  readonly maxBytes: number
  constructor(bytes: number, maxBytes: number) {
    super(`a value of ${bytes} bytes is over the store's maxValueBytes (${maxBytes})`, 'TIERCACHE_REDIS_TOO_LARGE')
    this.name = 'ValueTooLargeError'
    this.bytes = bytes
    this.maxBytes = maxBytes
  }
}

/** The store found Redis configured to evict keys: fenced writes and tombstones may then be evicted too. */
export class EvictionPolicyWarning extends TierCacheError {
  static override readonly [errorBrand]: symbol = Symbol.for('tiercache.redis.EvictionPolicyWarning')
  /** The `maxmemory-policy` found, e.g. `allkeys-lru`. */
  readonly policy: string
  /** The node it was found on (`host:port`). */
  readonly node: string
  constructor(policy: string, node: string) {
    super(
      `Redis ${node} has maxmemory-policy ${policy}: it may evict tiercache's versions and delete tombstones, so a load that read before a set or delete may write its older value back (docs/redis.md). Use noeviction for a Redis shared by caches that must stay coherent.`,
      'TIERCACHE_REDIS_EVICTING',
    )
    this.name = 'EvictionPolicyWarning'
    this.policy = policy
    this.node = node
  }
}

/**
 * Bytes under a cache key are not a RedisStore record (written by hand or by
 * another program, or a key of another type): read as a miss. A `DecodeError`
 * that also names the namespace, since one store serves many caches.
 */
export class MalformedRecordError extends DecodeError {
  static override readonly [errorBrand]: symbol = Symbol.for('tiercache.redis.MalformedRecordError')
  /** The namespace (cache name) of the key. */
  readonly namespace: string
  constructor(namespace: string, key: string, problem: string) {
    super(key, new Error(`not a tiercache record: ${problem}`))
    this.name = 'MalformedRecordError'
    this.namespace = namespace
  }
}
