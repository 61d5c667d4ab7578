import KeyvRedis from '@keyv/redis'
import { createCache } from 'cache-manager'
import { createKeyv } from 'cacheable'
import { Keyv } from 'keyv'
import { type AdapterFactory, needRedis, redisUrl, Unsupported } from './adapter.js'

/**
 * cache-manager 7: `wrap(key, fn)` over Keyv stores. L1 is cacheable's
 * in-memory Keyv (`createKeyv`, no serialisation) with `useClone: false` (the
 * default deep-clones every hit); L2 is `@keyv/redis` (node-redis).
 * `refreshThreshold` (refresh in the background once the remaining TTL is
 * below it) is its stale feature.
 */
export const createCacheManager: AdapterFactory = async (options) => {
  const redis = needRedis(options)
  if (options.maxBytes !== undefined) throw new Unsupported('cache-manager', 'bound L1 by bytes')
  const stores: Keyv[] = []
  if (options.tiers !== 'redis') stores.push(createKeyv({ lruSize: options.lruSize, useClone: false }))
  if (redis !== undefined) {
    stores.push(new Keyv({ store: new KeyvRedis(redisUrl(redis)), namespace: `${redis.prefix}${options.namespace}` }))
  }
  const refreshThreshold = options.staleMs === undefined ? undefined : options.ttlMs / 2
  const cache = createCache({ stores, ttl: options.ttlMs, ...(refreshThreshold ? { refreshThreshold } : {}) })
  const loader = options.loader
  return {
    name: 'cache-manager',
    config: [
      options.tiers !== 'redis' ? 'createKeyv({ useClone: false })' : '',
      redis ? 'Keyv(@keyv/redis)' : '',
      refreshThreshold ? `refreshThreshold ttl/2` : '',
    ]
      .filter(Boolean)
      .join(', '),
    get: (key) => cache.wrap(key, () => loader(key)),
    getMany: (keys) => cache.mget(keys as string[]),
    close: async () => {
      await cache.disconnect()
    },
  }
}
