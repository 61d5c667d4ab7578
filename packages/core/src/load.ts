import type { Clock } from './clock.js'
import { withDeadline } from './deadline.js'
import { type Entry, isFresh, isKept, isServableStale, lifetime, makeEntry } from './entry.js'
import { LoaderError, TimeoutError } from './errors.js'
import type { InvalidationKind } from './invalidation.js'
import type { Load, LoaderContext } from './loader.js'
import type { LocalTier } from './local-tier.js'
import type { FreshnessPolicy } from './options.js'
import type { Refresher } from './refresh.js'
import { type GetInfo, info, loaded } from './result.js'
import { FAILED, type SharedTier } from './shared-tier.js'
import type { Ticket } from './single-flight.js'
import type { Stats } from './stats.js'
import type { StoreWrite } from './store.js'
import { checkDurations } from './validate.js'

/** How a {@link LoadPipeline} is wired into its cache. */
export interface LoadPipelineOptions<V> {
  readonly l1: LocalTier<V> | undefined
  readonly l2: SharedTier<V>
  readonly clock: Clock
  readonly stats: Stats
  readonly refresher: Refresher<V>
  readonly l1Serializer: ((value: unknown, key: string) => V) | undefined
  /** ms to wait for another process's load of the same key before loading anyway. */
  readonly lockWait: number
  /** ms of the distributed lock's lease, extended while the loader runs. */
  readonly lockLease: number
  /** ms after which a load is abandoned; `0` = no limit. */
  readonly hardTimeout: number
  /** Tells the other nodes a key changed (a refresh landed). */
  readonly publish: (kind: InvalidationKind, keys: string[]) => void
}

/** A value to write to both levels; a `ticket` superseded meanwhile keeps it out of them. */
export interface WriteItem<V> {
  readonly key: string
  readonly value: V | undefined
  readonly ticket?: Ticket
}

/**
 * What happens to a key that L1 could not answer: the shared store, then the
 * distributed lock, a second look at the store (another process may have
 * filled it meanwhile), the loader, the write-through to both levels, and the
 * unlock. A failed load resurrects or serves what is still held.
 */
export class LoadPipeline<V> {
  readonly #o: LoadPipelineOptions<V>

  constructor(options: LoadPipelineOptions<V>) {
    this.#o = options
  }

  /** One flight: the shared store, then the loader under the distributed lock. */
  async fly(load: Omit<Load<V>, 'kept' | 'refreshing'>, l1: Entry<V> | undefined): Promise<GetInfo<V>> {
    const { key, f, ticket } = load
    const { l1: local, l2, clock, stats } = this.#o
    const found = await l2.read(key, f)
    const now = clock.now()
    if (found !== undefined && isFresh(found, now)) {
      if (!ticket.superseded) local?.set(key, found)
      stats.l2Hit(key)
      return info(found, 2)
    }
    if (found !== undefined && isServableStale(found, now)) {
      if (!ticket.superseded) local?.set(key, found)
      return this.#o.refresher.serveStale(load, found, true)
    }
    stats.miss(key)
    const kept = found ?? (l1 !== undefined && isKept(l1, now) ? l1 : undefined)
    return this.load({ ...load, kept, refreshing: false })
  }

  /** Without a loader: the shared store alone; a miss resolves `undefined` and nothing is cached. */
  async readOnly(key: string, f: FreshnessPolicy): Promise<GetInfo<V>> {
    const found = await this.#o.l2.read(key, f)
    const now = this.#o.clock.now()
    if (found !== undefined && isServableStale(found, now)) {
      this.#o.l1?.set(key, found)
      if (isFresh(found, now)) {
        this.#o.stats.l2Hit(key)
        return info(found, 2)
      }
      this.#o.stats.stale(key, 'refreshing')
      return info(found, 4, 'refreshing')
    }
    this.#o.stats.miss(key)
    return loaded<V>(undefined)
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
    if (l2.hasLock) {
      const deadline = clock.now() + this.#o.lockWait
      for (;;) {
        const taken = await l2.acquire(key, this.#o.lockLease)
        if (taken === FAILED) break // store down: load without the lock
        const waitMs = deadline - clock.now()
        const woken = taken === undefined && waitMs > 0 ? await l2.waitForRelease(key, waitMs) : false
        token = taken
        const landed = await l2.read(key, f)
        if (landed !== undefined && isFresh(landed, clock.now())) {
          if (token !== undefined) await l2.release(key, token)
          if (!ticket.superseded) l1?.set(key, landed)
          this.#o.stats.l2Hit(key)
          if (refreshing) refresher.succeeded(key)
          return info(landed, 2)
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
    }
    try {
      return await this.#runLoader(load, token)
    } finally {
      if (token !== undefined) await l2.release(key, token)
    }
  }

  async #runLoader(load: Load<V>, token: string | undefined): Promise<GetInfo<V>> {
    const { key, f, loader, kept, ticket, refreshing } = load
    const { clock, stats } = this.#o
    const controller = new AbortController()
    const ctx: LoaderContext<V> = { key, ...f, staleValue: kept?.value, refreshing, signal: controller.signal }
    const extender = this.#o.l2.keepLock(key, token, this.#o.lockLease)
    const started = clock.now()
    stats.loadStarted()
    let value: V | undefined | null
    try {
      value = await this.withHardTimeout(key, controller, () => loader(key, ctx))
    } catch (thrown) {
      return this.loadFailed(load, thrown instanceof TimeoutError ? thrown : new LoaderError(key, thrown))
    } finally {
      if (extender !== undefined) clearInterval(extender)
    }
    checkDurations(ctx, 'ctx')
    const [stored] = await this.write([{ key, value: value ?? undefined, ticket }], freshnessOf(ctx))
    if (refreshing) {
      this.#o.refresher.succeeded(key)
      this.#o.publish('refresh', [key])
    }
    stats.loaded(key, clock.now() - started)
    return loaded(stored)
  }

  /**
   * A load failed. mlcache's resurrect: a value still held is re-armed as fresh
   * for `resurrectTtl`; otherwise a stale value inside its window is served;
   * otherwise every waiter gets the error. Nothing new is cached.
   */
  async loadFailed(load: Omit<Load<V>, 'loader'>, error: LoaderError | TimeoutError): Promise<GetInfo<V>> {
    const { key, f, kept, ticket, refreshing } = load
    const { l1, l2, stats } = this.#o
    stats.loaderError(error, key)
    if (refreshing) this.#o.refresher.failed(key)
    const now = this.#o.clock.now()
    if (kept !== undefined && isKept(kept, now) && f.resurrectTtl > 0) {
      // Re-armed as if written now with ttl = resurrectTtl (and the same windows).
      const life = lifetime(false, { ...f, ttl: f.resurrectTtl })
      const revived = makeEntry(kept.value, now, { ...life, resurrected: true })
      if (!ticket.superseded) {
        l1?.set(key, revived)
        const write = l2.encode(key, kept.value, life)
        if (write !== FAILED) await l2.write([[key, write]])
      }
      stats.stale(key, 'resurrected')
      return info(revived, 4, 'resurrected')
    }
    if (kept !== undefined && isServableStale(kept, now)) {
      if (!refreshing) stats.stale(key, 'loader-failed')
      return info(kept, 4, 'loader-failed')
    }
    throw error
  }

  /** Write loaded or set values to L1 and the store (one round trip); resolves to what L1 now serves. */
  async write(items: readonly WriteItem<V>[], f: FreshnessPolicy): Promise<(V | undefined)[]> {
    const { l1, l2, l1Serializer } = this.#o
    const now = this.#o.clock.now()
    const writes: [string, StoreWrite][] = []
    const served = items.map(({ key, value, ticket }) => {
      const life = lifetime(value === undefined, f)
      const l1Value = value !== undefined && l1Serializer ? l1Serializer(value, key) : value
      if (ticket?.superseded) return l1Value
      l1?.set(key, makeEntry(l1Value, now, life))
      const write = l2.encode(key, value, life)
      if (write !== FAILED) writes.push([key, write])
      return l1Value
    })
    await l2.write(writes)
    return served
  }

  /** Run a loader under the hard timeout; on time-out its signal aborts and the call rejects with `TimeoutError`. */
  withHardTimeout<T>(key: string, controller: AbortController, run: () => T | Promise<T>): Promise<T> {
    const ms = this.#o.hardTimeout
    return withDeadline(Promise.resolve().then(run), ms, () => {
      const error = new TimeoutError(key, ms)
      controller.abort(error)
      return error
    })
  }
}

/** The freshness a loader settled on, without the rest of its context (which must not be retained). */
export function freshnessOf(ctx: FreshnessPolicy): FreshnessPolicy {
  return { ttl: ctx.ttl, negTtl: ctx.negTtl, staleTtl: ctx.staleTtl, resurrectTtl: ctx.resurrectTtl }
}
