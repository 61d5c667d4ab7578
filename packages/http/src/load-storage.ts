import { randomBytes } from 'node:crypto'
import { type LoaderContext, type SetOptions, StoreError } from '@tiercache/core'
import { variantKey, varyNames } from './cache-key.js'
import type { CachedResponse, HttpCacheValue, VaryIndex } from './cached-response.js'
import { revalidationHeaders } from './conditional.js'
import type { Freshness } from './freshness.js'
import type { HeaderMap } from './headers.js'
import type { ResolvedOptions } from './options.js'
import type { OriginLoad } from './origin-loader.js'
import { responseTags } from './response-tags.js'

/** Where a look-up runs: at the primary key, or at a variant key of the primary key's Vary index. */
export interface Site {
  readonly key: string
  readonly primary: string
  readonly index?: VaryIndex | undefined
}

/** Where a load's response goes, and the request headers that pick its variant. */
export interface Placement {
  readonly site: Site
  readonly requestHeaders: HeaderMap
}

/**
 * What a load leaves in the TierCache: the value for the key it ran at, with
 * its freshness set on the loader's context, and, for a response with `Vary`,
 * the variant written under its own key. A failure throws, so the TierCache
 * serves a stale value when it keeps one (stale-if-error).
 */
export class LoadStorage {
  readonly #o: ResolvedOptions

  constructor(options: ResolvedOptions) {
    this.#o = options
  }

  /** The value `at.site.key` caches for `load`, or `undefined` (remembered for `passTtl`) when it may not be stored. */
  store(
    ctx: LoaderContext<HttpCacheValue>,
    load: OriginLoad,
    at: Placement,
  ): Promise<HttpCacheValue | undefined> | HttpCacheValue | undefined {
    switch (load.kind) {
      case 'failed':
        throw load.error
      case 'unstorable':
        return this.#notStored(ctx)
      case 'revalidated':
        if (load.freshness.ttl <= 0 && !load.freshness.keepToRevalidate) return this.#notStored(ctx)
        this.#setFreshness(ctx, load)
        ctx.tags = this.#tagsOf(load.response)
        return load.response
      case 'fetched':
        this.#setFreshness(ctx, load)
        return this.#place(ctx, load.response, at)
    }
  }

  /** Keep a Vary index another `varyTtl`, same generation, so its variants stay reachable. */
  keepIndex(ctx: LoaderContext<HttpCacheValue>, index: VaryIndex): VaryIndex {
    Object.assign(ctx, this.#indexFreshness())
    return index
  }

  /**
   * Where a fetched response goes, given its `Vary`. At the primary key, a
   * varying response is stored under its variant key and the index is what the
   * primary key caches. At a variant key, the index is extended, or replaced
   * with a new generation when the origin changed its `Vary`.
   */
  async #place(
    ctx: LoaderContext<HttpCacheValue>,
    entry: CachedResponse,
    at: Placement,
  ): Promise<HttpCacheValue | undefined> {
    const { site } = at
    const names = varyNames(entry.headers) as string[] // '*' was refused as unstorable
    const same = site.index !== undefined && site.index.names.join() === names.join()
    // The response's tags (`tagHeaders`) go with it wherever it is written; a Vary index has none. A response
    // written under another key is stamped as of this load, so a purgeTag during the fetch still applies to it.
    const tags = this.#tagsOf(entry)
    if (names.length === 0 && site.index === undefined) {
      ctx.tags = tags
      return entry
    }
    const freshness = { ttl: ctx.ttl, staleTtl: ctx.staleTtl, resurrectTtl: ctx.resurrectTtl, tags, loadedBy: ctx }
    if (names.length === 0) {
      // It stopped varying: the primary key holds the response itself again. Should that write fail,
      // the response is still right for this variant, whatever the primary key holds.
      await this.#write(site.primary, entry, freshness)
      ctx.tags = tags
      return entry
    }
    const index: VaryIndex = same
      ? site.index!
      : { kind: 'vary', names, generation: randomBytes(6).toString('base64url') }
    const variant = variantKey(site.primary, index.generation, names, at.requestHeaders)
    if (site.index === undefined) {
      // Should the variant's write fail, the index still holds: that variant's next request loads it.
      await this.#write(variant, entry, freshness)
      Object.assign(ctx, this.#indexFreshness())
      return index
    }
    if (!same) await this.#write(variant, entry, freshness)
    // Under an index of other `Vary` names this variant key means other requests: without the new
    // index in place the response may not be stored here.
    if (!(await this.#write(site.primary, index, this.#indexFreshness())) && !same) return this.#notStored(ctx)
    ctx.tags = tags
    return entry
  }

  /** The tags a response lists in `tagHeaders`, for `purgeTag`. */
  #tagsOf(response: CachedResponse): string[] {
    return responseTags(response.headers, this.#o.tagHeaders)
  }

  /**
   * Write one more key of a load. A write the shared store failed (or whose
   * outcome is unknown) does not fail the request: the core has reported it
   * on the cache's `'error'` event and let go of its L1 copy.
   */
  #write(key: string, value: HttpCacheValue, freshness: SetOptions): Promise<boolean> {
    return this.#o.cache.set(key, value, freshness).then(
      () => true,
      (error: unknown) => {
        if (error instanceof StoreError) return false
        throw error
      },
    )
  }

  /** Not stored: remembered as `undefined` for `passTtl` (0 would mean "forever": 1 ms is "not remembered"). */
  #notStored(ctx: LoaderContext<HttpCacheValue>): undefined {
    Object.assign(ctx, { negTtl: this.#o.passTtl || 1, staleTtl: 0, resurrectTtl: 0 })
    return undefined
  }

  /**
   * The loader's freshness for an entry. The core keeps an entry for
   * max(staleTtl, resurrectTtl) past expiry, so `resurrectTtl` carries the
   * stale-if-error window, widened to `revalidateTtl` when the entry can be
   * revalidated (the next load then sees it as `ctx.staleValue`).
   */
  #setFreshness(
    ctx: LoaderContext<HttpCacheValue>,
    load: { readonly response: CachedResponse; readonly freshness: Freshness },
  ): void {
    const o = this.#o
    const fresh = load.freshness
    const revalidatable = o.revalidate && revalidationHeaders(load.response) !== undefined
    ctx.ttl = Math.max(1, fresh.ttl)
    ctx.staleTtl = fresh.staleTtl
    ctx.resurrectTtl = Math.max(fresh.staleIfError, revalidatable ? o.revalidateTtl : 0)
  }

  /**
   * A Vary index is renewed without the origin (`keepIndex`): it is served
   * stale at once for another `varyTtl` while that renewal runs, so its
   * generation — and every variant under it — outlives one `varyTtl`.
   */
  #indexFreshness() {
    return { ttl: this.#o.varyTtl, staleTtl: this.#o.varyTtl, resurrectTtl: 0 }
  }
}
