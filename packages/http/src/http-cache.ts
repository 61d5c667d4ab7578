import { randomBytes } from 'node:crypto'
import { type GetInfo, type GetOptions, type LoaderContext, TierCache } from '@tiercache/core'
import { deltaSeconds } from './cache-control.js'
import { variantKey, varyNames } from './cache-key.js'
import type { CacheRequest } from './cache-request.js'
import { type BypassReason, bypassReason, unstorableReason } from './cacheable.js'
import type { CachedResponse, HttpCacheValue, VaryIndex } from './cached-response.js'
import { freshenedHeaders, revalidationHeaders } from './conditional.js'
import { OriginError } from './errors.js'
import { type Freshness, originFreshness } from './freshness.js'
import { endToEnd, type HeaderMap, headerValue, type StoredHeaders } from './headers.js'
import type { HttpCacheOptions, ResolvedOptions } from './options.js'
import { resolveOptions } from './options.js'
import { drain, type Origin, type OriginBody, readBounded, untilAborted } from './origin.js'
import {
  type CacheStatus,
  type Outcome,
  type ReplyContext,
  replyFromCache,
  replyFromFailure,
  replyFromOrigin,
} from './reply.js'
import { responseTags, TagVersions } from './tag-versions.js'

/** Client headers that must not reach the origin on a cacheable request: the cache wants the whole, unconditional response. */
const CLIENT_VALIDATORS = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range']

/** How many keys the "origin is failing" memory holds before it forgets the oldest. */
const FAILING_MAX = 10_000

/** One request's passage through the cache: what its own load (if it ran one) did. */
interface Attempt {
  readonly request: CacheRequest
  /** The method sent to the origin: GET for a HEAD when `convertHead` is on. */
  readonly fetchMethod: string
  readonly origin: Origin
  /** This request's loader ran: it is the one that went to the origin. */
  loaded: boolean
  /** What its load did: MISS, EXPIRED or REVALIDATED. */
  status: CacheStatus
  /** Its load's origin failure. */
  failed: OriginError | undefined
  /** The response its load fetched for it, when the value cached under the key is something else (a Vary index). */
  response: CachedResponse | undefined
  /** An uncacheable response its load fetched, to stream to this client. */
  passthrough: { status: number; headers: Record<string, unknown>; body: OriginBody } | undefined
  /** False once the client has been answered: a later load must not leave a stream for it. */
  waiting: boolean
}

/** Where a load runs: at the primary key, or at a variant of a Vary index. */
interface Site {
  readonly primary: string
  readonly index?: VaryIndex | undefined
}

type Found =
  | { readonly kind: 'value'; readonly info: GetInfo<HttpCacheValue> }
  | { readonly kind: 'failed'; readonly error: unknown }
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
  readonly #tags: TagVersions
  /** The tag namespace when this engine built it (closed with the engine). */
  readonly #ownTagCache: TierCache<string> | undefined
  /** Headers never stored: recomputed on the way out, or per-request. */
  readonly #drop: ReadonlySet<string>
  readonly #callOptions: GetOptions
  readonly #defaults: Freshness
  /** Keys whose origin failed on their last load, so stale answers for them say STALE rather than UPDATING. */
  readonly #failing = new Map<string, number>()
  /** Deletes of tag-purged entries in progress, so concurrent readers share one. */
  readonly #reloads = new Map<string, Promise<void>>()

  constructor(options: HttpCacheOptions) {
    const o = resolveOptions(options)
    this.#o = o
    // Tag versions live next to the responses: same store, same IPC, their own namespace.
    // Without IPC no node could hear of a purge made elsewhere, so then L1 is off for them.
    this.#ownTagCache =
      o.tagCache === undefined
        ? new TierCache<string>({
            name: `${o.cache.name}:tags`,
            store: o.cache.store,
            ipc: o.cache.ipc,
            ttl: 0,
            lruSize: o.cache.ipc === undefined ? 0 : 10_000,
          })
        : undefined
    this.#tags = new TagVersions(o.tagCache ?? this.#ownTagCache!)
    const drop = ['age', 'content-length', ...(o.statusHeader === undefined ? [] : [o.statusHeader])]
    if (o.setCookie === 'strip') drop.push('set-cookie')
    this.#drop = new Set(drop)
    this.#callOptions = { ttl: o.ttl, staleTtl: o.staleTtl, resurrectTtl: o.resurrectTtl }
    this.#defaults = { ttl: o.ttl, staleTtl: o.staleTtl, staleIfError: o.staleIfError }
  }

  /** The options in force, defaults applied. */
  get options(): ResolvedOptions {
    return this.#o
  }

  /** Why `request` skips the cache (`X-Cache: BYPASS`), `undefined` when it is cacheable. */
  bypassReason(request: CacheRequest): BypassReason | undefined {
    return bypassReason(request, this.#o)
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
    const attempt: Attempt = {
      request,
      fetchMethod: this.#o.convertHead && request.method === 'HEAD' ? 'GET' : request.method,
      origin,
      loaded: false,
      status: 'MISS',
      failed: undefined,
      response: undefined,
      passthrough: undefined,
      waiting: true,
    }

    // 1. The primary key: a response, a Vary index, or a remembered "not cacheable"
    let key = primary
    let site: Site = { primary }
    let found = await this.#lookUp(key, attempt, site)

    // 2. The response varies: this request's variant (unless its own load just fetched it)
    const index = found.kind === 'value' ? found.info.value : undefined
    if (index?.kind === 'vary' && attempt.response === undefined && attempt.passthrough === undefined) {
      key = variantKey(primary, index.generation, index.names, request.headers)
      site = { primary, index }
      found = await this.#lookUp(key, attempt, site)
    }
    attempt.waiting = false

    // 3. The answer
    return this.#answer(key, site, found, attempt)
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
   * Make every response tagged `tag` (by a `tagHeaders` header) stale on every
   * node, in one write: the tag gets a new version, checked on read.
   */
  async purgeTag(tag: string): Promise<void> {
    if (typeof tag !== 'string' || tag.length === 0) throw new TypeError('tag must be a non-empty string')
    await this.#tags.purge(tag)
  }

  /** Stop listening to IPC for the tag namespace this engine built. The response cache is the caller's to close. */
  close(): void {
    this.#ownTagCache?.close()
  }

  // ---- the look-up ----------------------------------------------------------

  /**
   * One key through the TierCache, with this request's loader. A request whose
   * loader has not started within `lockTimeout` (another request is fetching)
   * stops waiting, like nginx's `proxy_cache_lock_timeout`.
   */
  #lookUp(key: string, attempt: Attempt, site: Site): Promise<Found> {
    const loader = (_key: string, ctx: LoaderContext<HttpCacheValue>) => this.#load(key, ctx, attempt, site)
    const got: Promise<Found> = this.#o.cache.getWithInfo(key, this.#callOptions, loader).then(
      (info) => ({ kind: 'value', info }),
      (error: unknown) => ({ kind: 'failed', error }),
    )
    // A fresh L1 entry answers within a microtask: no timer for the hot path.
    if (this.#o.lockTimeout === 0 || this.#o.cache.peek(key)?.stale === false) return got
    return new Promise<Found>((resolve) => {
      const timer = setTimeout(() => {
        if (!attempt.loaded) resolve({ kind: 'lock-timeout' })
      }, this.#o.lockTimeout)
      void got.then((found) => {
        clearTimeout(timer)
        resolve(found)
      })
    })
  }

  /** Turn what the look-up found into a reply. */
  async #answer(key: string, site: Site, found: Found, attempt: Attempt): Promise<Outcome> {
    const at: ReplyContext = {
      method: attempt.request.method,
      requestHeaders: attempt.request.headers,
      statusHeader: this.#o.statusHeader,
      now: Date.now(),
    }
    const passthrough = attempt.passthrough
    attempt.passthrough = undefined
    if (passthrough !== undefined) {
      if (found.kind === 'value' && found.info.hitLevel === 3) {
        return replyFromOrigin(passthrough.status, passthrough.headers, passthrough.body, attempt.status, at)
      }
      passthrough.body.cancel()
    }
    if (found.kind === 'lock-timeout') return { kind: 'pass', cacheStatus: 'MISS' }
    if (found.kind === 'failed') {
      const cause = (found.error as { cause?: unknown }).cause
      const failure =
        found.error instanceof OriginError ? found.error : cause instanceof OriginError ? cause : undefined
      return replyFromFailure(failure?.response, failure?.failure === 'timeout', at)
    }

    const { value, hitLevel, reason } = found.info
    const own = attempt.response ?? (attempt.loaded && hitLevel === 3 ? value : undefined)
    if (own?.kind === 'response') return replyFromCache(own, attempt.status, at)
    // A load found the response not cacheable (this request's or another's): go to the origin.
    if (value === undefined || value.kind !== 'response') return { kind: 'pass', cacheStatus: 'MISS' }

    if (value.tags !== undefined && !(await this.#tags.unchanged(value.tags))) {
      return this.#answer(key, site, await this.#afterTagPurge(key, site, attempt), attempt)
    }
    // Stale because the origin is failing (this load, an earlier one, or a resurrected entry) is STALE;
    // stale while a refresh runs is UPDATING.
    const failing = reason === 'loader-failed' || reason === 'resurrected' || this.#failing.has(key)
    const status: CacheStatus = hitLevel !== 4 ? 'HIT' : failing || attempt.failed !== undefined ? 'STALE' : 'UPDATING'
    return replyFromCache(value, status, at)
  }

  /** The entry outlived a purge of one of its tags: drop it (once for all concurrent readers) and look again. */
  async #afterTagPurge(key: string, site: Site, attempt: Attempt): Promise<Found> {
    let reload = this.#reloads.get(key)
    if (reload === undefined) {
      reload = this.#o.cache.delete(key).finally(() => this.#reloads.delete(key))
      this.#reloads.set(key, reload)
    }
    await reload
    attempt.waiting = true
    const found = await this.#lookUp(key, attempt, site)
    attempt.waiting = false
    return found
  }

  // ---- the load: one origin fetch for every request waiting on the key -------

  /**
   * The loader: fetch from the origin (conditionally when the expired entry has
   * validators), decide whether the response may be stored and for how long,
   * and return the value to cache — or `undefined`, remembered for `passTtl`,
   * when it may not. Origin failures throw, so the TierCache serves a stale
   * value when it keeps one (stale-if-error).
   */
  async #load(
    key: string,
    ctx: LoaderContext<HttpCacheValue>,
    attempt: Attempt,
    site: Site,
  ): Promise<HttpCacheValue | undefined> {
    const stale = ctx.staleValue
    // A Vary index needs no origin to stay valid: its variants carry their own freshness.
    if (stale?.kind === 'vary') return this.#keepIndex(ctx, stale)
    attempt.loaded = true

    const o = this.#o
    const { request } = attempt
    const validators = stale !== undefined && o.revalidate ? revalidationHeaders(stale) : undefined
    // The versions of the tags this URL had, as they are before the fetch: a purge that lands while
    // the origin works must not be outlived by what the origin made before it (see step 5).
    const tagsBefore = stale?.tags === undefined ? undefined : await this.#tags.current(Object.keys(stale.tags))
    const signal = AbortSignal.timeout(o.originTimeout)
    const fail = (error: OriginError) => {
      attempt.failed = error
      this.#failing.delete(key)
      this.#failing.set(key, Date.now())
      if (this.#failing.size > FAILING_MAX) this.#failing.delete(this.#failing.keys().next().value!)
      return error
    }

    // 1. The origin
    let response: Awaited<ReturnType<Origin>>
    try {
      response = await untilAborted(
        attempt.origin({
          method: attempt.fetchMethod,
          url: request.url,
          host: request.host,
          headers: originHeaders(request.headers, validators),
          body: request.body,
          signal,
        }),
        signal,
      )
    } catch (cause) {
      throw fail(new OriginError(signal.aborted ? 'timeout' : 'threw', { cause }))
    }
    const now = Date.now()
    const headers = endToEnd(response.headers, new Set())

    // 2. Not modified: the expired entry is good again, with the 304's headers (RFC 9111 §4.3.4)
    if (validators !== undefined && stale?.kind === 'response' && response.status === 304) {
      await drain(response.body, o.maxBodySize).catch(() => undefined)
      const revalidated: CachedResponse = {
        ...stale,
        headers: freshenedHeaders(stale.headers, headers, this.#drop),
        storedAt: now,
        initialAge: deltaSeconds(headerValue(headers, 'age')) ?? 0,
      }
      this.#failing.delete(key)
      attempt.status = 'REVALIDATED'
      attempt.response = revalidated
      const fresh = this.#freshness(revalidated.headers, now)
      if (fresh.ttl <= 0) return this.#pass(ctx, undefined)
      this.#setFreshness(ctx, fresh, revalidated)
      return revalidated
    }

    // 3. The origin failed: keep its error page for every waiter, serve stale if there is some
    if (o.errorStatuses.has(response.status)) {
      const body = await untilAborted(drain(response.body, o.maxBodySize), signal).catch(() => undefined)
      throw fail(
        new OriginError('status', {
          response: {
            status: response.status,
            headers: endToEnd(response.headers, this.#drop),
            body: body ?? new Uint8Array(),
          },
        }),
      )
    }
    this.#failing.delete(key)
    attempt.status = stale === undefined ? 'MISS' : 'EXPIRED'

    // 4. May it be stored? For how long? Does it fit?
    const fresh = this.#freshness(headers, now)
    const declared = Number(headerValue(headers, 'content-length'))
    const unstorable =
      unstorableReason(response.status, headers, o) !== undefined || fresh.ttl <= 0 || declared > o.maxBodySize
    if (unstorable) return this.#pass(ctx, attempt.waiting && !ctx.refreshing ? attempt : undefined, response)
    let read: Awaited<ReturnType<typeof readBounded>>
    try {
      read = await untilAborted(readBounded(response.body, o.maxBodySize), signal)
    } catch (cause) {
      response.body.cancel()
      throw fail(new OriginError(signal.aborted ? 'timeout' : 'threw', { cause }))
    }
    if (!read.complete) {
      return this.#pass(ctx, attempt.waiting && !ctx.refreshing ? attempt : undefined, { ...response, body: read.body })
    }

    // 5. The entry, with its tags' versions as they were when the fetch started
    const stored = endToEnd(response.headers, this.#drop)
    const tagNames = responseTags(headers, o.tagHeaders)
    const tags = tagNames.length > 0 ? await this.#tags.current(tagNames) : undefined
    for (const tag of tagNames) {
      const before = tagsBefore?.[tag]
      // Purged during the fetch: record the old version, so the entry is stale at its first read.
      if (before !== undefined) tags![tag] = before
    }
    const record: CachedResponse = {
      kind: 'response',
      status: response.status,
      headers: stored,
      body: read.bytes,
      storedAt: now,
      initialAge: deltaSeconds(headerValue(headers, 'age')) ?? 0,
      tags,
    }
    attempt.response = record
    this.#setFreshness(ctx, fresh, record)

    // 6. Vary: the response goes under its variant key, the primary key holds the index
    return this.#placeVariant(ctx, record, { response: headers, request: request.headers }, site)
  }

  /**
   * Where a response with (or without) `Vary` goes. At the primary key, a
   * varying response is stored under its variant key and the index is what
   * the primary key caches. At a variant key, the index is extended, or
   * replaced with a new generation when the origin changed its `Vary`.
   */
  async #placeVariant(
    ctx: LoaderContext<HttpCacheValue>,
    record: CachedResponse,
    headers: { response: StoredHeaders; request: HeaderMap },
    site: Site,
  ): Promise<HttpCacheValue> {
    const o = this.#o
    const names = varyNames(headers.response) as string[] // '*' was refused as unstorable
    const same = site.index !== undefined && site.index.names.join() === names.join()
    if (names.length === 0 && site.index === undefined) return record
    const freshness = { ttl: ctx.ttl, staleTtl: ctx.staleTtl, resurrectTtl: ctx.resurrectTtl }
    const indexFreshness = this.#indexFreshness()
    if (names.length === 0) {
      // It stopped varying: the primary key holds the response itself again.
      await o.cache.set(site.primary, record, freshness)
      return record
    }
    const index: VaryIndex = same
      ? site.index!
      : { kind: 'vary', names, generation: randomBytes(6).toString('base64url') }
    const variant = variantKey(site.primary, index.generation, names, headers.request)
    if (site.index === undefined) {
      await o.cache.set(variant, record, freshness)
      Object.assign(ctx, indexFreshness)
      return index
    }
    if (!same) await o.cache.set(variant, record, freshness)
    await o.cache.set(site.primary, index, indexFreshness)
    return record
  }

  /** Keep a Vary index another `varyTtl`, same generation, so its variants stay reachable. */
  #keepIndex(ctx: LoaderContext<HttpCacheValue>, index: VaryIndex): VaryIndex {
    Object.assign(ctx, this.#indexFreshness())
    return index
  }

  /**
   * A Vary index is renewed without the origin (`#keepIndex`): it is served
   * stale at once for another `varyTtl` while that renewal runs, so its
   * generation — and every variant under it — outlives one `varyTtl`.
   */
  #indexFreshness() {
    return { ttl: this.#o.varyTtl, staleTtl: this.#o.varyTtl, resurrectTtl: 0 }
  }

  /**
   * The response may not be cached: remember that for `passTtl` (as `undefined`)
   * and stream it to the client that caused the fetch; waiters go to the origin.
   */
  #pass(
    ctx: LoaderContext<HttpCacheValue>,
    attempt: Attempt | undefined,
    response?: { status: number; headers: Record<string, unknown>; body: OriginBody },
  ): undefined {
    // negTtl 0 would mean "forever": 1 ms is "not remembered".
    Object.assign(ctx, { negTtl: this.#o.passTtl || 1, staleTtl: 0, resurrectTtl: 0 })
    if (response !== undefined) {
      if (attempt !== undefined) attempt.passthrough = response
      else response.body.cancel()
    }
    return undefined
  }

  /**
   * The loader's freshness for an entry. The core keeps an entry for
   * max(staleTtl, resurrectTtl) past expiry, so `resurrectTtl` carries the
   * stale-if-error window, widened to `revalidateTtl` when the entry can be
   * revalidated (the next load then sees it as `ctx.staleValue`).
   */
  #setFreshness(ctx: LoaderContext<HttpCacheValue>, fresh: Freshness, entry: CachedResponse): void {
    const o = this.#o
    const revalidatable = o.revalidate && revalidationHeaders(entry) !== undefined
    ctx.ttl = Math.max(1, fresh.ttl)
    ctx.staleTtl = fresh.staleTtl
    ctx.resurrectTtl = Math.max(fresh.staleIfError, revalidatable ? o.revalidateTtl : 0)
  }

  #freshness(headers: HeaderMap, now: number): Freshness {
    return this.#o.respectCacheControl ? originFreshness(headers, this.#defaults, now) : this.#defaults
  }
}

/** The client's headers minus its validators, plus the cache's own (when revalidating). */
function originHeaders(headers: HeaderMap, validators: Record<string, string> | undefined): HeaderMap {
  const forwarded: HeaderMap = { ...headers }
  for (const name of CLIENT_VALIDATORS) delete forwarded[name]
  return validators === undefined ? forwarded : { ...forwarded, ...validators }
}
