import { type Codec, jsonCodec, MemoryStore, TierCache } from '@tiercache/core'
import { RedisStore } from '@tiercache/redis'
import { Redis } from 'ioredis'
import { Packr } from 'msgpackr'
import { type AdapterFactory, needRedis } from './adapter.js'

/** Rough byte size of a value for `lruMaxBytes`: its JSON length (what most users would write). */
export function jsonSize(value: unknown): number {
  return JSON.stringify(value)?.length ?? 0
}

/** msgpackr without records: objects as msgpack maps (a `Map` inside a value comes back as an object). */
function msgpackMapsCodec(): Codec {
  const packr = new Packr({ useRecords: false, moreTypes: true, useBigIntExtension: true })
  return { name: 'msgpackr-maps', encode: (v) => packr.pack(v), decode: (b) => packr.unpack(b) }
}

/**
 * tiercache: `get(key, loader)`. `tiers: 'redis'` sets `lruSize: 0` (L1 off);
 * `tiers: 'memory'` keeps the default embedded `MemoryStore` as L2, which is
 * what a user without Redis gets.
 */
export const createTiercache: AdapterFactory = async (options) => {
  const redis = needRedis(options)
  const client =
    redis === undefined
      ? undefined
      : new Redis({ host: redis.host, port: redis.port, enableAutoPipelining: redis.autoPipelining ?? false })
  const store = client && redis ? new RedisStore({ client, prefix: `${redis.prefix}tc:` }) : undefined
  const l2 =
    store ?? (options.storeEntries === undefined ? undefined : new MemoryStore({ maxEntries: options.storeEntries }))
  const cache = new TierCache<unknown>({
    name: options.namespace,
    lruSize: options.tiers === 'redis' ? 0 : options.lruSize,
    ...(options.maxBytes !== undefined ? { lruMaxBytes: options.maxBytes, sizeOf: jsonSize } : {}),
    ttl: options.ttlMs,
    ...(options.staleMs !== undefined ? { staleTtl: options.staleMs } : {}),
    ...(l2 ? { store: l2 } : {}),
    ...(options.codec === 'json' ? { codec: jsonCodec() } : {}),
    ...(options.codec === 'msgpack-maps' ? { codec: msgpackMapsCodec() } : {}),
  })
  // Store time-outs and failures become 'error' events and a fall-through to the loader; count them,
  // so a "hit" benchmark can tell a slow hit path from a store that timed out.
  const errors: Record<string, number> = {}
  cache.on('error', (error) => {
    const kind = `${error.code}${error.cause instanceof Error ? `/${(error.cause as { code?: string }).code ?? error.cause.name}` : ''}`
    errors[kind] = (errors[kind] ?? 0) + 1
  })
  const loader = options.loader
  const bulk = (keys: readonly string[]) => Promise.all(keys.map(loader))
  return {
    name: 'tiercache',
    config: [
      options.tiers === 'redis' ? 'lruSize 0' : `lruSize ${options.lruSize}`,
      store
        ? `RedisStore(ioredis${redis?.autoPipelining ? ' autopipelining' : ''})`
        : options.storeEntries !== undefined
          ? `MemoryStore({ maxEntries: ${options.storeEntries} })`
          : 'MemoryStore',
      options.codec && options.codec !== 'msgpack' ? `codec ${options.codec}` : '',
      options.staleMs !== undefined ? 'staleTtl' : '',
      options.maxBytes !== undefined ? 'lruMaxBytes (sizeOf = JSON length)' : '',
    ]
      .filter(Boolean)
      .join(', '),
    get: (key) => cache.get(key, loader),
    getMany: (keys) => cache.getMany(keys, bulk),
    l1Entries: () => cache.stats().l1Size,
    errors: () => ({ ...errors }),
    close: async () => {
      cache.close()
      await store?.close()
      client?.disconnect()
    },
  }
}
