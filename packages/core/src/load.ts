import type { Clock } from './clock.js'
import { withDeadline } from './deadline.js'
import {
  aheadOf,
  type Entry,
  type EntryTimes,
  isDueAhead,
  isFresh,
  isKept,
  isServableStale,
  jittered,
  lifetime,
  makeEntry,
} from './entry.js'
import { LoaderError, TimeoutError } from './errors.js'
import type { Announcement, InvalidationKind } from './invalidation.js'
import { isNotModified, type Load, type LoaderContext, loaderContext, type NotModified } from './loader.js'
import type { LocalTier } from './local-tier.js'
import type { FreshnessPolicy } from './options.js'
import type { Refresher } from './refresh.js'
import { fromStore, type GetInfo, info, loaded, notFound } from './result.js'
import { FAILED, type Reading, type SharedTier } from './shared-tier.js'
import type { SingleFlight, Ticket } from './single-flight.js'
import type { Stats } from './stats.js'
import type { StoreVersion, StoreWrite, StoreWriteResult } from './store.js'
import { checkTags, stampLoad, type TagIndex, type TagStamp } from './tags.js'
import { isTraced, tracing } from './tracing.js'
import { checkDurations } from './validate.js'

/** How a {@link LoadPipeline} is wired into its cache. */
export interface LoadPipelineOptions<V> {
  /** The cache's name and the cache itself, for the `tiercache:load` trace. */
  readonly source: { readonly cache: string; readonly owner: object }
  readonly l1: LocalTier<V> | undefined
  readonly l2: SharedTier<V>
  readonly clock: Clock
  readonly stats: Stats
  readonly flights: SingleFlight<GetInfo<V>>
  readonly refresher: Refresher<V>
  readonly l1Serializer: ((value: unknown, key: string) => V) | undefined
  /** Throws a `TypeError` naming the part of a loaded value the codec cannot give back unchanged. */
  readonly checkValue: (value: unknown, key: string) => void
  /** Throws a `TypeError` naming `ctx.meta` (and what to store instead) when the codec cannot keep it. */
  readonly checkMeta: (meta: unknown, key: string) => void
  /** ms to wait for another process's load of the same key before loading anyway. */
  readonly lockWait: number
  /** ms of the distributed lock's lease, extended while the loader runs. */
  readonly lockLease: number
  /** ms after which a load is abandoned; `0` = no limit. */
  readonly hardTimeout: number
  /** Spread of the TTL of every value written, a fraction (`0.1` = ±10 %). */
  readonly ttlJitter: number
  /** Fraction of a value's TTL after which a read refreshes it in the background; `0` = off. */
  readonly refreshAhead: number
  /** Random numbers in [0, 1), for the jitter. */
  readonly random: () => number
  /** Tells the other nodes a key changed (a refresh landed). */
  readonly publish: (kind: InvalidationKind, keys: string[]) => void
  /** The tag states and the stamp of loads (tags.ts). */
  readonly tags: TagIndex
}

/**
 * A loaded value to write back to both levels: to the store only if the key
 * is still at `version` (what the load read), to L1 only if that write was
 * not refused and no set/delete/purge superseded the `ticket` meanwhile.
 */
export interface WriteBack<V> {
  readonly key: string
  readonly value: V | undefined
  readonly ticket: Ticket
  /** `undefined`: the store could not be read, so nothing is written to it. */
  readonly version: StoreVersion | undefined
  /** What the loader stored beside the value (`ctx.meta`). */
  readonly meta?: unknown
}

/** What a flight starts from: a load before the store was read. */
type FlightLoad<V> = Omit<Load<V>, 'kept' | 'refreshing' | 'version'>

/**
 * What happens to a key that L1 could not answer: the shared store, then the
 * distributed lock, a second look at the store (another process may have
 * filled it meanwhile), the loader, the write-through to both levels, and the
 * unlock. A failed load resurrects or serves what is still held.
 */
export class LoadPipeline<V> {
  readonly #o: LoadPipelineOptions<V>
  /** The controllers of the loaders running now, aborted by `close()`. */
  readonly #running = new Set<AbortController>()
  #closedWith: unknown = NOT_CLOSED

  constructor(options: LoadPipelineOptions<V>) {
    this.#o = options
  }

  /** One flight: the shared store, then the loader under the distributed lock. */
  fly(load: FlightLoad<V>, l1: Entry<V> | undefined): Promise<GetInfo<V>> {
    // Not async: a store hit (every L1 miss of a warm cache) takes one step over the store's read,
    // without an async function's frame (1.1 KB allocated per hit at 64 in flight, issue 15).
    try {
      return this.#o.l2.read(load.key, load.f).then((reading) => this.#read(load, l1, reading))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** What a flight does with what the store held: serve it, or load. */
  #read(load: FlightLoad<V>, l1: Entry<V> | undefined, reading: Reading<V>): GetInfo<V> | Promise<GetInfo<V>> {
    const { key, ticket } = load
    const { l1: local, clock, stats } = this.#o
    const { entry: found, version } = reading
    const now = clock.now()
    if (found !== undefined && isFresh(found, now)) {
      if (!ticket.superseded) local?.set(key, found)
      if (isDueAhead(found, now)) this.#o.refresher.refreshAhead({ ...load, version }, found, true)
      return this.#fromStore(key, found)
    }
    if (found !== undefined && isServableStale(found, now)) {
      if (!ticket.superseded) local?.set(key, found)
      return this.#o.refresher.serveStale({ ...load, version }, found, true)
    }
    stats.miss(key)
    const kept = found ?? (l1 !== undefined && isKept(l1, now) ? l1 : undefined)
    return this.load({ ...load, kept, refreshing: false, version, previous: found })
  }

  /**
   * Without a loader: the shared store alone; a miss resolves `undefined`
   * (hitLevel 0) and nothing is cached. A read that failed or timed out
   * rejects with its `StoreError`: the key may well be there, and a caller
   * told "absent" may load and `set` an older value over it.
   */
  async readOnly(key: string, f: FreshnessPolicy): Promise<GetInfo<V>> {
    // Not a flight (nobody may join a read that cannot load), but a set meanwhile must still win over it.
    const ticket = this.#o.flights.mark(key)
    try {
      const { entry: found } = await this.#o.l2.mustRead(key, f)
      const now = this.#o.clock.now()
      if (found !== undefined && isServableStale(found, now)) {
        if (!ticket.superseded) this.#o.l1?.set(key, found)
        if (isFresh(found, now)) return this.#fromStore(key, found)
        this.#o.stats.stale(key, 'refreshing')
        return info(found, 4, 'refreshing')
      }
      this.#o.stats.miss(key)
      return notFound<V>()
    } finally {
      this.#o.flights.unmark(key, ticket)
    }
  }

  /**
   * Take the distributed lock, re-read the store, run the loader, write
   * through, release. A caller that does not get the lock waits for its
   * release and reads what the holder wrote; if nothing came, a load runs the
   * loader itself, a refresh gives up.
   */
  async load(load: Load<V>): Promise<GetInfo<V>> {
    const { key, f, kept, ticket, refreshing } = load
    const { l1, l2, clock, refresher } = this.#o
    let token: string | undefined
    let version = load.version
    // What this load may still use from before its last read (see `reread`).
    let held = kept
    // The record the store held at `version`: what a "not modified" answer extends.
    let previous = load.previous
    // A write that resolved before this read is in what it reads: from here on the load is
    // no longer older than that write (a write still running supersedes it again when it
    // resolves), but what it held from before the write is, so it is let go.
    const reread = () => {
      if (ticket.superseded) {
        ticket.superseded = false
        held = undefined
      }
      return l2.read(key, f)
    }
    // A refresh ahead replaces a value still fresh: what the store holds answers it only once
    // someone has refreshed it (it is no longer due).
    const stillDue = (entry: Entry<V>) => load.ahead === true && isDueAhead(entry, clock.now())
    if (l2.hasLock) {
      const deadline = clock.now() + this.#o.lockWait
      for (;;) {
        const taken = await l2.acquire(key, this.#o.lockLease)
        if (taken === FAILED) break // store down: load without the lock
        const waitMs = deadline - clock.now()
        if (taken === undefined && waitMs > 0) this.#o.stats.lockWait()
        const woken = taken === undefined && waitMs > 0 ? await l2.waitForRelease(key, waitMs) : false
        token = taken
        const landed = await reread()
        // The version the loader's value is written back with: what the store held just before it ran.
        if (landed.version !== undefined) {
          version = landed.version
          previous = landed.entry
          // What a failure falls back on: the record at that version, when the store has one (see loadFailed).
          if (held !== undefined && landed.entry !== undefined) held = landed.entry
        }
        if (landed.entry !== undefined && isFresh(landed.entry, clock.now()) && !stillDue(landed.entry)) {
          if (token !== undefined) await l2.release(key, token)
          if (!ticket.superseded) l1?.set(key, landed.entry)
          refresher.succeeded(key)
          return this.#fromStore(key, landed.entry)
        }
        if (token !== undefined) break
        if (refreshing && kept !== undefined) {
          // Another node's refresh failed or outlived our wait: keep serving stale.
          refresher.failed(key)
          return info(kept, 4, 'refreshing')
        }
        // The holder released without a value (its load failed): try for the lock again;
        // past the lock wait, load without it rather than hang.
        if (woken !== true || clock.now() >= deadline) break
      }
    } else if (version === undefined) {
      // No lock, and nothing read yet (a refresh of an L1 value): read the version to write
      // back with, and take what another process may have written meanwhile.
      const landed = await reread()
      version = landed.version
      previous = landed.entry
      if (held !== undefined && landed.entry !== undefined) held = landed.entry
      if (landed.entry !== undefined && isFresh(landed.entry, clock.now()) && !stillDue(landed.entry)) {
        if (!ticket.superseded) l1?.set(key, landed.entry)
        if (refreshing) refresher.succeeded(key)
        return this.#fromStore(key, landed.entry)
      }
    }
    const controller = load.controller ?? new AbortController()
    try {
      return await this.#runLoader({ ...load, kept: held, version, previous, controller }, token)
    } finally {
      if (token !== undefined) await l2.release(key, token)
    }
  }

  /**
   * Abort every load running now (`ctx.signal`, with `reason`) and every one
   * started from now on, before its loader runs: the cache is closing.
   */
  close(reason: unknown): void {
    this.#closedWith = reason
    for (const controller of this.#running) controller.abort(reason)
    this.#running.clear()
  }

  /**
   * Run `call` with `controller` aborted on `close()` (at once when closed
   * already). Loads and bulk loads register here while their loader runs.
   */
  async abortedOnClose<T>(controller: AbortController, call: () => Promise<T>): Promise<T> {
    if (this.#closedWith !== NOT_CLOSED) controller.abort(this.#closedWith)
    this.#running.add(controller)
    try {
      return await call()
    } finally {
      this.#running.delete(controller)
    }
  }

  async #runLoader(load: Load<V>, token: string | undefined): Promise<GetInfo<V>> {
    const { key, f, loader, kept, ticket, refreshing, version } = load
    const { clock, stats } = this.#o
    const controller = load.controller!
    // What the loader may answer "not modified" to: the store's record at `version`, else what is held.
    const base = load.previous ?? kept
    const ctx: LoaderContext<V> = loaderContext(f, {
      key,
      staleValue: base?.value,
      staleMeta: base?.meta,
      meta: undefined as unknown,
      refreshing,
      signal: controller.signal,
      tags: [] as string[],
    })
    const started = clock.now()
    // Taken before the loader runs: a tag operation that takes its number later is newer than this value.
    const warming = this.#o.tags.warming
    if (warming !== undefined) await warming
    const seen = this.#o.tags.seen
    stampLoad(ctx, seen)
    // With no hard timeout, extending the lease past the lock wait would only make every
    // other process wait the full lock wait: they load without the lock after it anyway.
    const stopAt = started + (this.#o.hardTimeout > 0 ? this.#o.hardTimeout : this.#o.lockWait)
    const extender = this.#o.l2.keepLock(key, token, { ms: this.#o.lockLease, stopAt })
    stats.loadStarted()
    let value: V | undefined | null | NotModified
    try {
      value = await this.abortedOnClose(controller, () =>
        this.traced([key], refreshing, () =>
          this.withHardTimeout(
            key,
            controller,
            () => {
              // Every caller left (or the cache closed) while this load waited for the lock.
              if (controller.signal.aborted) throw controller.signal.reason
              return loader(key, ctx)
            },
            load.hardTimeout,
          ),
        ),
      )
    } catch (thrown) {
      if (thrown instanceof TimeoutError) return this.loadFailed(load, thrown)
      // Abandoned (its callers all aborted, or the cache closed): not the origin's failure, so
      // nothing is resurrected or backed off; whoever still waits gets the reason.
      if (controller.signal.aborted) throw controller.signal.reason
      return this.loadFailed(load, new LoaderError(key, thrown))
    } finally {
      if (extender !== undefined) clearInterval(extender)
    }
    if (isNotModified(value)) {
      if (base === undefined || base.value === undefined) {
        const why = new TypeError(
          `the loader of "${key}" answered NOT_MODIFIED, but there is no previous value to keep`,
        )
        return this.loadFailed(load, new LoaderError(key, why))
      }
      checkDurations(ctx, 'ctx')
      if (ctx.meta !== undefined) this.#o.checkMeta(ctx.meta, key)
      return this.#notModified(load, base, ctx, started, seen)
    }
    checkDurations(ctx, 'ctx')
    const stamp = stampOf(ctx.tags, seen)
    if (value !== undefined && value !== null) this.#o.checkValue(value, key)
    const meta = value === undefined || value === null ? undefined : ctx.meta
    if (meta !== undefined) this.#o.checkMeta(meta, key)
    const [served] = await this.writeBack(
      [{ key, value: value ?? undefined, ticket, version, meta }],
      freshnessOf(ctx),
      stamp,
    )
    this.#o.refresher.succeeded(key)
    if (refreshing) {
      // Only a refresh that reached the store is news to the other nodes: telling them of one
      // the store refused would throw their own running loads away for nothing.
      if (served!.stored) this.#o.publish('refresh', [key])
    }
    stats.loaded(key, clock.now() - started)
    return loaded(served!.value)
  }

  /**
   * The loader answered "not modified" about `base`: the entry is fresh again
   * for the loader's ttl, with its value as it is. The store gets a TTL
   * extension fenced by the version the load read (a rewrite when the loader
   * set new meta): refused when the key was written, deleted, purged or has
   * expired since, and then not cached here either (callers still get the value).
   */
  async #notModified(
    load: Load<V>,
    base: Entry<V>,
    ctx: LoaderContext<V>,
    started: number,
    seen: number,
  ): Promise<GetInfo<V>> {
    const { key, ticket, version, refreshing } = load
    const { l1, l2, clock, stats } = this.#o
    const life = this.#lifetime(false, freshnessOf(ctx))
    const meta = ctx.meta !== undefined ? ctx.meta : base.meta
    // A tagged value keeps its tags, stamped as of this load: the loader vouched for it now (so a tag
    // invalidated before this load no longer makes it stale); that takes a rewrite, not a touch.
    const stamp = base.tags === undefined ? undefined : { tags: base.tags.tags, at: seen }
    const entry = makeEntry(base.value, clock.now(), life, meta, stamp)
    // The value re-encoded from L1's copy: only for a store without `touch`, new meta, or a new stamp.
    const rewrite = () => l2.encode(key, base.value, life, meta, stamp)
    let result: StoreWriteResult | typeof FAILED | undefined
    if (version === undefined) result = FAILED
    else if (load.previous === undefined)
      result = { applied: false, version } // nothing there to extend
    else if (ctx.meta !== undefined || stamp !== undefined) {
      const write = rewrite()
      result = write === FAILED ? FAILED : (await l2.writeBack([[key, { ...write, ifVersion: version }]]))[0]
    } else result = await l2.touch(key, { freshMs: life.freshMs, keepMs: life.keepMs, ifVersion: version }, rewrite)
    if (!ticket.superseded && !refused(result)) l1?.set(key, entry)
    this.#o.refresher.succeeded(key)
    if (refreshing && applied(result)) this.#o.publish('refresh', [key])
    stats.loaded(key, clock.now() - started)
    return loaded(entry.value)
  }

  /**
   * A load failed. mlcache's resurrect: a value still held is re-armed as fresh
   * for `resurrectTtl`, marked resurrected in both levels so every node reports
   * it so; otherwise a stale value inside its window is served; otherwise every
   * waiter gets the error. Nothing new is cached.
   */
  async loadFailed(load: Omit<Load<V>, 'loader'>, error: LoaderError | TimeoutError): Promise<GetInfo<V>> {
    const { key, f, ticket, refreshing, version } = load
    // Read at a version, only the record the store held there may be fallen back on. A copy held from
    // before (L1's) when the store held nothing may predate a delete or purge this node has not heard of
    // yet: resurrected, it was written back at the tombstone's version (which the fence accepts) and
    // every node served the deleted value again. With no version (the store unreadable), it is all there is.
    const kept = version === undefined || load.kept === load.previous ? load.kept : undefined
    const { l1, l2, stats } = this.#o
    stats.loaderError(error, key)
    const now = this.#o.clock.now()
    if (kept !== undefined && isFresh(kept, now)) {
      // A refresh ahead failed: the value is still fresh and stays as it is; the key backs off.
      this.#o.refresher.failed(key)
      return info(kept, 1)
    }
    const resurrect = kept !== undefined && isKept(kept, now) && f.resurrectTtl > 0
    const servable = kept !== undefined && isServableStale(kept, now)
    // An old value goes on being served: the key backs off before its loader is tried again
    // (a resurrection lasts that long, from resurrectTtl up).
    const waitMs =
      resurrect || servable || refreshing ? this.#o.refresher.failed(key, resurrect ? f.resurrectTtl : undefined) : 0
    // A write since this load started replaced what it backed off for: the key starts over.
    if (ticket.superseded) this.#o.refresher.forget(key)
    if (resurrect) {
      // Re-armed as if written now with ttl = the wait (and the same windows).
      const life = lifetime(false, { ...f, ttl: waitMs })
      // It keeps its tags and its stamp: a tag operation newer than the kept value still applies to it.
      const revived = makeEntry(kept.value, now, { ...life, resurrected: true }, kept.meta, kept.tags)
      const write = version === undefined ? FAILED : l2.encode(key, kept.value, life, kept.meta, kept.tags)
      const result =
        write === FAILED
          ? FAILED
          : (await l2.writeBack([[key, { ...write, ifVersion: version, resurrected: true }]]))[0]
      if (!ticket.superseded && !refused(result)) l1?.set(key, revived)
      stats.stale(key, 'resurrected')
      return info(revived, 4, 'resurrected')
    }
    if (servable) {
      if (!refreshing) stats.stale(key, 'loader-failed')
      return info(kept, 4, 'loader-failed')
    }
    throw error
  }

  /**
   * Write loaded values back (one store round trip): each to the store only if
   * its key is still at the version its load read, then to L1 only if that was
   * not refused and nothing superseded it meanwhile. The store's fence alone
   * decides the store write, also for superseded work: an invalidation that
   * turns out to concern an older write must not throw a good value away. A
   * refused value still goes to its own callers (their calls overlapped the
   * newer write), but is not cached: the next read finds the newer one.
   * Resolves, per item, to what its callers get and whether the store took it.
   */
  async writeBack(items: readonly WriteBack<V>[], f: FreshnessPolicy, stamp?: TagStamp): Promise<Served<V>[]> {
    const { l1, l2 } = this.#o
    const now = this.#o.clock.now()
    const planned = items.map((item) => {
      const life = this.#lifetime(item.value === undefined, f)
      const entry = makeEntry(this.#forL1(item.key, item.value), now, life, item.meta, stamp)
      const write = item.version === undefined ? FAILED : l2.encode(item.key, item.value, life, item.meta, stamp)
      return { item, entry, write }
    })
    const sent = planned.filter((p) => p.write !== FAILED)
    const [results] = await Promise.all([
      l2.writeBack(
        sent.map(({ item, write }) => [item.key, { ...(write as StoreWrite), ifVersion: item.version }] as const),
      ),
      // The tags' states, read while the value is written, so the next read of it is an L1 hit.
      stamp === undefined ? undefined : this.#o.tags.learn(stamp.tags),
    ])
    const refusedOnes = new Set(sent.filter((_, j) => refused(results[j])))
    const storedOnes = new Set(sent.filter((_, j) => applied(results[j])))
    for (const p of planned) {
      if (!p.item.ticket.superseded && !refusedOnes.has(p)) l1?.set(p.item.key, p.entry)
    }
    return planned.map((p) => ({ value: p.entry.value, stored: storedOnes.has(p) }))
  }

  /**
   * A user's `set`: the store first (rejects with its `StoreError`), then L1.
   * With `announce`, the store publishes the invalidation with its write;
   * resolves whether it did (not when the value could not be encoded: then
   * nothing was written to the store).
   */
  async put(
    key: string,
    value: V | undefined,
    f: FreshnessPolicy,
    announce?: Announcement,
    stamp?: TagStamp,
  ): Promise<boolean> {
    const life = this.#lifetime(value === undefined, f)
    const write = this.#o.l2.encode(key, value, life, undefined, stamp)
    // The L1 copy's times count from before the store write, as the record's in the store do: a
    // reply that waited (a busy or paused process) must not make L1 outlive the store's record.
    const now = this.#o.clock.now()
    await Promise.all([
      write === FAILED ? undefined : this.#o.l2.put(key, announce === undefined ? write : { ...write, announce }),
      // The tags' states, read while the value is written, so the next read of it is an L1 hit.
      stamp === undefined ? undefined : this.#o.tags.learn(stamp.tags),
    ])
    // Work on the key that started while the write ran may have read before it: it must not land.
    this.#o.flights.supersede(key)
    this.#o.l1?.set(key, makeEntry(this.#forL1(key, value), now, life, undefined, stamp))
    return write !== FAILED && announce !== undefined
  }

  /** How long a value written now lives: the policy's times, the TTL jittered. */
  #lifetime(negative: boolean, f: FreshnessPolicy): EntryTimes {
    const aheadMs = aheadOf(this.#o.refreshAhead, f.ttl, negative)
    const life = aheadMs === undefined ? lifetime(negative, f) : { ...lifetime(negative, f), aheadMs }
    return this.#o.ttlJitter > 0 ? jittered(life, this.#o.ttlJitter, this.#o.random) : life
  }

  /** A fresh entry read from the store: a level-2 hit, or a value another node resurrected. */
  #fromStore(key: string, entry: Entry<V>): GetInfo<V> {
    this.#o.stats.l2(key, entry)
    return fromStore(entry)
  }

  #forL1(key: string, value: V | undefined): V | undefined {
    const serializer = this.#o.l1Serializer
    return value !== undefined && serializer ? serializer(value, key) : value
  }

  /** Run one loader call, published on `tiercache:load` when someone listens (nothing is built otherwise). */
  traced<T>(keys: readonly string[], refreshing: boolean, run: () => Promise<T>): Promise<T> {
    if (!isTraced(tracing.load)) return run()
    return tracing.load.tracePromise(run, { ...this.#o.source, key: keys[0]!, keys, refreshing })
  }

  /** Run a loader under the hard timeout; on time-out its signal aborts and the call rejects with `TimeoutError`. */
  withHardTimeout<T>(
    key: string,
    controller: AbortController,
    run: () => T | Promise<T>,
    ms = this.#o.hardTimeout,
  ): Promise<T> {
    return withDeadline(Promise.resolve().then(run), ms, () => {
      const error = new TimeoutError(key, ms)
      controller.abort(error)
      return error
    })
  }
}

const NOT_CLOSED = Symbol('not closed')

/** The freshness a loader settled on, without the rest of its context (which must not be retained). */
export function freshnessOf(ctx: FreshnessPolicy): FreshnessPolicy {
  return { ttl: ctx.ttl, negTtl: ctx.negTtl, staleTtl: ctx.staleTtl, resurrectTtl: ctx.resurrectTtl }
}

/**
 * The stamp of a loaded value from the tags its loader set (checked, without
 * repeats), and the tag operation number seen before it ran; `undefined`
 * when it set none.
 */
export function stampOf(tags: unknown, seen: number): TagStamp | undefined {
  checkTags(tags, 'ctx.tags')
  return tags.length === 0 ? undefined : { tags: [...new Set(tags)], at: seen }
}

/** What a written-back value's callers get, and whether the store took it. */
export interface Served<V> {
  readonly value: V | undefined
  readonly stored: boolean
}

/** A write the store applied. */
function applied(result: StoreWriteResult | typeof FAILED | undefined): boolean {
  return result !== undefined && result !== FAILED && result.applied
}

/** A conditional write the store refused: a newer write is there. */
function refused(result: StoreWriteResult | typeof FAILED | undefined): boolean {
  return result !== undefined && result !== FAILED && !result.applied
}
