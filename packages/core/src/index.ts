export { BACKOFF_DEFAULTS, type RefreshBackoffOptions } from './backoff.js'
export { type Clock, preciseClock, systemClock } from './clock.js'
export { type Codec, jsonCodec, msgpackCodec } from './codec.js'
export { type Duration, type DurationUnit, parseDuration } from './duration.js'
export {
  DecodeError,
  errorBrand,
  LoaderError,
  STORE_FAILURE_KINDS,
  StoreCallError,
  StoreError,
  type StoreErrorKind,
  type StoreFailureKind,
  type StoreOutcome,
  storeFailureKind,
  TierCacheError,
  TimeoutError,
} from './errors.js'
export type { TierCacheHealth } from './health.js'
export {
  type Announcement,
  INVALIDATION_KINDS,
  type InvalidationBus,
  type InvalidationEvent,
  type InvalidationHandler,
  type InvalidationKind,
} from './invalidation.js'
export {
  type BulkLoader,
  type BulkLoaderContext,
  type DefiniteBulkLoader,
  type DefiniteLoader,
  type Loader,
  type LoaderContext,
  NOT_MODIFIED,
  type NotModified,
} from './loader.js'
export type { TierCacheLogger } from './logger.js'
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js'
export {
  CACHE_DEFAULTS,
  CACHE_OPTION_NAMES,
  GET_MANY_OPTION_NAMES,
  GET_OPTION_NAMES,
  type GetManyOptions,
  type GetOptions,
  optionNames,
  SET_OPTION_NAMES,
  type SetOptions,
  type TierCacheOptions,
} from './options.js'
export type { Unrepresentable } from './representable.js'
export type { GetInfo, HitLevel, PeekResult, StaleReason } from './result.js'
export type { TierCacheEvents, TierCacheStats } from './stats.js'
export type {
  CircuitState,
  SharedStore,
  StoreChange,
  StoreHealth,
  StoreLock,
  StoreRead,
  StoreRecord,
  StoreTouch,
  StoreVersion,
  StoreWrite,
  StoreWriteResult,
} from './store.js'
export { TierCache } from './tier-cache.js'
export {
  CHANNELS,
  type GetManyTrace,
  type GetTrace,
  type HttpRequestTrace,
  isTraced,
  type LoadTrace,
  type StoreTrace,
  type TraceSource,
  tracing,
} from './tracing.js'
export { checkOptionNames, DURATION_OPTION_NAMES } from './validate.js'
