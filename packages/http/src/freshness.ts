import { deltaSeconds, parseCacheControl } from './cache-control.js'
import { type HeaderMap, headerValue } from './headers.js'

/** How long one response may be served, in milliseconds. */
export interface Freshness {
  /** Fresh for this long after it was received. `<= 0`: do not store. */
  readonly ttl: number
  /** After that, served stale at once while one refresh runs (RFC 5861 `stale-while-revalidate`). */
  readonly staleTtl: number
  /** After expiry, kept so it can be served when the origin fails (RFC 5861 `stale-if-error`). */
  readonly staleIfError: number
}

/**
 * Freshness from the origin's headers, with `defaults` where they say nothing:
 * explicit expiry wins over the configured `ttl`, as nginx lets `Cache-Control`
 * and `Expires` win over `proxy_cache_valid`.
 *
 * - `no-cache` (RFC 9111 §5.2.2.4): may only be reused after revalidation; we do not store it.
 * - freshness lifetime (§4.2.1): `s-maxage` (§5.2.2.10), else `max-age` (§5.2.2.1), else
 *   `Expires` minus `Date` (§5.3, §4.2.1); an invalid value means already stale. Minus `Age` (§4.2.3).
 * - `must-revalidate` / `proxy-revalidate` (§5.2.2.2, §5.2.2.8): never served stale.
 *   `s-maxage` implies `proxy-revalidate` for shared caches (§5.2.2.10), except that an explicit
 *   RFC 5861 directive beside it wins, because `s-maxage=60, stale-while-revalidate=30` means just that.
 * - `stale-while-revalidate` / `stale-if-error` (RFC 5861 §3, §4).
 */
export function originFreshness(headers: HeaderMap, defaults: Freshness, now: number): Freshness {
  const cc = parseCacheControl(headers['cache-control'])
  if (cc.has('no-cache')) return { ttl: 0, staleTtl: 0, staleIfError: 0 }

  const lifetime = lifetimeSeconds(cc, headers, now)
  const age = deltaSeconds(headerValue(headers, 'age')) ?? 0
  const ttl = lifetime === undefined ? defaults.ttl : (lifetime - age) * 1000

  return withStaleWindows(cc, ttl, defaults)
}

/**
 * A lifetime `ttl` with the stale windows the directives `cc` allow:
 * `must-revalidate` / `proxy-revalidate` (RFC 9111 §5.2.2.2, §5.2.2.8) none;
 * `s-maxage` (§5.2.2.10, implies `proxy-revalidate`) only the RFC 5861
 * directives beside it; otherwise those directives, else `defaults`.
 */
export function withStaleWindows(
  cc: ReadonlyMap<string, string>,
  ttl: number,
  defaults: Pick<Freshness, 'staleTtl' | 'staleIfError'>,
): Freshness {
  const swr = deltaSeconds(cc.get('stale-while-revalidate'))
  const sie = deltaSeconds(cc.get('stale-if-error'))
  if (cc.has('must-revalidate') || cc.has('proxy-revalidate')) return { ttl, staleTtl: 0, staleIfError: 0 }
  if (cc.has('s-maxage')) return { ttl, staleTtl: (swr ?? 0) * 1000, staleIfError: (sie ?? 0) * 1000 }
  return {
    ttl,
    staleTtl: swr === undefined ? defaults.staleTtl : swr * 1000,
    staleIfError: sie === undefined ? defaults.staleIfError : sie * 1000,
  }
}

/** The explicit freshness lifetime in seconds (RFC 9111 §4.2.1), `undefined` when the origin gives none. */
function lifetimeSeconds(cc: Map<string, string>, headers: HeaderMap, now: number): number | undefined {
  for (const directive of ['s-maxage', 'max-age']) {
    if (cc.has(directive)) return deltaSeconds(cc.get(directive)) ?? 0
  }
  const expires = headerValue(headers, 'expires')
  if (expires === undefined) return undefined
  const expiresAt = Date.parse(expires)
  if (Number.isNaN(expiresAt)) return 0
  const date = Date.parse(headerValue(headers, 'date') ?? '')
  return Math.max(0, Math.floor((expiresAt - (Number.isNaN(date) ? now : date)) / 1000))
}
