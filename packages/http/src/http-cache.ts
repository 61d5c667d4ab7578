import type { Clock, GetInfo, GetOptions, LoaderContext } from '@tiercache/core'
import { isTraced, tracing } from '@tiercache/core'
import { parseCacheControl } from './cache-control.js'
import { variantKey } from './cache-key.js'
import type { CacheRequest } from './cache-request.js'
import type { BypassReason } from './cacheable.js'
import type { CachedResponse, HttpCacheValue } from './cached-response.js'
import { OriginError } from './errors.js'
import { FailingOrigins } from './failing-origins.js'
import { FreshHeads, type FreshHit } from './fresh-hit.js'
import { endToEnd, type HeaderMap, headerValue } from './headers.js'
import { LoadStorage, type Site } from './load-storage.js'
import type { HttpCacheOptions, ResolvedOptions } from './options.js'
import { resolveOptions } from './options.js'
import type { Origin } from './origin.js'
import { discardLoad, type OriginLoad, OriginLoader, type OriginTrip } from './origin-loader.js'
import { invalidatedUrls, isUnsafeMethod } from './policy/invalidation.js'
import { type Outcome, type ReplyContext, replyFromCache, replyFromFailure, replyFromOrigin } from './reply.js'
import { countsOf, type HttpCacheStats } from './response-counts.js'

/** One request's way to the origin, should its look-up have to load. */
type Trip = Omit<OriginTrip, 'stale'>

/** What one look-up found, with what this request's own load (if it ran one) brought back. */
type Found =
  | { readonly kind: 'value'; readonly info: GetInfo<HttpCacheValue>; readonly load: OriginLoad | undefined }
  | { readonly kind: 'failed'; readonly error: unknown; readonly load: OriginLoad | undefined }
  | { readonly kind: 'lock-timeout' }

/**
 * The engine behind every integration: maps one request to a cached reply, a
 * reply fetched from the origin once for all concurrent requests, or a pass to
 * the origin. Build one and share it between integrations, or let `cacheHttp`
 * (& co.) build it from options.
 *
 * A look-up reads the primary key (method, host, URL by default); when the
 * response there varies, the primary key holds a Vary index and the response
 * lives under a variant key. Both go through the `TierCache`, so L1, the shared
 * store, single flight, stale windows and IPC apply to both.
 *
 * @example
 * const httpCache = new HttpCache({ cache, ttl: 60_000, staleTtl: 300_000 })
 * http.createServer(cacheHttp(handler, httpCache))
 * await httpCache.purgeTag('product-42')
 */
export class HttpCache {
  readonly #o: ResolvedOptions
  readonly #clock: Clock
  readonly #callOptions: GetOptions
  readonly #origin: OriginLoader
  readonly #storage: LoadStorage
  readonly #failing = new FailingOrigins()
  readonly #heads: FreshHeads
  readonly #counts = countsOf(this)
  /**
   * Whether an L1 value can be a fresh hit by itself: a response, not a Vary
   * index (a purged tag is the core's to refuse), nor a HEAD response. Made once: a hit allocates no closure.
   */
  readonly #servesFresh = (value: HttpCacheValue): boolean =>
    // A cached HEAD response (convertHead: false) carries its own Content-Length: the full path writes it.
    value.kind === 'response' && value.headers['content-length'] === undefined

  constructor(options: HttpCacheOptions) {
    const o = resolveOptions(options)
    this.#o = o
    this.#clock = o.cache.clock
    // Responses are tagged (tagHeaders): stamp even this process's first loads past older purges.
    if (o.tagHeaders.length > 0) void o.cache.warmTags()
    // Every load sets its entry's own freshness; this ttl only stands in until it does (0 would be "forever").
    this.#callOptions = { ttl: Math.max(1, o.ttl), staleTtl: o.staleTtl, resurrectTtl: o.resurrectTtl }
    this.#origin = new OriginLoader(o, this.#clock)
    this.#storage = new LoadStorage(o)
    this.#heads = new FreshHeads(o.statusHeader)
  }

  /** The options in force, defaults applied. */
  get options(): ResolvedOptions {
    return this.#o
  }

  /** Why `request` skips the cache (`X-Cache: BYPASS`), `undefined` when it is cacheable. */
  bypassReason(request: CacheRequest): BypassReason | undefined {
    return this.#o.policy.bypassReason(request, this.#o)
  }

  /** Whether an integration must read the request body (bounded by `maxBodySize`) before `handle`. */
  wantsBody(method: string): boolean {
    return method !== 'GET' && method !== 'HEAD' && this.#o.methods.has(method)
  }

  /** The primary key of a request (before `Vary`), e.g. for `purge`. */
  keyOf(request: CacheRequest): string {
    const keyed = this.#o.convertHead && request.method === 'HEAD' ? { ...request, method: 'GET' } : request
    const key = this.#o.key(keyed)
    if (typeof key !== 'string' || key.length === 0) {
      throw new TypeError(`options.key must return a non-empty string, got ${JSON.stringify(key)}`)
    }
    return key
  }

  /**
   * Answer one request: from the cache, from one origin fetch shared by every
   * concurrent request for the key, or by passing it to the origin.
   */
  async handle(request: CacheRequest, origin: Origin): Promise<Outcome> {
    if (this.bypassReason(request) !== undefined) return { kind: 'pass', cacheStatus: 'BYPASS' }
    const primary = this.keyOf(request)
    const trip: Trip = {
      request,
      origin,
      method: this.#o.convertHead && request.method === 'HEAD' ? 'GET' : request.method,
    }

    // 1. The primary key: a response, a Vary index, or a remembered "not cacheable"
    let site: Site = { key: primary, primary }
    let found = await this.#lookUp(site, trip)

    // 2. The response varies: this request's variant (unless its own load just fetched it)
    const index = found.kind === 'value' ? found.info.value : undefined
    const ownLoad = found.kind === 'value' ? found.load : undefined
    if (index?.kind === 'vary' && (ownLoad === undefined || ownLoad.kind === 'failed')) {
      site = { key: variantKey(primary, index.generation, index.names, request.headers), primary, index }
      found = await this.#lookUp(site, trip)
    }

    // 3. The answer
    return this.#answer(site, found, trip)
  }

  /**
   * The hot path, for integrations that write the reply themselves: a fresh
   * response this node holds in L1, answered synchronously, with its reply
   * head built once per entry (see `FreshHit`), through the cache's L1 fast
   * path (`getFresh`, counted as an L1 hit). `undefined` when the request
   * needs `handle`: a miss, a stale or tagged entry L1 cannot vouch for, a
   * Vary index, a conditional, range or authorized request, an origin that is
   * failing, a request that bypasses the cache.
   *
   * @example
   * const hit = httpCache.freshHit(request)
   * if (hit !== undefined) res.writeHead(hit.status, hit.head).end(hit.body)
   * else await serve(httpCache, exchange)
   */
  freshHit(request: CacheRequest): FreshHit | undefined {
    const { method, headers } = request
    if ((method !== 'GET' && method !== 'HEAD') || this.bypassReason(request) !== undefined) return undefined
    // A traced request takes the full flow, which publishes it on `tiercache:http:request`.
    if (isTraced(tracing.httpRequest)) return undefined
    // A 304 may answer these, a 206 (policy permitting) those: the full path decides.
    if (headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) return undefined
    if (this.#o.policy.servesRanges && headers.range !== undefined) return undefined
    // Whether an entry may answer a request with Authorization is the policy's call per response (RFC 9111 §3.5).
    if (headers.authorization !== undefined) return undefined
    const key = this.keyOf(request)
    // Resurrected entries look fresh to L1 but are served as STALE: they follow a failed load here.
    if (this.#failing.has(key)) return undefined
    const value = this.#o.cache.getFresh(key, this.#servesFresh)
    if (value === undefined) return undefined
    // Counted as the full flow counts its answers (`stats()`).
    this.#counts.answered('HIT')
    return this.#heads.hit(value as CachedResponse, method, this.#clock.now())
  }

  /**
   * Requests answered by the integrations built on this engine (`cacheHttp`,
   * `cacheExpress`, `cacheFastify`, `cacheFetch`) since it was made, by the
   * `X-Cache` status they got, and those that failed. (A request answered
   * through `handle` directly is yours to count: its outcome has the status.)
   */
  stats(): HttpCacheStats {
    return countsOf(this).snapshot()
  }

  /** Remove the response cached under `key` (see `keyOf`, `purgeUrl`), on every node. */
  async purge(key: string): Promise<void> {
    await this.#o.cache.delete(key)
  }

  /**
   * Remove the response to `url` (absolute, so the host is known), every
   * variant included, on every node.
   *
   * @example
   * await httpCache.purgeUrl('https://example.com/products/42')
   */
  async purgeUrl(url: string | URL, init: { method?: string; headers?: HeaderMap } = {}): Promise<void> {
    const parsed = typeof url === 'string' ? new URL(url) : url
    const request: CacheRequest = {
      method: (init.method ?? 'GET').toUpperCase(),
      host: parsed.host.toLowerCase(),
      url: parsed.pathname + parsed.search,
      headers: { host: parsed.host, ...init.headers },
    }
    await this.purge(this.keyOf(request))
  }

  /**
   * After a non-error response to an unsafe method (POST, PUT, DELETE, any
   * unknown method), remove the responses to its target URI and to the
   * same-origin URIs in its `Location` and `Content-Location` (RFC 9111 §4.4),
   * when the policy says so (`policy: 'rfc9111'`). The request flow calls it
   * for the requests it passes to the origin.
   */
  async invalidateAfter(
    request: CacheRequest,
    status: number,
    responseHeaders: Record<string, unknown>,
  ): Promise<void> {
    if (!this.#o.policy.invalidatesAfterUnsafeMethods || !isUnsafeMethod(request.method)) return
    const headers = endToEnd(responseHeaders, new Set())
    const urls = invalidatedUrls(request, status, {
      location: headerValue(headers, 'location'),
      contentLocation: headerValue(headers, 'content-location'),
    })
    // GET and HEAD share a key under convertHead; otherwise HEAD has its own.
    const keys = new Set(
      urls.flatMap((url) =>
        ['GET', 'HEAD'].map((method) => this.keyOf({ method, host: request.host, url, headers: request.headers })),
      ),
    )
    await Promise.all([...keys].map((key) => this.purge(key)))
  }

  /**
   * Remove every response tagged `tag` (by a `tagHeaders` header) on every
   * node: the core's `deleteTag` on the response cache, O(1) on the store.
   * Rejects with a `StoreError` when the store failed or timed out.
   */
  async purgeTag(tag: string): Promise<void> {
    await this.#o.cache.deleteTag(tag)
  }

  /**
   * Nothing to let go of any more (tags live in the response cache itself);
   * kept so shutdown code written for earlier versions still runs. The
   * response cache is the caller's to close.
   */
  close(): void {}

  // ---- the look-up ----------------------------------------------------------

  /**
   * One key through the TierCache, with this request's loader. A request whose
   * loader has not started within `lockTimeout` (another request is fetching)
   * stops waiting, like nginx's `proxy_cache_lock_timeout`.
   */
  #lookUp(site: Site, trip: Trip): Promise<Found> {
    // What this request's own load brought back, handed over only while the request waits for it.
    let load: OriginLoad | undefined
    let loading = false
    let waiting = true
    const loader = async (_key: string, ctx: LoaderContext<HttpCacheValue>) => {
      const stale = ctx.staleValue
      // A Vary index needs no origin to stay valid: its variants carry their own freshness.
      if (stale?.kind === 'vary') return this.#storage.keepIndex(ctx, stale)
      loading = true
      const result = await this.#fetch(site.key, { ...trip, stale })
      if (waiting && !ctx.refreshing) load = result
      else discardLoad(result)
      return this.#storage.store(ctx, result, { site, requestHeaders: trip.request.headers })
    }
    const got: Promise<Found> = this.#o.cache.getWithInfo(site.key, this.#callOptions, loader).then(
      (info) => {
        waiting = false
        return { kind: 'value', info, load }
      },
      (error: unknown) => {
        waiting = false
        return { kind: 'failed', error, load }
      },
    )
    // A fresh L1 entry answers within a microtask: no timer for the hot path.
    if (this.#o.lockTimeout === 0 || this.#o.cache.peek(site.key)?.stale === false) return got
    return new Promise<Found>((resolve) => {
      const timer = setTimeout(() => {
        if (loading) return
        waiting = false
        resolve({ kind: 'lock-timeout' })
      }, this.#o.lockTimeout)
      void got.then((found) => {
        clearTimeout(timer)
        resolve(found)
      })
    })
  }

  /** Turn what the look-up found into a reply. */
  async #answer(site: Site, found: Found, trip: Trip): Promise<Outcome> {
    const { request } = trip
    const at: ReplyContext = {
      method: request.method,
      requestHeaders: request.headers,
      statusHeader: this.#o.statusHeader,
      now: this.#clock.now(),
      ranges: this.#o.policy.servesRanges,
    }
    const load = found.kind === 'lock-timeout' ? undefined : found.load
    if (load?.kind === 'unstorable') {
      const { response, cacheStatus } = load
      if (found.kind === 'value' && found.info.hitLevel === 3) {
        return replyFromOrigin(response.status, response.headers, response.body, cacheStatus, at)
      }
      response.body.cancel()
    }
    if (found.kind === 'lock-timeout') return { kind: 'pass', cacheStatus: 'MISS' }
    // This request's own load fetched the response (wherever it is cached: a variant key, or nowhere),
    // even when the look-up failed after it (the shared store failed): the origin answered.
    if (load?.kind === 'fetched') return replyFromCache(load.response, load.cacheStatus, at)
    if (load?.kind === 'revalidated') return replyFromCache(load.response, 'REVALIDATED', at)
    if (found.kind === 'failed') {
      const cause = (found.error as { cause?: unknown }).cause
      const failure =
        found.error instanceof OriginError ? found.error : cause instanceof OriginError ? cause : undefined
      // Another request's fetch brought this error page: one client's cookie or private page is never handed
      // to the others (as for an unstorable response, they ask the origin themselves).
      const page = failure?.response
      if (load === undefined && page !== undefined && this.#isPersonal(page.headers)) {
        return { kind: 'pass', cacheStatus: 'MISS' }
      }
      return replyFromFailure(page, failure?.failure === 'timeout', at)
    }

    const { value, hitLevel, reason } = found.info
    // A load found the response not cacheable (this request's or another's): go to the origin.
    if (value === undefined || value.kind !== 'response') return { kind: 'pass', cacheStatus: 'MISS' }

    // Stored for others, not for this request (RFC 9111 §3.5: Authorization): the origin answers it.
    if (!this.#o.policy.mayReuse(value.headers, request, this.#o)) return { kind: 'pass', cacheStatus: 'MISS' }
    // Stale because the origin is failing (this load, an earlier one, or a resurrected entry) is STALE;
    // stale while a refresh runs is UPDATING.
    const failing =
      reason === 'loader-failed' || reason === 'resurrected' || load?.kind === 'failed' || this.#failing.has(site.key)
    if (hitLevel === 4 && failing && !this.#o.policy.mayServeStaleOnError(value, at.now, this.#o)) {
      const failure = load?.kind === 'failed' ? load.error : undefined
      return replyFromFailure(failure?.response, failure?.failure === 'timeout', at)
    }
    return replyFromCache(value, hitLevel !== 4 ? 'HIT' : failing ? 'STALE' : 'UPDATING', at)
  }

  /** Whether response headers make a response one client's: a cookie or `private` the options do not allow sharing. */
  #isPersonal(headers: HeaderMap): boolean {
    if (headers['set-cookie'] !== undefined && this.#o.setCookie !== 'store') return true
    return !this.#o.allowPrivate && parseCacheControl(headers['cache-control']).has('private')
  }

  // ---- the load: one origin fetch for every request waiting on the key -------

  /** Fetch from the origin, and remember whether the origin is failing for `key`. */
  async #fetch(key: string, trip: OriginTrip): Promise<OriginLoad> {
    const load = await this.#origin.load(trip)
    if (load.kind === 'failed') this.#failing.failed(key)
    else this.#failing.recovered(key)
    return load
  }
}
