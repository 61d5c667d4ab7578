import type { InvalidationBus, SharedStore, TierCacheStats } from '@tiercache/core'

/** A `TierCache` of any value type, as far as metrics need it. */
export interface TierCacheLike {
  readonly name: string
  readonly store: SharedStore
  readonly ipc: InvalidationBus | undefined
  stats(): TierCacheStats
}

/**
 * The `@tiercache/http` engine, as far as metrics need it. Typed by shape so
 * this package does not depend on the http package.
 */
export interface HttpCacheLike {
  /** The engine's options; `cache` is the `TierCache` responses live in. */
  readonly options: { readonly cache: TierCacheLike }
  /** Responses answered so far, by `X-Cache` status, and requests it could not answer. */
  stats(): { readonly responses: Readonly<Record<string, number>>; readonly errors: number }
}

/** What `instrument` accepts. */
export type InstrumentTarget = TierCacheLike | HttpCacheLike

/** A target resolved to the cache it reads and, for an http engine, the engine. */
export interface Source {
  readonly cache: TierCacheLike
  readonly http: HttpCacheLike | undefined
}

/** Resolve `target`, or throw a `TypeError` naming it when it is neither a `TierCache` nor an `HttpCache`. */
export function sourceOf(target: unknown): Source {
  if (isTierCache(target)) return { cache: target, http: undefined }
  const http = target as Partial<HttpCacheLike> | null
  if (
    typeof http === 'object' &&
    http !== null &&
    typeof http.stats === 'function' &&
    isTierCache((http.options as { cache?: unknown } | undefined)?.cache)
  ) {
    return { cache: http.options!.cache, http: http as HttpCacheLike }
  }
  throw new TypeError('target must be a TierCache or an HttpCache')
}

// By shape rather than `instanceof`: the app's copy of @tiercache/core may not be ours.
function isTierCache(value: unknown): value is TierCacheLike {
  const cache = value as Partial<TierCacheLike> | null
  return (
    typeof cache === 'object' &&
    cache !== null &&
    typeof cache.name === 'string' &&
    typeof cache.stats === 'function' &&
    typeof cache.store === 'object'
  )
}
