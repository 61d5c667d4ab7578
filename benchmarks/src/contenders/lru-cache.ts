import { LRUCache } from 'lru-cache'
import { type AdapterFactory, Unsupported } from './adapter.js'

/**
 * Raw lru-cache `fetch()`: the in-process limit, with its own stale feature
 * (`allowStale` + `noDeleteOnStaleGet`: answer stale while `fetchMethod` runs).
 */
export const createLruFetch: AdapterFactory = async (options) => {
  if (options.tiers !== 'memory') throw new Unsupported('lru-cache', 'use Redis')
  const loader = options.loader
  const stale = options.staleMs !== undefined
  const bytes = options.maxBytes
  const lru = new LRUCache<string, object>({
    max: options.lruSize,
    ttl: options.ttlMs,
    allowStale: stale,
    noDeleteOnStaleGet: stale,
    ...(bytes !== undefined ? { maxSize: bytes, sizeCalculation: (v: object) => JSON.stringify(v).length } : {}),
    fetchMethod: async (key) => (await loader(key)) as object,
  })
  return {
    name: 'lru-cache fetch',
    config: `max ${options.lruSize}${stale ? ', allowStale' : ''}${bytes !== undefined ? ', maxSize (JSON length)' : ''}`,
    get: (key) => lru.fetch(key),
    l1Entries: () => lru.size,
    close: async () => {},
  }
}
