import { type Registry, register } from 'prom-client'
import { MetricSet } from './metric-set.js'
import { type InstrumentTarget, sourceOf } from './target.js'

/** Options of {@link instrument}. */
export interface InstrumentOptions {
  /**
   * The prom-client registry the metrics are registered on.
   * @default prom-client's default `register`
   */
  registry?: Registry
  /**
   * Prepended to every metric name; must be a valid Prometheus name start.
   * @default 'tiercache_'
   */
  prefix?: string
}

/** What {@link instrument} returns. */
export interface Instrumentation {
  /** The registry the metrics live on (scrape it with `registry.metrics()`). */
  readonly registry: Registry
  /** Stop reporting this target; the metrics are unregistered with the last target of the registry. */
  uninstrument(): void
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

/** One set of metrics per registry and prefix, shared by the caches instrumented on it. */
const sets = new WeakMap<Registry, Map<string, MetricSet>>()

/**
 * Report a `TierCache` (or an `HttpCache` and the cache behind it) as
 * Prometheus metrics named `tiercache_*`, labelled by cache name and a bounded
 * set of values (outcome, kind, operation, state, status), never by key.
 * Counters are read from `cache.stats()` at scrape time; latencies come from
 * the tracing channels. Instrument a `TierCache` or the `HttpCache` built on
 * it, not both.
 *
 * @example
 * import { instrument } from '@tiercache/metrics'
 * const metrics = instrument(users, { registry })
 * app.get('/metrics', async () => registry.metrics())
 * metrics.uninstrument() // on shutdown, or in tests
 */
export function instrument(target: InstrumentTarget, options: InstrumentOptions = {}): Instrumentation {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  const source = sourceOf(target)
  const registry = options.registry ?? register
  if (typeof registry?.registerMetric !== 'function') {
    throw new TypeError('options.registry must be a prom-client Registry')
  }
  const prefix = options.prefix ?? 'tiercache_'
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_NAME.test(prefix))) {
    throw new TypeError(`options.prefix must be a valid start of a Prometheus metric name, got ${String(prefix)}`)
  }
  const byPrefix = sets.get(registry) ?? new Map<string, MetricSet>()
  sets.set(registry, byPrefix)
  const set = byPrefix.get(prefix) ?? new MetricSet(registry, prefix)
  byPrefix.set(prefix, set)
  set.add(source)
  let done = false
  return {
    registry,
    uninstrument() {
      if (done) return
      done = true
      set.remove(source)
      if (set.empty) byPrefix.delete(prefix)
    },
  }
}
