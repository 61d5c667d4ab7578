import { type HeaderMap, headerValue } from '../headers.js'
import { parseHttpDate } from './http-date.js'

/** Statuses a cache may give heuristic freshness (RFC 9110 §15.1 lists them as "heuristically cacheable"). */
const HEURISTICALLY_CACHEABLE = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501])

/** The share of the time since `Last-Modified` a response is kept fresh (RFC 9111 §4.2.2 suggests 10 %). */
const LAST_MODIFIED_FRACTION = 0.1

/** The longest heuristic lifetime, in seconds: a file untouched for years is still rechecked daily. */
export const MAX_HEURISTIC_SECONDS = 86_400

/**
 * Whether a response without explicit freshness may get a heuristic lifetime
 * (RFC 9111 §4.2.2): its status is heuristically cacheable by default, or
 * `Cache-Control: public` marks it cacheable (§3, §5.2.2.9).
 */
export function isHeuristicallyCacheable(status: number, directives: ReadonlyMap<string, string>): boolean {
  return HEURISTICALLY_CACHEABLE.has(status) || directives.has('public')
}

/**
 * The heuristic lifetime in seconds from `Last-Modified` (RFC 9111 §4.2.2):
 * 10 % of the time between it and `Date` (or `now`), capped at a day;
 * `undefined` without a valid `Last-Modified`.
 */
export function lastModifiedLifetime(headers: HeaderMap, now: number): number | undefined {
  const modifiedValue = headerValue(headers, 'last-modified')
  const modified = modifiedValue === undefined ? undefined : parseHttpDate(modifiedValue, now)
  if (modified === undefined) return undefined
  const dateValue = headerValue(headers, 'date')
  const date = (dateValue === undefined ? undefined : parseHttpDate(dateValue, now)) ?? now
  const seconds = Math.floor(((date - modified) / 1000) * LAST_MODIFIED_FRACTION)
  return Math.max(0, Math.min(seconds, MAX_HEURISTIC_SECONDS))
}
