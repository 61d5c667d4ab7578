import KeyvRedis from '@keyv/redis'
import { Cacheable, createKeyv } from 'cacheable'
import { Keyv } from 'keyv'
import { type AdapterFactory, needRedis, redisUrl, Unsupported } from './adapter.js'

/**
 * cacheable 2: `getOrSet(key, fn)`; primary = its in-memory Keyv with
 * `useClone: false` (the default deep-clones every hit), secondary =
 * `@keyv/redis`. With the Redis tier alone, Redis is the primary. It has no
 * stale-while-revalidate feature.
 */
export const createCacheable: AdapterFactory = async (options) => {
  const redis = needRedis(options)
  if (options.staleMs !== undefined) throw new Unsupported('cacheable', 'serve stale while it reloads')
  if (options.maxBytes !== undefined) throw new Unsupported('cacheable', 'bound L1 by bytes')
  const memory = options.tiers !== 'redis' ? createKeyv({ lruSize: options.lruSize, useClone: false }) : undefined
  const remote =
    redis === undefined
      ? undefined
      : new Keyv({ store: new KeyvRedis(redisUrl(redis)), namespace: `${redis.prefix}${options.namespace}` })
  const cache = new Cacheable({
    primary: memory ?? remote,
    ...(memory && remote ? { secondary: remote } : {}),
    ttl: options.ttlMs,
  })
  const loader = options.loader
  return {
    name: 'cacheable',
    config: [memory ? 'createKeyv({ useClone: false })' : '', remote ? 'Keyv(@keyv/redis)' : '']
      .filter(Boolean)
      .join(' + '),
    get: (key) => cache.getOrSet(key, () => loader(key)),
    getMany: (keys) => cache.getMany(keys as string[]),
    close: async () => {
      await cache.disconnect()
    },
  }
}
