import { createHash } from 'node:crypto'
import type { CacheRequest } from './cache-request.js'
import { type HeaderMap, headerList, headerValue } from './headers.js'

/**
 * Maps a request to the key its response is cached under. Requests with the
 * same key share one response (before `Vary`, which is always applied on top).
 *
 * @example
 * // one response per method, user agent and URI
 * const key: CacheKeyFunction = (req) => `${req.method}:${req.headers['user-agent'] ?? ''}:${req.url}`
 */
export type CacheKeyFunction = (request: CacheRequest) => string

/**
 * The default key: method, host and the URL exactly as received, e.g.
 * `GET example.com/search?b=2&a=1`. The host is part of it so that two virtual
 * hosts behind one cache can never be served each other's responses. Distinct
 * URIs stay distinct, as RFC 9111 §2 keys by the target URI and nginx and
 * Varnish do: `?a=1&b=2` and `?b=2&a=1`, `+` and `%20`, `?a` and `?a=` may be
 * different resources to the origin. For a shared key across such spellings,
 * opt in with `key: normalisedCacheKey`.
 */
export function defaultCacheKey(request: CacheRequest): string {
  return `${request.method} ${keyHost(request.host)}${request.url}`
}

/**
 * A key that treats spellings of one query as one resource: method, host and
 * URL with the query sorted and re-encoded (`normaliseUrl`), so `?b=2&a=1`,
 * `?a=1&b=%32` share a response. Use it only when the origin reads its query
 * that way: it also merges `+` with `%20`, `?a` with `?a=` and `%zz` with `%25zz`.
 *
 * @example new HttpCache({ cache, key: normalisedCacheKey })
 */
export function normalisedCacheKey(request: CacheRequest): string {
  return `${request.method} ${keyHost(request.host)}${normaliseUrl(request.url)}`
}

/** A host name or IP literal with an optional port: what a `Host` is (RFC 9110 §7.2). */
const PLAIN_HOST = /^(?:[A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])(?::\d+)?$/

/** The last host found plain: nearly every request names the one before it did. */
let lastPlainHost = ''

/**
 * The host as the key spells it. Nothing in the key separates the host from
 * the URL after it, and `node:http` lets any `Host` value through: a client
 * sending `Host: victim.example/admin` for `/` would have its response keyed
 * as `GET victim.example/admin/` and served for that URL (cache poisoning, as
 * most origins serve by path whatever the Host says). A host that is not a
 * plain name/address and port is percent-encoded, so it never contains `/`
 * and never equals a plain one (it holds a `%` or a character no plain host has).
 */
function keyHost(host: string): string {
  if (host === lastPlainHost) return host
  if (!PLAIN_HOST.test(host)) return encodeURIComponent(host)
  lastPlainHost = host
  return host
}

/**
 * The path as received and the query with its parameters sorted by name
 * (values of one name keep their order) and re-encoded, so `?b=2&a=1` and
 * `?a=1&b=%32` name one resource. The fragment never reaches a server.
 */
export function normaliseUrl(url: string): string {
  const at = url.indexOf('?')
  if (at === -1) return url
  const params = new URLSearchParams(url.slice(at + 1))
  params.sort()
  const query = params.toString()
  return query.length === 0 ? url.slice(0, at) : `${url.slice(0, at)}?${query}`
}

/**
 * The request headers a response varies on (RFC 9110 §12.5.5), lowercased,
 * sorted and without repeats; `'*'` when it varies on something outside the
 * request, which makes it unusable for any other request (RFC 9111 §4.1).
 */
export function varyNames(responseHeaders: HeaderMap): string[] | '*' {
  const names = headerList(responseHeaders, 'vary')
  if (names.includes('*')) return '*'
  return [...new Set(names)].sort()
}

/**
 * The key of one variant: the primary key, the generation of its Vary index
 * (so a purge of the index orphans every old variant at once) and a digest of
 * the request's values for the Vary headers. Values are compared after
 * collapsing whitespace around commas (RFC 9111 §4.1 allows normalising them).
 */
export function variantKey(primary: string, generation: string, names: readonly string[], headers: HeaderMap): string {
  const digest = createHash('sha256')
  for (const name of names) {
    const value = headerValue(headers, name)
    digest.update(`${name}\0${value === undefined ? '\u0001' : value.trim().replace(/\s*,\s*/g, ',')}\n`)
  }
  return `${primary}\nvary:${generation}:${digest.digest('base64url').slice(0, 22)}`
}
