import { createCache } from 'async-cache-dedupe'
import { Redis } from 'ioredis'
import { type AdapterFactory, needRedis, Unsupported } from './adapter.js'

/**
 * async-cache-dedupe: a function defined once (`define`) and called per key.
 * One storage only (memory or Redis), TTLs in whole seconds (so a TTL below
 * 1 s is rounded up), `stale` for stale-while-revalidate.
 */
export const createAsyncCacheDedupe: AdapterFactory = async (options) => {
  const redis = needRedis(options)
  if (options.tiers === 'both') throw new Unsupported('async-cache-dedupe', 'stack memory in front of Redis')
  if (options.maxBytes !== undefined) throw new Unsupported('async-cache-dedupe', 'bound L1 by bytes')
  const client =
    redis === undefined
      ? undefined
      : new Redis({
          host: redis.host,
          port: redis.port,
          keyPrefix: `${redis.prefix}${options.namespace}:`,
          enableAutoPipelining: redis.autoPipelining ?? false,
        })
  const seconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000))
  const cache = createCache({
    ttl: seconds(options.ttlMs),
    ...(options.staleMs ? { stale: seconds(options.staleMs) } : {}),
    storage: client ? { type: 'redis', options: { client } } : { type: 'memory', options: { size: options.lruSize } },
  }).define('load', (key: string) => options.loader(key))
  return {
    name: 'async-cache-dedupe',
    config: [client ? 'redis storage (ioredis)' : 'memory storage', options.staleMs ? 'stale' : '']
      .filter(Boolean)
      .join(', '),
    get: (key) => cache.load(key),
    close: async () => {
      client?.disconnect()
    },
  }
}
