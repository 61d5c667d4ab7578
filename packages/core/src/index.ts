export { type Clock, systemClock } from './clock.js'
export { type Codec, jsonCodec, msgpackCodec } from './codec.js'
export { DecodeError, LoaderError, StoreError, TierCacheError, TimeoutError } from './errors.js'
export type { HitLevel, StaleReason, TierCacheEvents, TierCacheStats } from './events.js'
export type { InvalidationBus, InvalidationEvent, InvalidationHandler, InvalidationKind } from './invalidation.js'
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js'
export { DEFAULTS, type GetOptions, type SetOptions, type TierCacheOptions } from './options.js'
export type { SharedStore, StoreLock, StoreRecord, StoreWrite } from './store.js'
export {
  type BulkLoader,
  type BulkLoaderContext,
  type GetInfo,
  type Loader,
  type LoaderContext,
  type PeekResult,
  TierCache,
} from './tier-cache.js'
