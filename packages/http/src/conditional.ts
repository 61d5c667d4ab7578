import type { CachedResponse } from './cached-response.js'
import { endToEnd, type HeaderMap, headerValue, type StoredHeaders } from './headers.js'

/**
 * Whether a conditional GET/HEAD can be answered `304 Not Modified` from the
 * cached response (RFC 9110 §13.2.2 order of evaluation):
 * `If-None-Match` with weak comparison (§13.1.2) first; `If-Modified-Since`
 * (§13.1.3) only when there is no `If-None-Match`, and ignored when it is not a
 * valid date. Only a cached 200 is compared: for any other status the
 * condition does not apply (§13.2.1).
 */
export function isNotModified(method: string, request: HeaderMap, cached: CachedResponse): boolean {
  if (cached.status !== 200 || (method !== 'GET' && method !== 'HEAD')) return false
  const ifNoneMatch = headerValue(request, 'if-none-match')
  if (ifNoneMatch !== undefined) {
    const etag = headerValue(cached.headers, 'etag')
    return etag !== undefined && etagListMatches(ifNoneMatch, etag)
  }
  const ifModifiedSince = headerValue(request, 'if-modified-since')
  if (ifModifiedSince === undefined) return false
  const since = Date.parse(ifModifiedSince)
  const modified = Date.parse(headerValue(cached.headers, 'last-modified') ?? '')
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since
}

/** `*`, or a list of entity tags one of which weakly matches `etag` (RFC 9110 §8.8.3.2: `W/` is ignored). */
function etagListMatches(list: string, etag: string): boolean {
  if (list.trim() === '*') return true
  const opaque = weak(etag)
  return list.split(',').some((candidate) => weak(candidate.trim()) === opaque)
}

const weak = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag)

/** Fields a 304 carries (RFC 9110 §15.4.5): those a 200 would have had that help caches update. */
const NOT_MODIFIED_FIELDS = ['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary'] as const

/** The headers of a 304 answering for `cached`. */
export function notModifiedHeaders(cached: CachedResponse): StoredHeaders {
  const headers: StoredHeaders = {}
  for (const name of NOT_MODIFIED_FIELDS) {
    const value = cached.headers[name]
    if (value !== undefined) headers[name] = value
  }
  return headers
}

/**
 * Validators to revalidate `cached` with the origin (RFC 9111 §4.3.1), like
 * nginx's `proxy_cache_revalidate`; `undefined` when it has none.
 */
export function revalidationHeaders(cached: CachedResponse): Record<string, string> | undefined {
  const etag = headerValue(cached.headers, 'etag')
  const modified = headerValue(cached.headers, 'last-modified')
  if (etag === undefined && modified === undefined) return undefined
  const headers: Record<string, string> = {}
  if (etag !== undefined) headers['if-none-match'] = etag
  if (modified !== undefined) headers['if-modified-since'] = modified
  return headers
}

/**
 * The stored header fields updated from a 304 (RFC 9111 §4.3.4 → §3.2): every
 * field the 304 carries replaces the stored one, except hop-by-hop fields, the
 * `drop` list and `Content-Length` (a 304 has no content to measure).
 */
export function freshenedHeaders(
  stored: StoredHeaders,
  notModified: Record<string, unknown>,
  drop: ReadonlySet<string>,
): StoredHeaders {
  const update = endToEnd(notModified, drop)
  delete update['content-length']
  return { ...stored, ...update }
}
