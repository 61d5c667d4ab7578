/**
 * The one shape every cache library is driven through in the scenarios that
 * are not micro-benchmarks (stampede, expiry, memory, Redis load): get-or-load
 * with the library's own API, configured to the same tiers, TTL and stale
 * window.
 */

/** How to configure a library for one scenario. */
export interface AdapterOptions {
  /** `memory`: in-process only; `redis`: the Redis tier only (L1 off); `both`: L1 in front of Redis. */
  readonly tiers: 'memory' | 'redis' | 'both'
  /** Required unless `tiers` is `memory`. */
  readonly redis?: RedisTarget
  /** Keeps this instance's keys apart from every other contender's and run's. */
  readonly namespace: string
  /** L1 entry bound. */
  readonly lruSize: number
  /** L1 byte bound, where the library has one. */
  readonly maxBytes?: number
  /** Fresh time of a loaded value, ms. */
  readonly ttlMs: number
  /** Turns the library's stale-while-revalidate / grace feature on for this many ms. */
  readonly staleMs?: number
  /**
   * tiercache only: the codec in front of the shared store. `msgpack` = the core default
   * (`msgpackCodec()`), `json` = the core's `jsonCodec()`, `msgpack-maps` = msgpackr with
   * `useRecords: false` (objects as plain maps).
   */
  readonly codec?: 'msgpack' | 'json' | 'msgpack-maps'
  /** tiercache only: its in-process `MemoryStore` bounded to this many entries (what a user would set to weigh L1 nearly alone). */
  readonly storeEntries?: number
  /** Called on a miss; the same function for every library. */
  readonly loader: (key: string) => Promise<unknown>
}

/** Where Redis is and how to talk to it. */
export interface RedisTarget {
  readonly host: string
  readonly port: number
  /** Prepended to every key. */
  readonly prefix: string
  /** ioredis `enableAutoPipelining`, for the ioredis-based libraries. */
  readonly autoPipelining?: boolean
}

/** A configured library. */
export interface CacheAdapter {
  /** e.g. `bentocache`. */
  readonly name: string
  /** The settings that matter for reading the numbers, e.g. `memoryDriver({ serialize: false })`. */
  readonly config: string
  /** Get-or-load through the library's own API. */
  get(key: string): Promise<unknown>
  /** Batch get-or-load, where the library has one. */
  getMany?(keys: readonly string[]): Promise<unknown[]>
  /** Errors the library reported (events) since it was built, by kind, where the library tells. */
  errors?(): Record<string, number>
  /** Entries held in the in-process tier, where the library tells. */
  l1Entries?(): number
  close(): Promise<void>
}

/** Builds an adapter; throws `Unsupported` when the library cannot be configured that way. */
export type AdapterFactory = (options: AdapterOptions) => Promise<CacheAdapter>

/** The library has no way to run in the asked configuration (e.g. no stale feature). */
export class Unsupported extends Error {
  readonly code = 'BENCH_UNSUPPORTED'
  constructor(library: string, what: string) {
    super(`${library} cannot ${what}`)
    this.name = 'Unsupported'
  }
}

/** `redis://host:port` for clients configured by URL (node-redis, used by @keyv/redis). */
export function redisUrl(target: RedisTarget): string {
  return `redis://${target.host}:${target.port}`
}

/** Throws a `TypeError` when `options.redis` is missing for a Redis tier. */
export function needRedis(options: AdapterOptions): RedisTarget | undefined {
  if (options.tiers === 'memory') return undefined
  if (options.redis === undefined) throw new TypeError(`options.redis is required for tiers "${options.tiers}"`)
  return options.redis
}
