import { tracingChannel } from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import { CHANNELS, type LoadTrace, type StoreTrace, type TierCacheStats } from '@tiercache/core'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Source } from './target.js'

/** Load latency buckets in seconds: from an in-process computation to a slow origin. */
const LOAD_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** Store call buckets in seconds: a Redis round trip is ~0.1-1 ms; the default store timeout is 1 s. */
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
/** Every state a store's circuit breaker reports, so the gauge is one-hot. */
const CIRCUIT_STATES = ['closed', 'half-open', 'open'] as const

/** One instrumented cache: its source and what only live events tell (IPC gaps). */
interface Watched {
  readonly source: Source
  gaps: number
  readonly stopBus: () => void
}

/** The bus of a cache, when it is an emitter (`@tiercache/ipc` buses are). */
interface BusEvents {
  on(event: 'gap', listener: (info: { readonly namespace: string }) => void): unknown
  off(event: 'gap', listener: (info: { readonly namespace: string }) => void): unknown
}

/**
 * The metrics of one registry and prefix, shared by every cache instrumented
 * on it: one metric per name, one series per cache (label `cache`). Counters
 * are read from `cache.stats()` at scrape time, so a get costs nothing more;
 * latencies come from the `tiercache:load` and `tiercache:store` tracing
 * channels, subscribed only while something is instrumented.
 */
export class MetricSet {
  readonly #registry: Registry
  readonly #watched = new Map<object, Watched>()
  readonly #started = new WeakMap<object, number>()
  /** Names of every metric registered here, to unregister them with the last cache. */
  readonly #names: string[] = []
  readonly #loadSeconds: Histogram<'cache' | 'kind' | 'result'>
  readonly #storeSeconds: Histogram<'cache' | 'store' | 'operation' | 'result'>
  /** Label sets observed per cache name, so a histogram series can be removed with its cache. */
  readonly #observed = new Map<string, Map<string, { hist: Histogram<string>; labels: Record<string, string> }>>()
  readonly #onLoad = {
    start: (ctx: LoadTrace) => this.#start(ctx),
    asyncEnd: (ctx: LoadTrace) => {
      const seconds = this.#seconds(ctx)
      if (seconds === undefined) return
      const kind = ctx.refreshing ? 'refresh' : ctx.keys.length > 1 ? 'bulk' : 'load'
      this.#observe(this.#loadSeconds, { cache: ctx.cache, kind, result: resultOf(ctx) }, seconds)
    },
  }
  readonly #onStore = {
    start: (ctx: StoreTrace) => this.#start(ctx),
    asyncEnd: (ctx: StoreTrace) => {
      const seconds = this.#seconds(ctx)
      if (seconds === undefined) return
      const labels = { cache: ctx.cache, store: ctx.store, operation: ctx.operation, result: resultOf(ctx) }
      this.#observe(this.#storeSeconds, labels, seconds)
    },
  }

  constructor(registry: Registry, prefix: string) {
    this.#registry = registry
    const registers = [registry]
    const watched = this.#watched
    const each = (read: (w: Watched, stats: TierCacheStats) => void) => {
      for (const w of watched.values()) read(w, w.source.cache.stats())
    }
    /**
     * A counter or gauge filled from the caches at scrape time. Both are zeroed
     * and then added to: a counter cannot be set, and the sum also merges two
     * caches that share a name.
     */
    const fromStats =
      (type: 'counter' | 'gauge') =>
      <L extends string>(
        name: string,
        help: string,
        labelNames: readonly L[],
        fill: (add: (labels: Record<L, string>, value: number) => void, w: Watched, s: TierCacheStats) => void,
      ) => {
        const config = {
          name: prefix + name,
          help,
          labelNames,
          registers,
          collect() {
            metric.reset()
            each((w, s) => fill((labels, value) => metric.inc(labels as never, value), w, s))
          },
        }
        const metric: Counter<L> | Gauge<L> = type === 'counter' ? new Counter<L>(config) : new Gauge<L>(config)
        this.#names.push(prefix + name)
      }
    const counter = fromStats('counter')
    const gauge = fromStats('gauge')
    const name = (w: Watched) => w.source.cache.name

    counter(
      'gets_total',
      'Look-ups by outcome: l1, store (fresh from the shared store), stale, resurrected, flight (joined a load ' +
        'running in this process), miss (went on to a loader, or found nothing).',
      ['cache', 'outcome'],
      (inc, w, s) => {
        const cache = name(w)
        inc({ cache, outcome: 'l1' }, s.l1Hits)
        inc({ cache, outcome: 'store' }, s.l2Hits)
        inc({ cache, outcome: 'stale' }, s.staleServed - s.resurrected)
        inc({ cache, outcome: 'resurrected' }, s.resurrected)
        inc({ cache, outcome: 'flight' }, s.flightWaits)
        inc({ cache, outcome: 'miss' }, s.misses)
      },
    )
    gauge(
      'hit_ratio',
      'Share of look-ups that ran no loader of their own: (gets - misses) / gets.',
      ['cache'],
      (set, w, s) => set({ cache: name(w) }, s.hitRatio),
    )
    counter('loads_total', 'Loader calls (a bulk loader call counts one).', ['cache'], (inc, w, s) =>
      inc({ cache: name(w) }, s.loads),
    )
    counter('loader_errors_total', 'Loader failures (thrown, rejected or timed out).', ['cache'], (inc, w, s) =>
      inc({ cache: name(w) }, s.loaderErrors),
    )
    counter('refreshes_total', 'Background refreshes of stale values started.', ['cache'], (inc, w, s) =>
      inc({ cache: name(w) }, s.refreshes),
    )
    counter(
      'store_errors_total',
      'Shared-store failures by kind: timeout, circuit-open, connection, server, decode, too-large, contention, encode, other.',
      ['cache', 'kind'],
      (inc, w, s) => {
        for (const [kind, value] of Object.entries(s.storeErrorsByKind)) inc({ cache: name(w), kind }, value)
      },
    )
    counter(
      'lock_waits_total',
      "Waits for another process's load of the same key (the distributed lock).",
      ['cache'],
      (inc, w, s) => inc({ cache: name(w) }, s.lockWaits),
    )
    counter(
      'ipc_messages_total',
      'Invalidations published to and received from the bus.',
      ['cache', 'direction'],
      (inc, w, s) => {
        inc({ cache: name(w), direction: 'published' }, s.busPublished)
        inc({ cache: name(w), direction: 'received' }, s.busReceived)
      },
    )
    counter('ipc_gaps_total', 'Lost bus messages detected (L1 dropped).', ['cache'], (inc, w) =>
      inc({ cache: name(w) }, w.gaps),
    )
    counter('ipc_disconnects_total', 'Times the bus lost its connection for this cache.', ['cache'], (inc, w, s) =>
      inc({ cache: name(w) }, s.busDisconnects),
    )
    gauge('l1_entries', 'Entries in L1.', ['cache'], (set, w, s) => set({ cache: name(w) }, s.l1Size))
    gauge(
      'circuit_state',
      "The store's circuit breaker: 1 for the current state, 0 for the others (stores that have one).",
      ['cache', 'store', 'state'],
      (set, w) => {
        const store = w.source.cache.store
        const current = (store as { circuit?: unknown }).circuit
        if (typeof current !== 'string') return
        for (const state of CIRCUIT_STATES) set({ cache: name(w), store: store.name, state }, current === state ? 1 : 0)
      },
    )
    counter(
      'http_responses_total',
      'HTTP responses by X-Cache status (instrumented HttpCache engines).',
      ['cache', 'status'],
      (inc, w) => {
        const responses = w.source.http?.stats().responses ?? {}
        for (const [status, value] of Object.entries(responses)) inc({ cache: name(w), status }, value)
      },
    )
    counter(
      'http_errors_total',
      'HTTP requests the engine could not answer (instrumented HttpCache engines).',
      ['cache'],
      (inc, w) => {
        const http = w.source.http
        if (http !== undefined) inc({ cache: name(w) }, http.stats().errors)
      },
    )
    this.#loadSeconds = new Histogram({
      name: `${prefix}load_duration_seconds`,
      help: 'Loader calls, from start to settle (kind: load, refresh, bulk; result: ok, error).',
      labelNames: ['cache', 'kind', 'result'],
      buckets: LOAD_BUCKETS,
      registers,
    })
    this.#storeSeconds = new Histogram({
      name: `${prefix}store_duration_seconds`,
      help: 'Shared-store calls by operation, time-outs included (result: ok, error).',
      labelNames: ['cache', 'store', 'operation', 'result'],
      buckets: STORE_BUCKETS,
      registers,
    })
    this.#names.push(`${prefix}load_duration_seconds`, `${prefix}store_duration_seconds`)
  }

  /** True while no cache is instrumented here. */
  get empty(): boolean {
    return this.#watched.size === 0
  }

  /** Start reporting `source`; throws if its cache already is reported here. */
  add(source: Source): void {
    const cache = source.cache
    if (this.#watched.has(cache)) throw new TypeError('this cache is already instrumented on this registry')
    if (this.#watched.size === 0) {
      tracingChannel(CHANNELS.load).subscribe(this.#onLoad as never)
      tracingChannel(CHANNELS.store).subscribe(this.#onStore as never)
    }
    const watched: Watched = { source, gaps: 0, stopBus: () => {} }
    const bus = cache.ipc as Partial<BusEvents> | undefined
    if (typeof bus?.on === 'function' && typeof bus.off === 'function') {
      const onGap = (info: { readonly namespace: string }) => {
        if (info.namespace === cache.name) watched.gaps++
      }
      bus.on('gap', onGap)
      ;(watched as { stopBus: () => void }).stopBus = () => bus.off!('gap', onGap)
    }
    this.#watched.set(cache, watched)
  }

  /** Stop reporting `source`: its series leave the next scrape. Unregisters everything with the last one. */
  remove(source: Source): void {
    const watched = this.#watched.get(source.cache)
    if (watched === undefined) return
    watched.stopBus()
    this.#watched.delete(source.cache)
    const name = source.cache.name
    if (![...this.#watched.keys()].some((c) => (c as { name: string }).name === name)) {
      for (const { hist, labels } of this.#observed.get(name)?.values() ?? []) hist.remove(labels)
      this.#observed.delete(name)
    }
    if (this.#watched.size === 0) {
      tracingChannel(CHANNELS.load).unsubscribe(this.#onLoad as never)
      tracingChannel(CHANNELS.store).unsubscribe(this.#onStore as never)
      for (const name of this.#names) this.#registry.removeSingleMetric(name)
    }
  }

  #start(ctx: LoadTrace | StoreTrace): void {
    if (this.#watched.has(ctx.owner)) this.#started.set(ctx, performance.now())
  }

  #seconds(ctx: LoadTrace | StoreTrace): number | undefined {
    const started = this.#started.get(ctx)
    return started === undefined ? undefined : (performance.now() - started) / 1000
  }

  #observe<L extends string>(hist: Histogram<L>, labels: Record<L, string>, seconds: number): void {
    hist.observe(labels as never, seconds)
    const cache = (labels as Record<string, string>).cache!
    const seen = this.#observed.get(cache) ?? new Map()
    this.#observed.set(cache, seen)
    const id = `${hist === this.#loadSeconds ? 'load' : 'store'}\0${Object.values(labels).join('\0')}`
    if (!seen.has(id)) seen.set(id, { hist: hist as Histogram<string>, labels })
  }
}

function resultOf(ctx: { error?: unknown }): 'ok' | 'error' {
  return ctx.error === undefined ? 'ok' : 'error'
}
