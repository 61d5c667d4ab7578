import type { Clock } from './clock.js'
import { type Deferred, deferred } from './deadline.js'
import { type Entry, isDueAhead, isFresh, isKept, isServableStale } from './entry.js'
import { LoaderError, TimeoutError } from './errors.js'
import { freshnessOf, type LoadPipeline, stampOf } from './load.js'
import {
  type BulkLoader,
  type BulkLoaderContext,
  isNotModified,
  type Load,
  type Loader,
  loaderContext,
} from './loader.js'
import type { LocalTier } from './local-tier.js'
import type { FreshnessPolicy } from './options.js'
import type { Refresher } from './refresh.js'
import { fromStore, type GetInfo, loaded, notFound } from './result.js'
import type { SharedTier } from './shared-tier.js'
import type { SingleFlight, Ticket } from './single-flight.js'
import type { Stats } from './stats.js'
import { stampLoad, type TagIndex } from './tags.js'
import { checkDurations, describe } from './validate.js'

const BULK_META =
  'ctx.meta is not kept for values loaded by getMany (one meta cannot belong to many values): for a conditional refresh, use get(key, loader), whose ctx.staleMeta and ctx.meta are per key'

const BULK_NOT_MODIFIED = (key: string) =>
  `the bulk loader answered NOT_MODIFIED for "${key}", but getMany gives a bulk loader no previous value to keep: for a conditional refresh, use get(key, loader)`

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
  /** The oldest start of a running load a caller may join now (`SingleFlight.get`). */
  readonly joinableSince: () => number
  /** Throws a `TypeError` naming the part of a loaded value the codec cannot give back unchanged. */
  readonly checkValue: (value: unknown, key: string) => void
  /** The tag states and the stamp of loads (tags.ts). */
  readonly tags: TagIndex
}

/** One `getMany` call, its arguments already checked. */
export interface GetManyRequest<V> {
  readonly keys: readonly string[]
  readonly f: FreshnessPolicy
  readonly loader: BulkLoader<V> | undefined
  /** The call's `hardTimeout`, when it set one. */
  readonly hardTimeout?: number
}

/** A key this `getMany` reads from the store: its flight (joined by single `get`s) and its ticket. */
interface Claim<V> {
  readonly key: string
  /** Settled with what this key's callers get; `undefined` without a loader (nobody may join a read that cannot load). */
  readonly pending: Deferred<GetInfo<V>> | undefined
  readonly ticket: Ticket
}

/**
 * The values of many keys, in the order of `keys`: L1 and running loads first,
 * then ONE shared-store round trip for the rest, then ONE loader call for what
 * the store did not have. From the store read on, each of those keys has a
 * flight that single `get`s join, and a ticket that a set/delete/purge
 * supersedes, so neither the read nor the load can overwrite a newer write.
 */
export async function getMany<V>(parts: GetManyParts<V>, request: GetManyRequest<V>): Promise<(V | undefined)[]> {
  const { keys, f, loader } = request
  const { clock, stats, flights, refresher } = parts
  const now = clock.now()
  const results = new Array<V | undefined>(keys.length)
  const joined: Promise<void>[] = []
  const wanted = new Map<string, number[]>()
  // A stale key is refreshed alone, through the bulk loader.
  const single: Loader<V> | undefined = loader && (async (key, ctx) => (await loader([key], ctx))[0])

  // L1, and loads already running
  stats.gets(keys.length)
  const since = parts.joinableSince()
  for (const [i, key] of keys.entries()) {
    const entry = parts.trustedL1(key, now)
    const flight = flights.get(key, since)
    if (entry !== undefined && isFresh(entry, now)) {
      stats.l1(key, entry)
      results[i] = entry.value
      // Past its refresh-ahead point: served now, refreshed in the background (as `get` does).
      if (single !== undefined && now >= entry.refreshAt) {
        refresher.refreshAhead({ key, f, loader: single, hardTimeout: request.hardTimeout }, entry)
      }
    } else if (entry !== undefined && single !== undefined && isServableStale(entry, now)) {
      results[i] = refresher.serveStale({ key, f, loader: single, hardTimeout: request.hardTimeout }, entry).value
    } else if (flight !== undefined) {
      stats.flightWait()
      const settled = flight.then((got) => {
        results[i] = got.value
      })
      // Handled now: it is awaited only after this call's own load, and not at all if that fails. A joined
      // load that failed meanwhile was an unhandled rejection, which ends a Node process.
      settled.catch(() => {})
      joined.push(settled)
    } else {
      const at = wanted.get(key)
      if (at === undefined) wanted.set(key, [i])
      else {
        // The same key twice in one call: the repeat rides on the first one's load.
        stats.flightWait()
        at.push(i)
      }
    }
  }

  const claims = [...wanted.keys()].map((key) => claim(flights, key, loader !== undefined))
  const settle = (j: number, got: GetInfo<V>) => {
    claims[j]!.pending?.resolve(got)
    for (const i of wanted.get(claims[j]!.key)!) results[i] = got.value
  }
  try {
    await readAndLoad(parts, { ...request, single }, claims, settle)
  } catch (error) {
    for (const { pending } of claims) pending?.reject(error)
    throw error
  } finally {
    for (const { key, ticket, pending } of claims) if (pending === undefined) flights.unmark(key, ticket)
  }
  await Promise.all(joined)
  return results
}

/** Take the flight (with a loader) or a ticket (without) of a key about to be read from the store. */
function claim<V>(flights: SingleFlight<GetInfo<V>>, key: string, joinable: boolean): Claim<V> {
  if (!joinable) return { key, pending: undefined, ticket: flights.mark(key) }
  const pending: Deferred<GetInfo<V>> = deferred()
  pending.promise.catch(() => {}) // the getMany caller gets the rejection; joiners handle their own
  return { key, pending, ticket: flights.adopt(key, pending.promise) }
}

/** One shared-store round trip for the claimed keys, then one loader call for what the store did not have. */
async function readAndLoad<V>(
  parts: GetManyParts<V>,
  request: GetManyRequest<V> & { readonly single: Loader<V> | undefined },
  claims: readonly Claim<V>[],
  settle: (j: number, got: GetInfo<V>) => void,
): Promise<void> {
  if (claims.length === 0) return
  const { f, loader, single } = request
  const { l1, clock, stats, refresher } = parts
  const keys = claims.map((c) => c.key)
  // Without a loader, a failed read rejects (as `get`'s does): absent is not what it found.
  const found = await (loader === undefined ? parts.l2.mustReadMany(keys, f) : parts.l2.readMany(keys, f))
  const readAt = clock.now()
  const toLoad: { readonly j: number; readonly kept: Entry<V> | undefined }[] = []
  for (const [j, { key, ticket }] of claims.entries()) {
    const { entry } = found[j]!
    if (entry !== undefined && isFresh(entry, readAt)) {
      if (!ticket.superseded) l1?.set(key, entry)
      stats.l2(key, entry)
      settle(j, fromStore(entry))
      if (single !== undefined && isDueAhead(entry, readAt)) {
        // This key's flight is this getMany's own: the refresh must not wait for it.
        const ahead = { key, f, loader: single, version: found[j]!.version, hardTimeout: request.hardTimeout }
        refresher.refreshAhead(ahead, entry, true)
      }
    } else if (entry !== undefined && single !== undefined && isServableStale(entry, readAt)) {
      if (!ticket.superseded) l1?.set(key, entry)
      // This key's flight is this getMany's own: the refresh must not wait for it.
      const stale = { key, f, loader: single, version: found[j]!.version, hardTimeout: request.hardTimeout }
      settle(j, refresher.serveStale(stale, entry, true))
    } else {
      stats.miss(key)
      // What a failed load falls back on: the store's record, as `get`'s flight does, else L1's copy only if
      // L1 may be trusted now. An untrusted copy (bus down, or not vouched for lately) may predate another
      // node's delete, and with the store unreadable loadFailed falls back on it.
      const old = entry ?? parts.trustedL1(key, readAt)
      toLoad.push({ j, kept: old !== undefined && isKept(old, readAt) ? old : undefined })
    }
  }
  if (toLoad.length === 0) return
  if (loader === undefined) {
    for (const { j } of toLoad) settle(j, notFound())
    return
  }
  // `previous`: the record at the version read, the only one a failed load may write back (see loadFailed).
  const loads = toLoad.map(({ j, kept }) => ({
    ...claims[j]!,
    kept,
    version: found[j]!.version,
    previous: found[j]!.entry,
  }))
  const got = await loadMany(parts, { f, loader, hardTimeout: request.hardTimeout }, loads)
  for (const [n, { j }] of toLoad.entries()) settle(j, got[n]!)
}

/** One loader call for the keys of a `getMany` that neither L1 nor the store had. */
async function loadMany<V>(
  parts: GetManyParts<V>,
  request: { readonly f: FreshnessPolicy; readonly loader: BulkLoader<V>; readonly hardTimeout?: number },
  loads: readonly (Claim<V> & Pick<Load<V>, 'kept' | 'version' | 'previous'>)[],
): Promise<GetInfo<V>[]> {
  const { f, loader } = request
  const { pipeline } = parts
  const keys = loads.map((load) => load.key)
  const controller = new AbortController()
  const ctx: BulkLoaderContext = loaderContext(f, { signal: controller.signal, tags: [] as string[] })
  // Taken before the loader runs: a tag operation that takes its number later is newer than these values.
  const warming = parts.tags.warming
  if (warming !== undefined) await warming
  const seen = parts.tags.seen
  stampLoad(ctx, seen)
  parts.stats.loadStarted()
  let values: readonly (V | undefined | null)[]
  let stamp: ReturnType<typeof stampOf>
  try {
    values = await pipeline.abortedOnClose(controller, () =>
      pipeline.traced(keys, false, () =>
        pipeline.withHardTimeout(keys.join(','), controller, () => loader(keys, ctx), request.hardTimeout),
      ),
    )
    if (!Array.isArray(values) || values.length !== keys.length) {
      throw new TypeError(`bulk loader must resolve to an array of ${keys.length} values, got ${describe(values)}`)
    }
    checkDurations(ctx, 'ctx')
    // One meta cannot belong to many values: say so rather than drop it (the type has no `meta` either).
    if (Object.hasOwn(ctx, 'meta')) throw new TypeError(BULK_META)
    stamp = stampOf(ctx.tags, seen)
    for (const [j, key] of keys.entries()) {
      // Never cached as a value: a bulk loader is given no previous value per key to keep.
      if (isNotModified(values[j])) throw new TypeError(BULK_NOT_MODIFIED(key))
      if (values[j] != null) parts.checkValue(values[j], key)
    }
  } catch (thrown) {
    const outcomes = await Promise.allSettled(
      loads.map((load) => {
        const error = thrown instanceof TimeoutError ? thrown : new LoaderError(load.key, thrown)
        return pipeline.loadFailed({ ...load, f, refreshing: false }, error)
      }),
    )
    // Each key's joiners get its own outcome; the getMany caller the first failure.
    for (const [j, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') loads[j]!.pending?.resolve(outcome.value)
      else loads[j]!.pending?.reject(outcome.reason)
    }
    const failed = outcomes.find((o) => o.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    return outcomes.map((o) => (o as PromiseFulfilledResult<GetInfo<V>>).value)
  }
  const items = loads.map(({ key, ticket, version }, j) => ({ key, value: values[j] ?? undefined, ticket, version }))
  const served = await pipeline.writeBack(items, freshnessOf(ctx), stamp)
  return served.map(({ value }) => loaded(value))
}
