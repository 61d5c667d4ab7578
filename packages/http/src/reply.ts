import { ageSeconds, type CachedResponse } from './cached-response.js'
import { isNotModified, notModifiedHeaders } from './conditional.js'
import type { FailedResponse } from './errors.js'
import { endToEnd, type HeaderMap, type StoredHeaders } from './headers.js'
import type { OriginBody } from './origin.js'
import { requestedRange } from './policy/byte-range.js'

/**
 * How the cache answered, in nginx's `$upstream_cache_status` words:
 * - `HIT` fresh from the cache (this node's memory or the shared store);
 * - `MISS` nothing usable was cached: the origin answered this request;
 * - `EXPIRED` an expired entry was replaced by the origin's answer to this request;
 * - `REVALIDATED` an expired entry was confirmed by the origin (304) and served;
 * - `UPDATING` served stale at once while one refresh runs (stale-while-revalidate);
 * - `STALE` served stale because the origin is failing (stale-if-error);
 * - `BYPASS` the request is not cacheable (method, `Authorization`, …): straight to the origin.
 */
export type CacheStatus = 'HIT' | 'MISS' | 'EXPIRED' | 'REVALIDATED' | 'UPDATING' | 'STALE' | 'BYPASS'

/** A response ready to write: integrations copy it to their own response object. */
export interface Reply {
  readonly status: number
  /** Final headers, lowercase names, the status header included. */
  readonly headers: StoredHeaders
  /** Bytes from the cache, the origin's streaming body, or `undefined` for none (HEAD, 304, 204). */
  readonly body: Uint8Array | OriginBody | undefined
  readonly cacheStatus: CacheStatus
}

/**
 * What the engine decided for one request: a reply to write, or `pass` — send
 * the request to the origin the integration's own way (the response is not
 * cached), adding `cacheStatus` as the status header.
 */
export type Outcome = ReplyOutcome | { readonly kind: 'pass'; readonly cacheStatus: CacheStatus }

/** The engine's decision to answer with a reply. */
export type ReplyOutcome = { readonly kind: 'reply' } & Reply

/** Settings the reply builders need. */
export interface ReplyContext {
  readonly method: string
  readonly requestHeaders: HeaderMap
  readonly statusHeader: string | undefined
  /** The cache's clock, for `Age`. */
  readonly now: number
  /** Answer a single byte `Range` on a stored 200 with a 206 (RFC 9110 §14.2); off, `Range` is ignored. */
  readonly ranges?: boolean | undefined
}

/** Statuses that never carry content, so no `Content-Length` either (RFC 9110 §8.6, §15.3.5, §15.4.5). */
export const noContent = (status: number): boolean =>
  status === 204 || status === 304 || (status >= 100 && status < 200)

/**
 * The reply for a cached response: a 304 when the client's validators match
 * (RFC 9110 §13.2.2), else the stored response. `Age` (RFC 9111 §5.1) goes on
 * whatever was not just fetched from the origin for this request.
 */
export function replyFromCache(cached: CachedResponse, cacheStatus: CacheStatus, at: ReplyContext): ReplyOutcome {
  const fromOrigin = cacheStatus === 'MISS' || cacheStatus === 'EXPIRED' || cacheStatus === 'REVALIDATED'
  const age = fromOrigin ? cached.initialAge : ageSeconds(cached, at.now)
  if (isNotModified(at.method, at.requestHeaders, cached)) {
    const headers = notModifiedHeaders(cached)
    if (age > 0) headers.age = String(age)
    return reply(304, headers, undefined, cacheStatus, at)
  }
  const headers: StoredHeaders = { ...cached.headers }
  if (age > 0) headers.age = String(age)
  const size = cached.body.byteLength
  const range = at.ranges && cached.status === 200 ? requestedRange(at.requestHeaders, cached.headers, size) : undefined
  if (range === 'unsatisfiable') {
    headers['content-range'] = `bytes */${size}`
    headers['content-length'] = '0'
    return reply(416, headers, undefined, cacheStatus, at)
  }
  if (range !== undefined) {
    headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`
    headers['content-length'] = String(range.end - range.start + 1)
    const part = at.method === 'HEAD' ? undefined : cached.body.subarray(range.start, range.end + 1)
    return reply(206, headers, part, cacheStatus, at)
  }
  // A stored Content-Length is a cached HEAD response's (convertHead: false): it answers HEADs only.
  const stored = at.method === 'HEAD' ? cached.headers['content-length'] : undefined
  if (!noContent(cached.status)) headers['content-length'] = typeof stored === 'string' ? stored : String(size)
  const body = at.method === 'HEAD' || noContent(cached.status) ? undefined : cached.body
  return reply(cached.status, headers, body, cacheStatus, at)
}

/** The reply for an origin response that is not cached: streamed through, hop-by-hop fields removed. */
export function replyFromOrigin(
  status: number,
  originHeaders: Record<string, unknown>,
  body: Uint8Array | OriginBody,
  cacheStatus: CacheStatus,
  at: Omit<ReplyContext, 'now'>,
): ReplyOutcome {
  const headers = endToEnd(originHeaders, at.statusHeader === undefined ? new Set() : new Set([at.statusHeader]))
  if (body instanceof Uint8Array) {
    if (!noContent(status)) headers['content-length'] = String(body.byteLength)
  }
  const skip = at.method === 'HEAD' || noContent(status)
  if (skip && !(body instanceof Uint8Array)) body.cancel()
  return reply(status, headers, skip ? undefined : body, cacheStatus, at)
}

/** The reply for a failed origin: its own error page when it sent one, else 502 (or 504 for a time-out). */
export function replyFromFailure(
  response: FailedResponse | undefined,
  timedOut: boolean,
  at: Omit<ReplyContext, 'now'>,
): ReplyOutcome {
  if (response !== undefined) return replyFromOrigin(response.status, response.headers, response.body, 'MISS', at)
  const status = timedOut ? 504 : 502
  const body = new TextEncoder().encode(timedOut ? 'Gateway Timeout\n' : 'Bad Gateway\n')
  return replyFromOrigin(status, { 'content-type': 'text/plain; charset=utf-8' }, body, 'MISS', at)
}

function reply(
  status: number,
  headers: StoredHeaders,
  body: Uint8Array | OriginBody | undefined,
  cacheStatus: CacheStatus,
  at: Omit<ReplyContext, 'now'>,
): ReplyOutcome {
  if (at.statusHeader !== undefined) headers[at.statusHeader] = cacheStatus
  return { kind: 'reply', status, headers, body, cacheStatus }
}
