import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisDriver } from 'bentocache/drivers/redis'
import { Redis } from 'ioredis'
import { type AdapterFactory, needRedis } from './adapter.js'

/**
 * bentocache: `getOrSet({ key, factory })`. L1 is its memory driver with
 * `serialize: false` (its default, `true`, JSON-parses every L1 hit; a byte
 * bound needs it, so `maxBytes` turns it back on). Grace + soft timeout 0 is
 * its stale-while-revalidate.
 */
export const createBentocache: AdapterFactory = async (options) => {
  const redis = needRedis(options)
  const store = bentostore()
  const serialize = options.maxBytes !== undefined
  if (options.tiers !== 'redis') {
    store.useL1Layer(
      memoryDriver({
        maxItems: options.lruSize,
        serialize,
        ...(serialize ? { maxSize: options.maxBytes } : {}),
      }),
    )
  }
  let client: Redis | undefined
  if (redis !== undefined) {
    client = new Redis({ host: redis.host, port: redis.port, enableAutoPipelining: redis.autoPipelining ?? false })
    store.useL2Layer(redisDriver({ connection: client, prefix: `${redis.prefix}${options.namespace}` }))
  }
  const bento = new BentoCache({
    default: 'cache',
    stores: { cache: store },
    ttl: options.ttlMs,
    grace: options.staleMs ?? false,
    timeout: 0,
  })
  const loader = options.loader
  return {
    name: 'bentocache',
    config: [
      options.tiers !== 'redis' ? `memoryDriver({ serialize: ${serialize} })` : '',
      redis ? `redisDriver(ioredis${redis.autoPipelining ? ' autopipelining' : ''})` : '',
      options.staleMs ? 'grace + timeout 0' : '',
    ]
      .filter(Boolean)
      .join(', '),
    get: (key) => bento.getOrSet({ key, factory: () => loader(key) }),
    close: async () => {
      await bento.disconnect()
      client?.disconnect()
    },
  }
}
