import { LRUCache } from 'lru-cache'
import type { Entry } from './entry.js'
import { DEFAULTS, describe, type TierCacheOptions } from './options.js'

/**
 * L1: a plain `lru-cache` of entries, bounded by count and/or bytes. No
 * lru-cache TTL: entries carry their own times, and an entry past its TTL
 * must stay for the stale and resurrect windows.
 * Returns `undefined` when `lruSize` is 0 (L1 disabled).
 */
export function createLocalTier<V>(options: TierCacheOptions<V>): LRUCache<string, Entry<V>> | undefined {
  const max = options.lruSize ?? (options.lruMaxBytes === undefined ? DEFAULTS.lruSize : undefined)
  if (max !== undefined && (!Number.isInteger(max) || max < 0)) {
    throw new TypeError(`options.lruSize must be an integer >= 0, got ${describe(max)}`)
  }
  if (options.lruMaxBytes === undefined) return max === 0 ? undefined : new LRUCache({ max: max! })
  const maxSize = options.lruMaxBytes
  if (!Number.isInteger(maxSize) || maxSize < 1) {
    throw new TypeError(`options.lruMaxBytes must be a positive integer, got ${describe(maxSize)}`)
  }
  const sizeOf = options.sizeOf
  if (typeof sizeOf !== 'function') {
    throw new TypeError(`options.sizeOf must be a function when lruMaxBytes is set, got ${describe(sizeOf)}`)
  }
  return new LRUCache<string, Entry<V>>({
    ...(max ? { max } : {}),
    maxSize,
    // A cached miss still costs its key and entry; count it so misses cannot grow L1 unbounded.
    sizeCalculation: (entry, key) =>
      Math.max(1, entry.value === undefined ? key.length + 64 : sizeOf(entry.value, key)),
  })
}
