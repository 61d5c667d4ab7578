import { type Duration, parseDuration } from './duration.js'
import type { Entry } from './entry.js'
import type { FreshnessPolicy } from './options.js'
import type { Ticket } from './single-flight.js'
import type { StoreVersion } from './store.js'

/**
 * What a loader receives besides the key. The freshness fields start at the
 * call's settings; a loader may overwrite them to set this value's lifetime
 * (as an mlcache callback returns a ttl).
 */
export interface LoaderContext<V> {
  /** The key being loaded. */
  readonly key: string
  /** ms this value will be fresh; writable, with ms or a duration string (`ctx.ttl = '5m'`), read back in ms. */
  get ttl(): number
  set ttl(value: Duration)
  /** ms a miss (`undefined`/`null`) will be cached; writable as `ttl`. */
  get negTtl(): number
  set negTtl(value: Duration)
  /** ms of stale window after expiry; writable as `ttl`. */
  get staleTtl(): number
  set staleTtl(value: Duration)
  /** ms a stale value is re-armed when a later load fails; writable as `ttl`. */
  get resurrectTtl(): number
  set resurrectTtl(value: Duration)
  /** The expired value this load replaces, if one is still held (e.g. for conditional requests). */
  readonly staleValue: V | undefined
  /** What the loader of `staleValue` stored beside it through `ctx.meta` (e.g. `{ etag }`), if anything. */
  readonly staleMeta: unknown
  /**
   * Stored beside the value this load returns, for the next load of the key to
   * read as `ctx.staleMeta` (e.g. the response's ETag or Last-Modified). Must
   * be something the codec keeps (a plain object, a string...). When the loader
   * answers {@link NOT_MODIFIED} and leaves it unset, the old meta stays.
   */
  meta: unknown
  /** True when this load is a background refresh of a stale value. */
  readonly refreshing: boolean
  /**
   * Aborts when the hard timeout elapses (reason: a `TimeoutError`), when the
   * cache is closed, and when every caller waiting for this load has aborted
   * its own `signal` (reason: that signal's). A background refresh nobody waits
   * for aborts only at the hard timeout or on `close()`.
   */
  readonly signal: AbortSignal
  /**
   * Tags for this value, empty at first; set or push to them (`ctx.tags = ['user:1']`).
   * `cache.invalidateTag(tag)` then makes the value stale and `cache.deleteTag(tag)`
   * a miss, on every node. Non-empty, well-formed strings.
   */
  tags: string[]
}

const NOT_MODIFIED_BRAND: unique symbol = Symbol.for('tiercache.notModified') as never

/**
 * What a loader returns to say "the value I was given as `ctx.staleValue` is
 * still right" (a conditional refresh answered 304): the entry is made fresh
 * again for `ctx.ttl` without rewriting its value (the store gets a TTL
 * extension, fenced like any write back: refused if the key changed meanwhile).
 * Returned with no `ctx.staleValue` to keep, the load fails with a `LoaderError`.
 *
 * @example
 * cache.get(key, async (key, ctx) => {
 *   const etag = (ctx.staleMeta as { etag?: string } | undefined)?.etag
 *   const res = await fetch(url, { headers: etag ? { 'if-none-match': etag } : {}, signal: ctx.signal })
 *   if (res.status === 304) return NOT_MODIFIED
 *   ctx.meta = { etag: res.headers.get('etag') }
 *   return res.json()
 * })
 */
export const NOT_MODIFIED: NotModified = Object.freeze({ [NOT_MODIFIED_BRAND]: true as const })

/**
 * The type of {@link NOT_MODIFIED}: an object with a `Symbol.for` brand rather
 * than a symbol, so `async () => NOT_MODIFIED` keeps its type (a symbol widens)
 * and two copies of the package recognise each other's.
 */
export interface NotModified {
  readonly [NOT_MODIFIED_BRAND]: true
}

/** Whether a loader answered {@link NOT_MODIFIED} (of any copy of this package). */
export function isNotModified(value: unknown): value is NotModified {
  return typeof value === 'object' && value !== null && (value as Partial<NotModified>)[NOT_MODIFIED_BRAND] === true
}

/**
 * Loads one missing value. `undefined` or `null` is cached as a miss for
 * `negTtl`; {@link NOT_MODIFIED} keeps the stale value, fresh again.
 */
export type Loader<V> = (
  key: string,
  ctx: LoaderContext<V>,
) => Promise<V | undefined | null | NotModified> | V | undefined | null | NotModified

/**
 * A loader whose type says it always produces a value (never `undefined` or
 * `null`): `get(key, loader)` with one resolves `Promise<V>`, not `Promise<V | undefined>`.
 */
export type DefiniteLoader<V> = (key: string, ctx: LoaderContext<V>) => Promise<V | NotModified> | V | NotModified

/** What a bulk loader receives besides the keys: writable freshness and tags for all of them, and the abort signal. */
export type BulkLoaderContext = Pick<
  LoaderContext<unknown>,
  'ttl' | 'negTtl' | 'staleTtl' | 'resurrectTtl' | 'signal' | 'tags'
>

/** A bulk loader whose type says every value is there: `getMany` with one resolves `Promise<V[]>`. */
export type DefiniteBulkLoader<V> = (keys: string[], ctx: BulkLoaderContext) => Promise<readonly V[]> | readonly V[]

/** Loads many missing values at once; resolves to their values in the order of `keys`. */
export type BulkLoader<V> = (
  keys: string[],
  ctx: BulkLoaderContext,
) => Promise<readonly (V | undefined | null)[]> | readonly (V | undefined | null)[]

/** One load of one key, as it travels from the flight through the lock to the loader. */
export interface Load<V> {
  readonly key: string
  readonly f: FreshnessPolicy
  readonly loader: Loader<V>
  /** A value still held past expiry: served stale, or resurrected if the load fails. */
  readonly kept: Entry<V> | undefined
  readonly ticket: Ticket
  /**
   * The key's version in the store when this load read it: the value is written
   * back only if it is still that one. `undefined` when the store could not be read.
   */
  readonly version: StoreVersion | undefined
  /** A background refresh (nobody waits for it) rather than a caller's load. */
  readonly refreshing: boolean
  /** The call's `hardTimeout`, when it set one; else the cache's. */
  readonly hardTimeout?: number
  /** The entry the store held at `version` (what a "not modified" answer extends), when the store had one. */
  readonly previous?: Entry<V>
  /** A refresh ahead of expiry (`refreshAhead`): the value it replaces is still fresh. */
  readonly ahead?: boolean
  /** Aborts the loader's `ctx.signal`: made by the flight when its callers can leave, else by the load. */
  readonly controller?: AbortController
}

/** The writable freshness fields of a loader's `ctx`. */
export type FreshnessFields = Pick<LoaderContext<unknown>, 'ttl' | 'negTtl' | 'staleTtl' | 'resurrectTtl'>

/**
 * A loader's `ctx`: `rest` with the freshness fields of `f`, writable with a
 * number or a duration string and read back in ms. A value that is not a
 * duration is kept as given, so the check after the loader (`parseDurations(ctx, 'ctx')`)
 * names it, as it names a negative number.
 */
export function loaderContext<C extends object>(f: FreshnessPolicy, rest: C): C & FreshnessFields {
  let { ttl, negTtl, staleTtl, resurrectTtl } = f as {
    ttl: unknown
    negTtl: unknown
    staleTtl: unknown
    resurrectTtl: unknown
  }
  const fields = {
    get ttl() {
      return ttl as number
    },
    set ttl(value: Duration) {
      ttl = orAsGiven(value)
    },
    get negTtl() {
      return negTtl as number
    },
    set negTtl(value: Duration) {
      negTtl = orAsGiven(value)
    },
    get staleTtl() {
      return staleTtl as number
    },
    set staleTtl(value: Duration) {
      staleTtl = orAsGiven(value)
    },
    get resurrectTtl() {
      return resurrectTtl as number
    },
    set resurrectTtl(value: Duration) {
      resurrectTtl = orAsGiven(value)
    },
  }
  return Object.assign(fields as FreshnessFields, rest)
}

function orAsGiven(value: unknown): unknown {
  try {
    return parseDuration(value, 'ctx')
  } catch {
    return value
  }
}
