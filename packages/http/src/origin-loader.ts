import type { Clock } from '@tiercache/core'
import type { CacheRequest } from './cache-request.js'
import type { CachedResponse } from './cached-response.js'
import { freshenedHeaders, revalidationHeaders } from './conditional.js'
import { OriginError } from './errors.js'
import { endToEnd, type HeaderMap, headerValue } from './headers.js'
import type { ResolvedOptions } from './options.js'
import { drain, heldToLength, type Origin, type OriginResponse, readBounded, untilAborted } from './origin.js'
import { ageFieldSeconds } from './policy/age.js'
import type { PolicyFreshness } from './policy/http-cache-policy.js'
import { noContent } from './reply.js'

/** Client headers that must not reach the origin on a cacheable request: the cache wants the whole, unconditional response. */
const CLIENT_VALIDATORS = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range']

/** What one trip to the origin brought back, for the cache and for the client that caused it. */
export type OriginLoad =
  /** A storable response, read whole; `MISS` when nothing was cached, `EXPIRED` when it replaces an expired entry. */
  | {
      readonly kind: 'fetched'
      readonly cacheStatus: 'MISS' | 'EXPIRED'
      readonly response: CachedResponse
      readonly freshness: PolicyFreshness
    }
  /** The origin confirmed the expired entry (304): the entry with the 304's headers. */
  | { readonly kind: 'revalidated'; readonly response: CachedResponse; readonly freshness: PolicyFreshness }
  /** A response that may not be stored, still streaming, for the client that caused the fetch. */
  | { readonly kind: 'unstorable'; readonly cacheStatus: 'MISS' | 'EXPIRED'; readonly response: OriginResponse }
  /** The origin threw, timed out, broke off, or answered a status the policy counts as a failure. */
  | { readonly kind: 'failed'; readonly error: OriginError }

/** One trip to the origin: the request that caused it, and the expired entry it may revalidate. */
export interface OriginTrip {
  readonly request: CacheRequest
  /** The method sent to the origin: GET for a HEAD when `convertHead` is on. */
  readonly method: string
  readonly origin: Origin
  readonly stale: CachedResponse | undefined
}

/** Lets go of what a load holds open (an unstorable response's stream) when nobody will read it. */
export function discardLoad(load: OriginLoad): void {
  if (load.kind === 'unstorable') load.response.body.cancel()
}

/**
 * Fetches from the origin (conditionally when the expired entry has
 * validators) and decides whether the response may be stored and for how long.
 * Every failure is a `failed` result, never a throw, so the caller decides how
 * the cache hears of it.
 */
export class OriginLoader {
  readonly #o: ResolvedOptions
  readonly #clock: Clock
  /** Headers never stored: recomputed on the way out, or per-request. */
  readonly #drop: ReadonlySet<string>

  constructor(options: ResolvedOptions, clock: Clock) {
    this.#o = options
    this.#clock = clock
    const drop = ['age', 'content-length', ...(options.statusHeader === undefined ? [] : [options.statusHeader])]
    if (options.setCookie === 'strip') drop.push('set-cookie')
    this.#drop = new Set(drop)
  }

  async load(trip: OriginTrip): Promise<OriginLoad> {
    // `originTimeout` bounds the origin until the cache has decided: a response read whole, or one that
    // streams through uncached (too large, not storable). The latter's body is the client's from then on,
    // paced by the client, as a passed request's is: a download still flowing is not cut at the timeout.
    const controller = new AbortController()
    const timer = setTimeout(
      () => controller.abort(new DOMException('The origin did not answer within originTimeout', 'TimeoutError')),
      // A timer past 2^31 - 1 ms would fire at once.
      Math.min(this.#o.originTimeout, 2 ** 31 - 1),
    )
    try {
      return await this.#load(trip, controller.signal)
    } finally {
      clearTimeout(timer)
    }
  }

  async #load(trip: OriginTrip, signal: AbortSignal): Promise<OriginLoad> {
    const o = this.#o
    const { request, stale } = trip
    const validators = stale !== undefined && o.revalidate ? revalidationHeaders(stale) : undefined
    const failed = (cause: unknown, before: 'threw' | 'broke'): OriginLoad => ({
      kind: 'failed',
      error: new OriginError(signal.aborted ? 'timeout' : before, { cause }),
    })

    // 1. The origin
    let response: OriginResponse
    try {
      response = await untilAborted(
        trip.origin({
          method: trip.method,
          url: request.url,
          host: request.host,
          headers: originHeaders(request.headers, validators),
          body: request.body,
          signal,
        }),
        signal,
      )
    } catch (cause) {
      return failed(cause, 'threw')
    }
    const now = this.#clock.now()
    const headers = endToEnd(response.headers, new Set())
    const declared = declaredLength(headers, response.status, trip.method)
    if (declared !== undefined) response = { ...response, body: heldToLength(response.body, declared) }

    // 2. Not modified: the expired entry is good again, with the 304's headers (RFC 9111 §4.3.4)
    if (validators !== undefined && stale !== undefined && response.status === 304) {
      await drain(response.body, o.maxBodySize).catch(() => undefined)
      // A 304 naming another validator than the entry's does not select it (RFC 9111 §4.3.4): merging it
      // would serve the old body under the new validator. The response is fetched whole instead.
      if (!selects(headers, stale.headers)) {
        const whole = await this.#load({ ...trip, stale: undefined }, signal)
        return whole.kind === 'fetched' || whole.kind === 'unstorable' ? { ...whole, cacheStatus: 'EXPIRED' } : whole
      }
      const revalidated: CachedResponse = {
        ...stale,
        headers: freshenedHeaders(stale.headers, headers, this.#drop),
        storedAt: now,
        initialAge: ageFieldSeconds(headers),
      }
      // The 304's fields join the entry, so they face the same storability rules as a 200's: a 304 that sets
      // a cookie or says private/no-store answers the client that caused it, and is stored for nobody (a zero
      // freshness the load storage does not keep), or one client's session would be served to everyone.
      const unstorable =
        o.policy.unstorableReason({ status: revalidated.status, headers: revalidated.headers }, request, o) !==
        undefined
      const freshness = unstorable
        ? { ttl: 0, staleTtl: 0, staleIfError: 0, keepToRevalidate: false }
        : this.#freshness(revalidated.status, revalidated.headers, now)
      return { kind: 'revalidated', response: revalidated, freshness }
    }

    // 3. The origin failed: keep its error page for every waiter
    if (o.policy.isOriginFailure({ status: response.status, headers }, o)) {
      const body = await untilAborted(drain(response.body, o.maxBodySize), signal).catch(() => undefined)
      const page = {
        status: response.status,
        headers: endToEnd(response.headers, this.#drop),
        body: body ?? new Uint8Array(),
      }
      return { kind: 'failed', error: new OriginError('status', { response: page }) }
    }
    const cacheStatus = stale === undefined ? 'MISS' : 'EXPIRED'

    // 4. May it be stored? For how long? Does it fit?
    const freshness = this.#freshness(response.status, headers, now)
    // Never fresh: worth keeping only when the policy keeps such responses to revalidate them, and they can be.
    const neverFresh = freshness.ttl <= 0 && !(freshness.keepToRevalidate && o.revalidate && hasValidators(headers))
    const unstorable =
      o.policy.unstorableReason({ status: response.status, headers }, request, o) !== undefined ||
      neverFresh ||
      (declared ?? 0) > o.maxBodySize
    if (unstorable) return { kind: 'unstorable', cacheStatus, response }
    let read: Awaited<ReturnType<typeof readBounded>>
    try {
      read = await untilAborted(readBounded(response.body, o.maxBodySize), signal)
    } catch (cause) {
      response.body.cancel()
      return failed(cause, 'broke')
    }
    if (!read.complete) return { kind: 'unstorable', cacheStatus, response: { ...response, body: read.body } }

    // 5. The entry (its tags are in its headers: the load storage hands them to the cache)
    const stored = endToEnd(response.headers, this.#drop)
    // A HEAD's response has no body to measure: its Content-Length is the GET's, kept for the HEADs it answers.
    const headLength = trip.method === 'HEAD' ? headerValue(headers, 'content-length') : undefined
    if (headLength !== undefined && /^\d+$/.test(headLength)) stored['content-length'] = headLength
    const entry: CachedResponse = {
      kind: 'response',
      status: response.status,
      headers: stored,
      body: read.bytes,
      storedAt: now,
      initialAge: ageFieldSeconds(headers),
    }
    return { kind: 'fetched', cacheStatus, response: entry, freshness }
  }

  #freshness(status: number, headers: HeaderMap, now: number): PolicyFreshness {
    return this.#o.policy.freshness({ status, headers }, now, this.#o)
  }
}

/**
 * The body length a response declares (RFC 9110 §8.6), when it must have a
 * body of that length: not for HEAD, nor for statuses without content.
 */
function declaredLength(headers: HeaderMap, status: number, method: string): number | undefined {
  const field = headerValue(headers, 'content-length')
  if (field === undefined || !/^\d+$/.test(field) || method === 'HEAD' || noContent(status)) return undefined
  return Number(field)
}

/**
 * Whether a 304 selects the stored response it answers (RFC 9111 §4.3.4): each validator it carries
 * (`ETag`, weakly compared; `Last-Modified`) is the stored one's; one it does not carry does not count.
 */
function selects(notModified: HeaderMap, stored: HeaderMap): boolean {
  const weak = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag)
  const etag = headerValue(notModified, 'etag')
  const storedEtag = headerValue(stored, 'etag')
  if (etag !== undefined && storedEtag !== undefined && weak(etag.trim()) !== weak(storedEtag.trim())) return false
  const modified = headerValue(notModified, 'last-modified')
  const storedModified = headerValue(stored, 'last-modified')
  if (etag === undefined && modified !== undefined && storedModified !== undefined) {
    return Date.parse(modified) === Date.parse(storedModified)
  }
  return true
}

/** Whether a response carries a validator to revalidate it with (RFC 9111 §4.3.1). */
function hasValidators(headers: HeaderMap): boolean {
  return headers.etag !== undefined || headers['last-modified'] !== undefined
}

/** The client's headers minus its validators, plus the cache's own (when revalidating). */
function originHeaders(headers: HeaderMap, validators: Record<string, string> | undefined): HeaderMap {
  const forwarded: HeaderMap = { ...headers }
  for (const name of CLIENT_VALIDATORS) delete forwarded[name]
  return validators === undefined ? forwarded : { ...forwarded, ...validators }
}
