/**
 * `@tiercache/metrics`: Prometheus metrics (prom-client) for a tiercache
 * `TierCache` or `HttpCache`.
 */
export { type Instrumentation, type InstrumentOptions, instrument } from './instrument.js'
export type { HttpCacheLike, InstrumentTarget, TierCacheLike } from './target.js'
