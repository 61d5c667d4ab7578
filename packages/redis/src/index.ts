/**
 * `@tiercache/redis`: the Redis (and Redis Cluster) shared store for tiercache,
 * with a distributed lock so one process of the fleet refills a key.
 */
export type { CircuitState } from './circuit-breaker.js'
export type { ErrorCounts } from './command-guard.js'
export { FOREVER_MS } from './envelope.js'
export {
  CircuitOpenError,
  CommandTimeoutError,
  EvictionPolicyWarning,
  LateCommandError,
  MalformedRecordError,
  NotConnectedError,
  ValueTooLargeError,
} from './errors.js'
export { DEFAULTS, type RedisStoreOptions } from './options.js'
export { RedisLock } from './redis-lock.js'
export { RedisStore, type RedisStoreEvents } from './redis-store.js'
