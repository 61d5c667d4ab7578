import { deltaSeconds, parseCacheControl } from '../cache-control.js'
import { type Freshness, withStaleWindows } from '../freshness.js'
import { type HeaderMap, headerValue } from '../headers.js'
import { ageFieldSeconds } from './age.js'
import { isHeuristicallyCacheable, lastModifiedLifetime } from './heuristic.js'
import { parseHttpDate } from './http-date.js'
import { targetedDirectives } from './targeted-field.js'

/** The caching directives that govern one response, and where they came from. */
export interface ResponseDirectives {
  readonly directives: ReadonlyMap<string, string>
  /** From a targeted field (RFC 9213): `Cache-Control` and `Expires` are then ignored. */
  readonly targeted: boolean
}

/** The first valid targeted field in `targetedFields`, else `Cache-Control` (RFC 9213 §2.2). */
export function responseDirectives(headers: HeaderMap, targetedFields: readonly string[]): ResponseDirectives {
  const targeted = targetedDirectives(headers, targetedFields)
  if (targeted !== undefined) return { directives: targeted, targeted: true }
  return { directives: parseCacheControl(headers['cache-control']), targeted: false }
}

/**
 * The explicit freshness lifetime in seconds (RFC 9111 §4.2.1): `s-maxage`
 * (shared caches, §5.2.2.10), else `max-age` (§5.2.2.1), else `Expires` minus
 * `Date` (§5.3; `Date` missing or invalid: the time of receipt). An invalid
 * `max-age` or `Expires` (two `Expires` lines included) is already expired, 0.
 * `undefined` when the response gives none.
 */
export function explicitLifetime(response: ResponseDirectives, headers: HeaderMap, now: number): number | undefined {
  const { directives } = response
  for (const name of ['s-maxage', 'max-age']) {
    if (directives.has(name)) return deltaSeconds(directives.get(name)) ?? 0
  }
  if (response.targeted) return undefined
  const expiresValue = headerValue(headers, 'expires')
  if (expiresValue === undefined) return undefined
  const expires = parseHttpDate(expiresValue, now)
  if (expires === undefined) return 0
  const dateValue = headerValue(headers, 'date')
  const date = (dateValue === undefined ? undefined : parseHttpDate(dateValue, now)) ?? now
  return Math.max(0, Math.floor((expires - date) / 1000))
}

/** Settings the freshness rules read. */
export interface FreshnessSettings {
  /** Heuristic lifetime (ms) for a heuristically cacheable response without `Last-Modified`; 0: none. */
  readonly ttl: number
  readonly staleTtl: number
  readonly staleIfError: number
}

/**
 * How long a response is fresh and may be served stale, by RFC 9111 alone:
 * - `no-cache` (§5.2.2.4): never fresh; kept only to be revalidated;
 * - lifetime (§4.2.1): explicit, else heuristic (§4.2.2) for heuristically
 *   cacheable statuses or `public`: 10 % of the time since `Last-Modified`,
 *   else the configured `ttl` (0 by default: not reused);
 * - minus the `Age` it arrived with (§4.2.3, first value, invalid ignored);
 * - `must-revalidate`, `proxy-revalidate` and `s-maxage` (§5.2.2.2, §5.2.2.8,
 *   §5.2.2.10) forbid serving it stale, except for an explicit RFC 5861
 *   directive next to `s-maxage`;
 * - `stale-while-revalidate`, `stale-if-error` (RFC 5861), else the options.
 */
export function rfc9111Freshness(
  response: { readonly status: number; readonly headers: HeaderMap },
  now: number,
  settings: FreshnessSettings & { readonly targetedFields: readonly string[] },
): Freshness {
  const parsed = responseDirectives(response.headers, settings.targetedFields)
  const cc = parsed.directives
  if (cc.has('no-cache')) return { ttl: 0, staleTtl: 0, staleIfError: 0 }
  const lifetime =
    explicitLifetime(parsed, response.headers, now) ??
    (isHeuristicallyCacheable(response.status, cc)
      ? (lastModifiedLifetime(response.headers, now) ?? settings.ttl / 1000)
      : 0)
  return withStaleWindows(cc, (lifetime - ageFieldSeconds(response.headers)) * 1000, settings)
}
