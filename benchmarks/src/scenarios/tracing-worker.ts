/** Child process of the tracing scenario: the L1 hit with or without a tracing subscriber (see tracing.ts). */
import { tracingChannel } from 'node:diagnostics_channel'
import { TierCache } from '@tiercache/core'
import { LRUCache } from 'lru-cache'
import { keyNames, uniform, zipf } from '../data/access-pattern.js'
import { makeValue } from '../data/value.js'
import { serveChild } from '../harness/child.js'
import { compareMicro, replay } from '../harness/micro.js'

/** What the parent asks. */
export interface TracingJob {
  readonly subscriber: boolean
  readonly keys: number
  readonly lruSize: number
  readonly rounds: number
  readonly cpuMs: number
}

/** Per access pattern: ns per op of each contender and tiercache's ratio to `await lru.get(k)`. */
export interface TracingAnswer {
  readonly patterns: readonly {
    readonly name: string
    readonly baselineNs: number
    readonly tiercacheNs: number
    readonly ratio: number
    readonly spread: number
  }[]
  /** Trace contexts the subscriber saw (0 without one): proof that it was called. */
  readonly traced: number
}

export const BASELINE = 'await lru.get(k)'

serveChild<TracingJob, TracingAnswer>(async (job) => {
  const keys = keyNames('l1:', job.keys)
  const values = keys.map((_, i) => makeValue(i))
  const lru = new LRUCache<string, object>({ max: job.lruSize })
  const cache = new TierCache<object>({ name: `tracing-${process.pid}`, lruSize: job.lruSize, ttl: 3_600_000 })
  const loader = (key: string) => values[Number(key.slice(3))]
  for (const [i, key] of keys.entries()) {
    lru.set(key, values[i]!)
    await cache.get(key, loader)
  }
  // The subscriber an APM would install: it keeps what it needs on the context, once per call.
  let traced = 0
  if (job.subscriber) {
    tracingChannel('tiercache:get').subscribe({
      start: () => {
        traced++
      },
      end: () => {},
      asyncStart: () => {},
      asyncEnd: () => {},
      error: () => {},
    })
  }
  const patterns = []
  for (const pattern of [uniform(keys), zipf(keys, 1)]) {
    const results = await compareMicro(
      [
        { name: BASELINE, op: replay((k: string) => Promise.resolve(lru.get(k)), pattern.keys, undefined) },
        { name: 'tiercache', op: replay((k: string) => cache.get(k, loader), pattern.keys, undefined) },
      ],
      { baseline: BASELINE, rounds: job.rounds, cpuMs: job.cpuMs },
    )
    const [base, tc] = results
    patterns.push({
      name: pattern.name,
      baselineNs: base!.nsPerOp,
      tiercacheNs: tc!.nsPerOp,
      ratio: tc!.ratio,
      spread: tc!.spread,
    })
  }
  if (cache.stats().loads !== job.keys)
    throw new Error(`loader ran ${cache.stats().loads - job.keys} times during hits`)
  return { patterns, traced }
})
