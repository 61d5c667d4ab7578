import { checkOptionNames, type Duration, optionNames, parseDuration, type TierCache } from '@tiercache/core'
import { type CacheKeyFunction, defaultCacheKey } from './cache-key.js'
import type { CacheablePolicy, SetCookiePolicy } from './cacheable.js'
import type { HttpCacheValue } from './cached-response.js'
import {
  HTTP_CACHE_POLICIES,
  type HttpCachePolicy,
  type HttpCachePolicyName,
  type PolicySettings,
} from './policy/http-cache-policy.js'

/**
 * Options of an HTTP cache (`cacheHttp`, `cacheExpress`, `cacheFastify`, `cacheFetch`, `HttpCache`).
 * Durations are milliseconds or strings such as `'30s'`, `'5m'`, `'1h'`, `'1d'`.
 *
 * @example
 * const cache = new TierCache<HttpCacheValue>({ name: 'http', store: new RedisStore({ redis }), ipc })
 * http.createServer(cacheHttp(origin, { cache, ttl: 60_000, staleTtl: 300_000 }))
 */
export interface HttpCacheOptions {
  /** Where responses live: L1, the shared store, single flight, stale windows and IPC all come from it. */
  cache: TierCache<HttpCacheValue>
  /**
   * The rules the cache follows (see docs/http.md for the full table):
   * - `'nginx'`: like nginx's `proxy_cache`: the options decide what is cached and for how long
   *   (`ttl` whatever the origin says unless `respectCacheControl`); `private`, `no-store`,
   *   `Set-Cookie` and `Authorization` keep a response out.
   * - `'rfc9111'`: a shared cache by RFC 9111 (with RFC 5861 and RFC 9213): the origin's headers
   *   decide; responses without explicit or heuristic freshness are not reused; any final status
   *   with explicit freshness is stored, 5xx included; `no-cache` responses are stored and
   *   revalidated; `Authorization` per §3.5; `Set-Cookie` stored (`setCookie: 'store'`); a single
   *   byte `Range` is answered from a stored response; unsafe methods invalidate (§4.4);
   *   `CDN-Cache-Control` wins over `Cache-Control`.
   * @default 'nginx'
   * @example new HttpCache({ cache, policy: 'rfc9111' })
   */
  policy?: HttpCachePolicyName
  /**
   * How long a response is fresh (nginx `proxy_cache_valid`). With `respectCacheControl`,
   * only for responses whose headers give no expiry; `0` there means such responses are not
   * reused. Under `policy: 'rfc9111'`, the heuristic lifetime of a heuristically cacheable
   * response (RFC 9111 §4.2.2) that has no `Last-Modified` to estimate one from.
   * @default 60_000 (`0` under `policy: 'rfc9111'`)
   */
  ttl?: Duration
  /**
   * After expiry, how long a response is served stale *at once* — to the first request too —
   * while exactly one background refresh runs in the cluster (RFC 5861 `stale-while-revalidate`).
   * @default 0
   */
  staleTtl?: Duration
  /**
   * After expiry, how long a response is kept to be served when the origin fails (throws, times
   * out, answers an `errorStatuses` status): RFC 5861 `stale-if-error`. The stale window counts too.
   * Under `policy: 'rfc9111'` this is how long a cache disconnected from its origin may serve
   * stale (RFC 9111 §4.2.4), never for `must-revalidate`, `proxy-revalidate`, `s-maxage` or `no-cache`.
   * @default 0 (`60_000` under `policy: 'rfc9111'`)
   */
  staleIfError?: Duration
  /**
   * After the origin failed, how long the stale response is served as if fresh before the origin
   * is tried again (mlcache's `resurrect_ttl`), so an outage is not hammered.
   * @default Math.min(staleIfError, 5_000)
   */
  resurrectTtl?: Duration
  /**
   * Let the origin's `Cache-Control` (`s-maxage`, `max-age`, `no-cache`, `must-revalidate`,
   * `stale-while-revalidate`, `stale-if-error`) and `Expires` set freshness (RFC 9111, RFC 5861),
   * falling back to the options. Off, the options alone decide (`private`/`no-store` are always honoured).
   * Always on under `policy: 'rfc9111'`.
   * @default false
   */
  respectCacheControl?: boolean
  /**
   * Methods whose responses are cached, as a list or a space-separated string (`"GET POST"`).
   * A POST body is read (up to `maxBodySize`) and replayed to the origin; it is not in the default key.
   * @default ['GET', 'HEAD']
   */
  methods?: readonly string[] | string
  /**
   * Statuses that are cached, as a list or a space-separated string (`"200 405"`).
   * @default [200, 203, 204, 300, 301, 404, 410] (under `policy: 'rfc9111'`: every final status but 206 and 304)
   */
  statuses?: readonly number[] | string
  /**
   * The cache key of a request. `Vary` is applied on top of it, whatever it is.
   * @default defaultCacheKey — method, host and URL as received (`normalisedCacheKey` sorts the query)
   * @example (req) => `${req.method}:${req.headers['user-agent'] ?? ''}:${req.url}` // per user agent
   */
  key?: CacheKeyFunction
  /**
   * Response header telling how the cache answered: `HIT`, `MISS`, `STALE`, `UPDATING`,
   * `EXPIRED`, `BYPASS` or `REVALIDATED` (nginx's `$upstream_cache_status` words). `false` to send none.
   * @default 'x-cache'
   */
  statusHeader?: string | false
  /**
   * How long a request waits for another request's origin fetch of the same key (nginx
   * `proxy_cache_lock_timeout`); past it, it goes to the origin itself and its response is not cached.
   * @default 5_000
   */
  lockTimeout?: Duration
  /**
   * How long the origin may take to send its whole response before it counts as failed. A response that
   * streams through uncached (above `maxBodySize`, not storable) is not cut at it once it is known to be one.
   * @default 30_000
   */
  originTimeout?: Duration
  /**
   * Largest body that is cached (and largest request body read for a cacheable POST). Larger
   * responses stream through to the client that asked and are not cached.
   * @default 1_048_576
   */
  maxBodySize?: number
  /** Refresh with a conditional request when the entry has `ETag`/`Last-Modified` (nginx `proxy_cache_revalidate`). @default true */
  revalidate?: boolean
  /**
   * How long past expiry an entry with `ETag`/`Last-Modified` is kept (beyond the stale windows)
   * so the next request revalidates it with a conditional request instead of a full fetch (nginx
   * keeps entries until `inactive`, 10 minutes by default). It is not served without revalidation,
   * except as stale-if-error when `staleIfError` is on (as nginx's `proxy_cache_use_stale error` does).
   * @default 600_000
   */
  revalidateTtl?: Duration
  /**
   * Origin statuses that count as a failure, for stale-if-error. Under `policy: 'rfc9111'`,
   * only when the response has no explicit freshness: with one, it is a response like any other.
   * @default [500, 502, 503, 504]
   */
  errorStatuses?: readonly number[]
  /**
   * Targeted cache-control fields (RFC 9213) this cache obeys, most specific first: the first
   * one a response carries with a valid value replaces its `Cache-Control` and `Expires`.
   * @default [] (`['cdn-cache-control']` under `policy: 'rfc9111'`)
   * @example ['myedge-cache-control', 'cdn-cache-control']
   */
  targetedFields?: readonly string[] | string
  /**
   * A response with `Set-Cookie`: `bypass` does not cache it, `strip` caches it without the
   * cookie (and serves it without, to every client), `store` caches the cookie too.
   * @default 'bypass' (`'store'` under `policy: 'rfc9111'`, as RFC 9111 §3 lets a cache store it: the origin marks per-user responses `private`)
   */
  setCookie?: SetCookiePolicy
  /** Cache responses marked `Cache-Control: private`. @default false */
  allowPrivate?: boolean
  /** Cache responses marked `Cache-Control: no-store`. @default false */
  allowNoStore?: boolean
  /**
   * Cache requests carrying `Authorization` (make `key` tell users apart). Under
   * `policy: 'rfc9111'` they are looked up, and their responses stored and reused only
   * when marked `public`, `s-maxage` or `must-revalidate` (RFC 9111 §3.5).
   * @default false
   */
  allowAuthorization?: boolean
  /** Response headers listing a response's tags, for `purgeTag`. @default ['cache-tag', 'surrogate-key'] */
  tagHeaders?: readonly string[] | string
  /**
   * How long the decision "this URL's response is not cacheable" is remembered (Varnish's
   * hit-for-pass): requests then go straight to the origin instead of queueing behind one fetch.
   * `0` = not remembered.
   * @default 0
   */
  passTtl?: Duration
  /** How long a Vary index is kept; it is extended each time a variant is stored. @default 86_400_000 */
  varyTtl?: Duration
  /** Serve HEAD from the GET entry and fetch a miss as GET (nginx `proxy_cache_convert_head`). @default true */
  convertHead?: boolean
}

/** Defaults of every option, in one place. */
export const HTTP_DEFAULTS = {
  ttl: 60_000,
  staleTtl: 0,
  staleIfError: 0,
  methods: ['GET', 'HEAD'],
  statuses: [200, 203, 204, 300, 301, 404, 410],
  statusHeader: 'x-cache',
  lockTimeout: 5_000,
  originTimeout: 30_000,
  maxBodySize: 1_048_576,
  revalidate: true,
  revalidateTtl: 600_000,
  errorStatuses: [500, 502, 503, 504],
  setCookie: 'bypass',
  tagHeaders: ['cache-tag', 'surrogate-key'],
  passTtl: 0,
  varyTtl: 86_400_000,
  convertHead: true,
} as const

/** Every final status but 206 (partial) and 304 (a validator's answer), which are never stored as such. */
const ALL_FINAL_STATUSES = Array.from({ length: 400 }, (_, i) => 200 + i).filter((s) => s !== 206 && s !== 304)

/** The defaults that differ under `policy: 'rfc9111'`. */
const RFC9111_DEFAULTS = {
  ttl: 0,
  staleIfError: 60_000,
  statuses: ALL_FINAL_STATUSES,
  setCookie: 'store',
  targetedFields: ['cdn-cache-control'],
} as const

/** The options checked and with every default applied. */
export interface ResolvedOptions extends CacheablePolicy, PolicySettings {
  /** The rules in force. */
  readonly policy: HttpCachePolicy
  readonly cache: TierCache<HttpCacheValue>
  readonly ttl: number
  readonly staleTtl: number
  readonly staleIfError: number
  readonly resurrectTtl: number
  readonly respectCacheControl: boolean
  readonly key: CacheKeyFunction
  readonly statusHeader: string | undefined
  readonly lockTimeout: number
  readonly originTimeout: number
  readonly maxBodySize: number
  readonly revalidate: boolean
  readonly revalidateTtl: number
  readonly errorStatuses: ReadonlySet<number>
  readonly tagHeaders: readonly string[]
  readonly passTtl: number
  readonly varyTtl: number
  readonly convertHead: boolean
}

/** Check `options` and apply defaults; throws a `TypeError` naming the first bad option. */
/** The names of every {@link HttpCacheOptions} field, for the check of misspelled names. */
const OPTION_NAMES = optionNames<HttpCacheOptions>({
  cache: true,
  policy: true,
  ttl: true,
  staleTtl: true,
  staleIfError: true,
  resurrectTtl: true,
  respectCacheControl: true,
  methods: true,
  statuses: true,
  key: true,
  statusHeader: true,
  lockTimeout: true,
  originTimeout: true,
  maxBodySize: true,
  revalidate: true,
  revalidateTtl: true,
  errorStatuses: true,
  targetedFields: true,
  setCookie: true,
  allowPrivate: true,
  allowNoStore: true,
  allowAuthorization: true,
  tagHeaders: true,
  passTtl: true,
  varyTtl: true,
  convertHead: true,
})

export function resolveOptions(options: HttpCacheOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  checkOptionNames(options, OPTION_NAMES, 'options')
  const { cache } = options
  if (!isTierCache(cache)) throw new TypeError('options.cache must be a TierCache')
  const policyName = options.policy ?? 'nginx'
  if (!Object.hasOwn(HTTP_CACHE_POLICIES, policyName)) {
    throw new TypeError(`options.policy must be 'nginx' or 'rfc9111', got ${String(policyName)}`)
  }
  const policy = HTTP_CACHE_POLICIES[policyName]
  const rfc = policyName === 'rfc9111'
  const staleIfError = duration(
    options,
    'staleIfError',
    rfc ? RFC9111_DEFAULTS.staleIfError : HTTP_DEFAULTS.staleIfError,
  )
  const setCookie = options.setCookie ?? (rfc ? RFC9111_DEFAULTS.setCookie : HTTP_DEFAULTS.setCookie)
  if (!['bypass', 'strip', 'store'].includes(setCookie)) {
    throw new TypeError(`options.setCookie must be 'bypass', 'strip' or 'store', got ${String(setCookie)}`)
  }
  const statusHeader = options.statusHeader ?? HTTP_DEFAULTS.statusHeader
  if (statusHeader !== false && (typeof statusHeader !== 'string' || !/^[!#$%&'*+.^`|~\w-]+$/.test(statusHeader))) {
    throw new TypeError(`options.statusHeader must be a header name or false, got ${String(statusHeader)}`)
  }
  if (options.key !== undefined && typeof options.key !== 'function') {
    throw new TypeError('options.key must be a function (request) => string')
  }
  const ttl = duration(options, 'ttl', rfc ? RFC9111_DEFAULTS.ttl : HTTP_DEFAULTS.ttl)
  const respectCacheControl = rfc || flag(options, 'respectCacheControl', false)
  if (ttl === 0 && !respectCacheControl) {
    throw new TypeError(
      'options.ttl must be > 0 unless respectCacheControl is on (then 0 means: no explicit freshness, not reused)',
    )
  }
  return {
    policy,
    cache,
    ttl,
    staleTtl: duration(options, 'staleTtl', HTTP_DEFAULTS.staleTtl),
    staleIfError,
    resurrectTtl: duration(options, 'resurrectTtl', Math.min(staleIfError, 5_000)),
    respectCacheControl,
    methods: new Set(list(options.methods, HTTP_DEFAULTS.methods, 'methods').map((m) => m.toUpperCase())),
    statuses: new Set(
      statusList(options.statuses, rfc ? RFC9111_DEFAULTS.statuses : HTTP_DEFAULTS.statuses, 'statuses'),
    ),
    targetedFields: list(options.targetedFields, rfc ? RFC9111_DEFAULTS.targetedFields : [], 'targetedFields').map(
      (f) => f.toLowerCase(),
    ),
    key: options.key ?? defaultCacheKey,
    statusHeader: statusHeader === false ? undefined : statusHeader.toLowerCase(),
    lockTimeout: duration(options, 'lockTimeout', HTTP_DEFAULTS.lockTimeout),
    originTimeout: duration(options, 'originTimeout', HTTP_DEFAULTS.originTimeout),
    maxBodySize: byteCount(options, 'maxBodySize', HTTP_DEFAULTS.maxBodySize),
    revalidate: flag(options, 'revalidate', HTTP_DEFAULTS.revalidate),
    revalidateTtl: duration(options, 'revalidateTtl', HTTP_DEFAULTS.revalidateTtl),
    errorStatuses: new Set(statusList(options.errorStatuses, HTTP_DEFAULTS.errorStatuses, 'errorStatuses')),
    setCookie,
    allowPrivate: flag(options, 'allowPrivate', false),
    allowNoStore: flag(options, 'allowNoStore', false),
    allowAuthorization: flag(options, 'allowAuthorization', false),
    tagHeaders: list(options.tagHeaders, HTTP_DEFAULTS.tagHeaders, 'tagHeaders').map((h) => h.toLowerCase()),
    passTtl: duration(options, 'passTtl', HTTP_DEFAULTS.passTtl),
    varyTtl: duration(options, 'varyTtl', HTTP_DEFAULTS.varyTtl),
    convertHead: flag(options, 'convertHead', HTTP_DEFAULTS.convertHead),
  }
}

function isTierCache(value: unknown): value is TierCache<never> {
  const cache = value as TierCache<never> | undefined
  return (
    typeof cache?.getWithInfo === 'function' && typeof cache.set === 'function' && typeof cache.delete === 'function'
  )
}

/** A duration option (ms, or a string such as `'5m'`) in ms; a `TypeError` naming it otherwise. */
function duration(options: HttpCacheOptions, name: keyof HttpCacheOptions, fallback: number): number {
  return parseDuration(options[name] ?? fallback, `options.${name}`)
}

function byteCount(options: HttpCacheOptions, name: keyof HttpCacheOptions, fallback: number): number {
  const value = options[name] ?? fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`options.${name} must be a finite number >= 0, got ${String(value)}`)
  }
  return value
}

function flag(options: HttpCacheOptions, name: keyof HttpCacheOptions, fallback: boolean): boolean {
  const value = options[name] ?? fallback
  if (typeof value !== 'boolean') throw new TypeError(`options.${name} must be a boolean, got ${String(value)}`)
  return value
}

/** A list given as an array or as a space- or comma-separated string (`"GET POST "`). */
function list(value: readonly string[] | string | undefined, fallback: readonly string[], name: string): string[] {
  const items = value === undefined ? [...fallback] : typeof value === 'string' ? value.split(/[\s,]+/) : [...value]
  const kept = items.filter((item) => item !== '')
  if (!kept.every((item) => typeof item === 'string' && /^[!#$%&'*+.^`|~\w-]+$/.test(item))) {
    throw new TypeError(`options.${name} must be a list of tokens, got ${String(value)}`)
  }
  return kept
}

function statusList(
  value: readonly number[] | string | undefined,
  fallback: readonly number[],
  name: string,
): number[] {
  const items =
    value === undefined
      ? [...fallback]
      : typeof value === 'string'
        ? value
            .split(/[\s,]+/)
            .filter(Boolean)
            .map(Number)
        : [...value]
  if (!items.every((status) => Number.isInteger(status) && status >= 100 && status <= 599)) {
    throw new TypeError(`options.${name} must be a list of HTTP statuses (100-599), got ${String(value)}`)
  }
  return items
}
