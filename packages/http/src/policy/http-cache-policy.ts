import { varyNames } from '../cache-key.js'
import type { CacheRequest } from '../cache-request.js'
import {
  type BypassReason,
  bypassReason,
  type CacheablePolicy,
  type UnstorableReason,
  unstorableReason,
} from '../cacheable.js'
import { type Freshness, originFreshness } from '../freshness.js'
import type { HeaderMap } from '../headers.js'
import { allowsAuthorizedReuse } from './authorization.js'
import { isHeuristicallyCacheable } from './heuristic.js'
import { mustUnderstandOverridesNoStore } from './must-understand.js'
import { explicitLifetime, type FreshnessSettings, responseDirectives, rfc9111Freshness } from './rfc9111-freshness.js'

/** The names `options.policy` accepts. */
export type HttpCachePolicyName = 'nginx' | 'rfc9111'

/** The settings a policy reads: the resolved options it depends on. */
export interface PolicySettings extends CacheablePolicy, FreshnessSettings {
  readonly respectCacheControl: boolean
  readonly errorStatuses: ReadonlySet<number>
  /** Targeted cache-control fields (RFC 9213), in order of preference, lowercase. */
  readonly targetedFields: readonly string[]
}

/** An origin response as a policy sees it. */
export interface PolicyResponse {
  readonly status: number
  readonly headers: HeaderMap
}

/** A stored response as a policy sees it: when it was received (or last revalidated). */
export interface StoredResponse extends PolicyResponse {
  readonly storedAt: number
}

/** How long a response may be served, and whether it is worth keeping when it is never fresh. */
export interface PolicyFreshness extends Freshness {
  /**
   * Keep it even though `ttl <= 0`, so that the next request revalidates it
   * with its validators instead of fetching it whole (RFC 9111 §4.3.1).
   */
  readonly keepToRevalidate: boolean
}

/**
 * The rules an `HttpCache` follows to decide what it looks up, stores, serves
 * and invalidates. Two ship: `nginxPolicy` (the default) and `rfc9111Policy`.
 */
export interface HttpCachePolicy {
  readonly name: HttpCachePolicyName
  /** Why `request` skips the cache entirely, `undefined` when it is looked up. */
  bypassReason(request: CacheRequest, settings: PolicySettings): BypassReason | undefined
  /** Whether an origin response is a failure (stale-if-error applies, nothing is stored). */
  isOriginFailure(response: PolicyResponse, settings: PolicySettings): boolean
  /** Why an origin response to `request` must not be stored, `undefined` when it may be. */
  unstorableReason(
    response: PolicyResponse,
    request: CacheRequest,
    settings: PolicySettings,
  ): UnstorableReason | undefined
  /** How long a storable response is fresh, and stale-servable. */
  freshness(response: PolicyResponse, now: number, settings: PolicySettings): PolicyFreshness
  /** Whether a stored response (its headers) may answer `request` without going to the origin. */
  mayReuse(stored: HeaderMap, request: CacheRequest, settings: PolicySettings): boolean
  /**
   * Whether an expired stored response may still be served at `now` because the origin failed
   * (stale-if-error); `false` makes the client get the failure instead.
   */
  mayServeStaleOnError(stored: StoredResponse, now: number, settings: PolicySettings): boolean
  /** Answer a single byte `Range` from a stored complete response with a 206 (RFC 9110 §14.2). */
  readonly servesRanges: boolean
  /** Invalidate the target (and same-origin `Location`/`Content-Location`) after unsafe methods (RFC 9111 §4.4). */
  readonly invalidatesAfterUnsafeMethods: boolean
}

/**
 * The default policy, as nginx's `proxy_cache` behaves: the options decide
 * (`ttl` for every status in `statuses`), `private`/`no-store`/`Set-Cookie`/
 * `Authorization` keep a response out, and with `respectCacheControl` the
 * origin's `Cache-Control` and `Expires` set freshness where they speak.
 */
export const nginxPolicy: HttpCachePolicy = {
  name: 'nginx',
  bypassReason,
  isOriginFailure: (response, settings) => settings.errorStatuses.has(response.status),
  unstorableReason: (response, _request, settings) => unstorableReason(response.status, response.headers, settings),
  freshness: (response, now, settings) => {
    const { ttl, staleTtl, staleIfError } = settings
    const defaults = { ttl, staleTtl, staleIfError }
    return {
      ...(settings.respectCacheControl ? originFreshness(response.headers, defaults, now) : defaults),
      keepToRevalidate: false,
    }
  },
  mayReuse: () => true,
  // As nginx's `proxy_cache_use_stale error`: whatever the entry kept past expiry is served (see docs' Limitations).
  mayServeStaleOnError: () => true,
  servesRanges: false,
  invalidatesAfterUnsafeMethods: false,
}

/**
 * A shared cache by RFC 9111 (with RFC 5861 and RFC 9213): the origin's
 * headers decide what is stored and for how long; the options only fill in
 * where the RFC leaves the choice to the cache.
 */
export const rfc9111Policy: HttpCachePolicy = {
  name: 'rfc9111',
  bypassReason: (request, settings) => {
    if (!settings.methods.has(request.method)) return 'method'
    if (request.headers.upgrade !== undefined) return 'upgrade'
    return undefined // Authorization: decided per response (RFC 9111 §3.5), see unstorableReason and mayReuse
  },
  isOriginFailure: (response, settings) =>
    settings.errorStatuses.has(response.status) && !hasExplicitFreshness(response, settings),
  unstorableReason: (response, request, settings) => {
    const { status, headers } = response
    if (!settings.statuses.has(status)) return 'status'
    const { directives } = responseDirectives(headers, settings.targetedFields)
    if (directives.has('must-understand') && !mustUnderstandOverridesNoStore(status, directives)) return 'no-store'
    if (directives.has('no-store') && !settings.allowNoStore && !mustUnderstandOverridesNoStore(status, directives)) {
      return 'no-store'
    }
    if (directives.has('private') && !settings.allowPrivate) return 'private'
    if (headers['set-cookie'] !== undefined && settings.setCookie === 'bypass') return 'set-cookie'
    if (varyNames(headers) === '*') return 'vary'
    if (request.headers.authorization !== undefined && !allowsAuthorizedReuse(directives)) return 'authorization'
    return undefined
  },
  freshness: (response, now, settings) => {
    const fresh = rfc9111Freshness(response, now, settings)
    // §3: without explicit freshness or a heuristically cacheable status there is nothing to keep.
    const keepToRevalidate =
      hasExplicitFreshness(response, settings) ||
      isHeuristicallyCacheable(
        response.status,
        responseDirectives(response.headers, settings.targetedFields).directives,
      )
    return { ...fresh, keepToRevalidate }
  },
  mayReuse: (stored, request, settings) =>
    request.headers.authorization === undefined ||
    allowsAuthorizedReuse(responseDirectives(stored, settings.targetedFields).directives),
  // §4.2.4: never past the response's own stale windows (stale-if-error, or stale-while-revalidate, which
  // may serve it anyway), so never for must-revalidate & co. — an entry kept longer only to be
  // revalidated (`revalidateTtl`) is not servable stale.
  mayServeStaleOnError: (stored, now, settings) => {
    const fresh = rfc9111Freshness(stored, stored.storedAt, settings)
    return now <= stored.storedAt + Math.max(0, fresh.ttl) + Math.max(fresh.staleIfError, fresh.staleTtl)
  },
  servesRanges: true,
  invalidatesAfterUnsafeMethods: true,
}

/** Whether the response gives itself a lifetime (RFC 9111 §4.2.1), `no-cache` counting as one (of zero). */
function hasExplicitFreshness(response: PolicyResponse, settings: PolicySettings): boolean {
  const parsed = responseDirectives(response.headers, settings.targetedFields)
  return parsed.directives.has('no-cache') || explicitLifetime(parsed, response.headers, Date.now()) !== undefined
}

/** The policy of a name. */
export const HTTP_CACHE_POLICIES: Readonly<Record<HttpCachePolicyName, HttpCachePolicy>> = {
  nginx: nginxPolicy,
  rfc9111: rfc9111Policy,
}
