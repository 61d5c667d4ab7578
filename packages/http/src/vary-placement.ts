import { randomBytes } from 'node:crypto'
import type { LoaderContext, TierCache } from '@tiercache/core'
import { variantKey, varyNames } from './cache-key.js'
import type { CachedResponse, HttpCacheValue, VaryIndex } from './cached-response.js'
import type { HeaderMap } from './headers.js'

/** Where a look-up runs: at the primary key, or at a variant key of the primary key's Vary index. */
export interface Site {
  readonly key: string
  readonly primary: string
  readonly index?: VaryIndex | undefined
}

/**
 * Where a fetched response goes, given its `Vary`. At the primary key, a
 * varying response is stored under its variant key and the index is what the
 * primary key caches. At a variant key, the index is extended, or replaced
 * with a new generation when the origin changed its `Vary`.
 */
export class VaryPlacement {
  readonly #cache: TierCache<HttpCacheValue>
  readonly #varyTtl: number

  constructor(cache: TierCache<HttpCacheValue>, varyTtl: number) {
    this.#cache = cache
    this.#varyTtl = varyTtl
  }

  /** Store what must be stored elsewhere than `site.key`; resolve with the value `site.key` caches. */
  async place(
    ctx: LoaderContext<HttpCacheValue>,
    entry: CachedResponse,
    at: { readonly site: Site; readonly requestHeaders: HeaderMap },
  ): Promise<HttpCacheValue> {
    const { site } = at
    const names = varyNames(entry.headers) as string[] // '*' was refused as unstorable
    const same = site.index !== undefined && site.index.names.join() === names.join()
    if (names.length === 0 && site.index === undefined) return entry
    const freshness = { ttl: ctx.ttl, staleTtl: ctx.staleTtl, resurrectTtl: ctx.resurrectTtl }
    if (names.length === 0) {
      // It stopped varying: the primary key holds the response itself again.
      await this.#cache.set(site.primary, entry, freshness)
      return entry
    }
    const index: VaryIndex = same
      ? site.index!
      : { kind: 'vary', names, generation: randomBytes(6).toString('base64url') }
    const variant = variantKey(site.primary, index.generation, names, at.requestHeaders)
    if (site.index === undefined) {
      await this.#cache.set(variant, entry, freshness)
      Object.assign(ctx, this.#indexFreshness())
      return index
    }
    if (!same) await this.#cache.set(variant, entry, freshness)
    await this.#cache.set(site.primary, index, this.#indexFreshness())
    return entry
  }

  /** Keep a Vary index another `varyTtl`, same generation, so its variants stay reachable. */
  keepIndex(ctx: LoaderContext<HttpCacheValue>, index: VaryIndex): VaryIndex {
    Object.assign(ctx, this.#indexFreshness())
    return index
  }

  /**
   * A Vary index is renewed without the origin (`keepIndex`): it is served
   * stale at once for another `varyTtl` while that renewal runs, so its
   * generation — and every variant under it — outlives one `varyTtl`.
   */
  #indexFreshness() {
    return { ttl: this.#varyTtl, staleTtl: this.#varyTtl, resurrectTtl: 0 }
  }
}
