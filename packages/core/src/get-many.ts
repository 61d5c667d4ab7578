import type { Clock } from './clock.js'
import { type Deferred, deferred } from './deadline.js'
import { type Entry, isFresh, isKept, isServableStale } from './entry.js'
import { LoaderError, TimeoutError } from './errors.js'
import { freshnessOf, type LoadPipeline } from './load.js'
import type { BulkLoader, BulkLoaderContext, Loader } from './loader.js'
import type { LocalTier } from './local-tier.js'
import type { FreshnessPolicy } from './options.js'
import type { Refresher } from './refresh.js'
import { type GetInfo, loaded } from './result.js'
import type { SharedTier } from './shared-tier.js'
import type { SingleFlight } from './single-flight.js'
import type { Stats } from './stats.js'
import { checkDurations, describe } from './validate.js'

/** The parts of a cache the bulk path uses. */
export interface GetManyParts<V> {
  readonly l1: LocalTier<V> | undefined
  readonly l2: SharedTier<V>
  readonly clock: Clock
  readonly stats: Stats
  readonly flights: SingleFlight<GetInfo<V>>
  readonly refresher: Refresher<V>
  readonly pipeline: LoadPipeline<V>
  /** The L1 entry of `key` if this cache may serve it now (see `TierCache`). */
  readonly trustedL1: (key: string, now: number) => Entry<V> | undefined
}

/** One `getMany` call, its arguments already checked. */
export interface GetManyRequest<V> {
  readonly keys: readonly string[]
  readonly f: FreshnessPolicy
  readonly loader: BulkLoader<V> | undefined
}

/**
 * The values of many keys, in the order of `keys`: L1 and running loads first,
 * then ONE shared-store round trip for the rest, then ONE loader call for what
 * the store did not have. Single `get`s of those keys meanwhile join the bulk load.
 */
export async function getMany<V>(parts: GetManyParts<V>, request: GetManyRequest<V>): Promise<(V | undefined)[]> {
  const { keys, f, loader } = request
  const { l1, clock, stats, flights, refresher } = parts
  const now = clock.now()
  const results = new Array<V | undefined>(keys.length)
  const joined: Promise<void>[] = []
  const wanted = new Map<string, number[]>()
  // A stale key is refreshed alone, through the bulk loader.
  const single: Loader<V> | undefined = loader && (async (key, ctx) => (await loader([key], ctx))[0])

  // L1, and loads already running
  for (const [i, key] of keys.entries()) {
    const entry = parts.trustedL1(key, now)
    const flight = flights.get(key)
    if (entry !== undefined && isFresh(entry, now)) {
      stats.l1(key, entry)
      results[i] = entry.value
    } else if (entry !== undefined && single !== undefined && isServableStale(entry, now)) {
      results[i] = refresher.serveStale({ key, f, loader: single }, entry).value
    } else if (flight !== undefined) {
      joined.push(
        flight.then((got) => {
          results[i] = got.value
        }),
      )
    } else {
      const at = wanted.get(key)
      if (at === undefined) wanted.set(key, [i])
      else at.push(i)
    }
  }

  // One shared-store round trip for the rest
  const missing = [...wanted.keys()]
  const toLoad: string[] = []
  const kept = new Map<string, Entry<V>>()
  const found = missing.length > 0 ? await parts.l2.readMany(missing, f) : []
  const readAt = clock.now()
  for (const [j, key] of missing.entries()) {
    const record = found[j]
    let value: V | undefined
    if (record !== undefined && isFresh(record, readAt)) {
      l1?.set(key, record)
      stats.l2Hit(key)
      value = record.value
    } else if (record !== undefined && single !== undefined && isServableStale(record, readAt)) {
      l1?.set(key, record)
      value = refresher.serveStale({ key, f, loader: single }, record).value
    } else {
      stats.miss(key)
      const old = l1?.get(key) ?? record
      if (old !== undefined && isKept(old, readAt)) kept.set(key, old)
      toLoad.push(key)
      continue
    }
    for (const i of wanted.get(key)!) results[i] = value
  }

  // One loader call for what the store did not have
  if (toLoad.length > 0 && loader !== undefined) {
    const values = await loadMany(parts, { keys: toLoad, f, loader }, kept)
    for (const [j, key] of toLoad.entries()) {
      for (const i of wanted.get(key)!) results[i] = values[j]
    }
  }
  await Promise.all(joined)
  return results
}

/** One loader call for the keys of a `getMany` that neither L1 nor the store had; each key's flight is this load. */
async function loadMany<V>(
  parts: GetManyParts<V>,
  request: GetManyRequest<V> & { readonly loader: BulkLoader<V>; readonly keys: string[] },
  kept: ReadonlyMap<string, Entry<V>>,
): Promise<(V | undefined)[]> {
  const { keys, f, loader } = request
  const { pipeline } = parts
  const flights = keys.map((key) => {
    const pending: Deferred<GetInfo<V>> = deferred()
    pending.promise.catch(() => {}) // the getMany caller gets the rejection; joiners handle their own
    return { key, pending, ticket: parts.flights.adopt(key, pending.promise) }
  })
  const controller = new AbortController()
  const ctx: BulkLoaderContext = { ...f, signal: controller.signal }
  parts.stats.loadStarted()
  try {
    const values = await pipeline.withHardTimeout(keys.join(','), controller, () => loader(keys, ctx))
    if (!Array.isArray(values) || values.length !== keys.length) {
      throw new TypeError(`bulk loader must resolve to an array of ${keys.length} values, got ${describe(values)}`)
    }
    checkDurations(ctx, 'ctx')
    const items = flights.map(({ key, ticket }, j) => ({ key, value: values[j] ?? undefined, ticket }))
    const stored = await pipeline.write(items, freshnessOf(ctx))
    for (const [j, { pending }] of flights.entries()) pending.resolve(loaded(stored[j]))
    return stored
  } catch (thrown) {
    const outcomes = await Promise.allSettled(
      flights.map(({ key, ticket }) => {
        const error = thrown instanceof TimeoutError ? thrown : new LoaderError(key, thrown)
        return pipeline.loadFailed({ key, f, kept: kept.get(key), ticket, refreshing: false }, error)
      }),
    )
    for (const [j, { pending }] of flights.entries()) {
      const outcome = outcomes[j]!
      if (outcome.status === 'fulfilled') pending.resolve(outcome.value)
      else pending.reject(outcome.reason)
    }
    const failed = outcomes.find((o) => o.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    return outcomes.map((o) => (o as PromiseFulfilledResult<GetInfo<V>>).value.value)
  }
}
