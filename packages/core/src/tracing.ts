import { type TracingChannel, tracingChannel } from 'node:diagnostics_channel'
import type { HitLevel, StaleReason } from './result.js'

/**
 * `node:diagnostics_channel` tracing channels, as undici and fastify publish
 * them. Each name below is a `TracingChannel`: subscribe with
 * `diagnostics_channel.tracingChannel('tiercache:get').subscribe({ start, asyncEnd, error })`
 * (or to the single channels `tracing:tiercache:get:start` ...). The context
 * object is the same one through `start`, `end`, `asyncStart`, `asyncEnd` and
 * `error` of one call, so a subscriber may keep its span or start time on it.
 *
 * Nothing is built when nobody subscribes: each publisher checks
 * {@link isTraced} before it makes a context.
 */
export const CHANNELS = {
  /** One `get` or `getWithInfo`: {@link GetTrace}. */
  get: 'tiercache:get',
  /** One `getMany`: {@link GetManyTrace}. */
  getMany: 'tiercache:getMany',
  /** One loader call (a load, a background refresh, or a bulk load): {@link LoadTrace}. */
  load: 'tiercache:load',
  /** One shared-store call (read, write, lock...): {@link StoreTrace}. */
  store: 'tiercache:store',
  /** One request handled by `@tiercache/http`: {@link HttpRequestTrace}. */
  httpRequest: 'tiercache:http:request',
} as const

/** What every tiercache trace context holds. */
export interface TraceSource {
  /** The name of the cache (its namespace in the shared store). */
  readonly cache: string
  /**
   * The object that published: the `TierCache` (or `HttpCache` for
   * `tiercache:http:request`), to tell apart caches that share a name.
   */
  readonly owner: object
}

/** Context of `tiercache:get`. `result` is the value; `hitLevel` and `stale` are set before `asyncStart`. */
export interface GetTrace extends TraceSource {
  readonly key: string
  /** Where the value came from: 1 = L1, 2 = shared store, 3 = loader, 4 = stale or resurrected. */
  hitLevel?: HitLevel
  /** True when a stale value was served. */
  stale?: boolean
  /** Why a stale value was served. */
  reason?: StaleReason
  result?: unknown
  /** What the call rejected with (a `LoaderError`, `TimeoutError` or a `TypeError` for bad arguments). */
  error?: unknown
}

/** Context of `tiercache:getMany`. `result` is the array of values. */
export interface GetManyTrace extends TraceSource {
  readonly keys: readonly string[]
  result?: unknown
  error?: unknown
}

/** Context of `tiercache:load`: the loader call itself, hard timeout included. */
export interface LoadTrace extends TraceSource {
  /** The key loaded; for a bulk load (`getMany`), the first of `keys`. */
  readonly key: string
  /** Every key of this loader call: one, or those of a bulk load. */
  readonly keys: readonly string[]
  /** True for a background refresh of a stale value. */
  readonly refreshing: boolean
  result?: unknown
  /** A `LoaderError` cause as thrown by the loader, or the `TimeoutError`. */
  error?: unknown
}

/** Context of `tiercache:store`. A failed call has `error` (a `StoreError`); the cache went on to the next level. */
export interface StoreTrace extends TraceSource {
  /** The store's `name`, e.g. `redis`. */
  readonly store: string
  /** `get`, `getMany`, `set`, `setMany`, `delete`, `purge`, `lock`, `lock-wait`, `unlock`, `health`. */
  readonly operation: string
  /** The key concerned, when the call is about one key. */
  readonly key: string | undefined
  result?: unknown
  error?: unknown
}

/** Context of `tiercache:http:request`. `cacheStatus` (the `X-Cache` value) is set before `asyncStart`. */
export interface HttpRequestTrace extends TraceSource {
  readonly method: string
  /** The request's path and query. */
  readonly url: string
  /** `HIT`, `MISS`, `EXPIRED`, `STALE`, `UPDATING`, `REVALIDATED` or `BYPASS`. */
  cacheStatus?: string
  result?: unknown
  error?: unknown
}

/** The tracing channels, made once: a `tracingChannel()` call per publish would cost a map look-up. */
export const tracing = {
  get: tracingChannel<GetTrace, GetTrace>(CHANNELS.get),
  getMany: tracingChannel<GetManyTrace, GetManyTrace>(CHANNELS.getMany),
  load: tracingChannel<LoadTrace, LoadTrace>(CHANNELS.load),
  store: tracingChannel<StoreTrace, StoreTrace>(CHANNELS.store),
  httpRequest: tracingChannel<HttpRequestTrace, HttpRequestTrace>(CHANNELS.httpRequest),
}

/**
 * Whether anyone listens to any of the five channels of `channel`.
 * (`TracingChannel.hasSubscribers` itself only exists from Node 20.13.)
 */
export function isTraced(channel: TracingChannel<object, object>): boolean {
  return (
    channel.start.hasSubscribers ||
    channel.end.hasSubscribers ||
    channel.asyncStart.hasSubscribers ||
    channel.asyncEnd.hasSubscribers ||
    channel.error.hasSubscribers
  )
}
