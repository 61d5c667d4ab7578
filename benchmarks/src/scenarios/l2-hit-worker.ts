/**
 * Child process of the l2-hit scenario's "own process" runs: one contender
 * alone in its process (no other library's heap or GC shares its time),
 * built once, then one closed-loop run per request (see l2-hit.ts).
 */
import { Redis } from 'ioredis'
import type { AdapterOptions } from '../contenders/adapter.js'
import { factoryOf, type Library } from '../contenders/registry.js'
import { keyNames } from '../data/access-pattern.js'
import { makeValue } from '../data/value.js'
import { serveRequests } from '../harness/child.js'
import { closedLoop } from '../harness/load.js'
import { quantile } from '../harness/stats.js'
import { countingLoader, keyIndex } from './contenders.js'

/** Build one contender: a library (L1 off) or the raw ioredis GET + JSON.parse baseline. */
export interface BuildRequest {
  readonly build: {
    readonly library: Library | 'raw'
    readonly autoPipelining: boolean
    readonly redis: { readonly host: string; readonly port: number; readonly prefix: string }
    readonly namespace: string
    readonly keys: number
  }
}

/** One measured closed-loop run. */
export interface RunRequest {
  readonly run: { readonly concurrency: number; readonly durationMs: number }
}

export type WorkerAnswer =
  | { readonly ready: true; readonly config: string; readonly error?: undefined }
  | { readonly error: string }
  | {
      readonly opsPerSec: number
      readonly cpuUsPerOp: number
      readonly heapBytesPerOp: number
      readonly p50us: number
      readonly p99us: number
      readonly loads: number
      readonly error?: undefined
    }

let op: (() => Promise<unknown>) | undefined
let loads = () => 0

serveRequests<BuildRequest | RunRequest, WorkerAnswer>(async (request) => {
  if ('build' in request) {
    const { library, autoPipelining, redis, namespace } = request.build
    const keys = keyNames('l2:', request.build.keys)
    let i = 0
    const next = () => {
      i = (i + 1) % keys.length
      return keys[i]!
    }
    if (library === 'raw') {
      const client = new Redis({ host: redis.host, port: redis.port, enableAutoPipelining: autoPipelining })
      const key = (k: string) => `${redis.prefix}${namespace}:${k}`
      for (const k of keys) await client.set(key(k), JSON.stringify(makeValue(keyIndex(k))))
      op = async () => JSON.parse((await client.get(key(next())))!)
      await closedLoop(op, { concurrency: 64, durationMs: 200 })
      return { ready: true, config: `ioredis${autoPipelining ? ' autopipelining' : ''}` }
    }
    const factory = await factoryOf(library)
    if (typeof factory === 'string') return { error: factory }
    const counted = countingLoader((key) => makeValue(keyIndex(key)))
    const options: AdapterOptions = {
      tiers: 'redis',
      redis: { ...redis, prefix: `${redis.prefix}${namespace}:`, autoPipelining },
      namespace,
      lruSize: 0,
      ttlMs: 3_600_000,
      loader: counted.loader,
    }
    const adapter = await factory(options)
    // One key at a time, as the raw keys are written (l2-hit.ts, PRELOAD).
    for (const k of keys) await adapter.get(k)
    loads = counted.calls
    const before = loads()
    loads = () => counted.calls() - before
    op = () => adapter.get(next())
    // A warm JIT before the first measured run, as the in-process runs get from their warm-up pass.
    await closedLoop(op, { concurrency: 64, durationMs: 200 })
    return { ready: true, config: adapter.config }
  }
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const r = await closedLoop(op!, request.run)
  return {
    opsPerSec: r.opsPerSec,
    cpuUsPerOp: r.cpuUsPerOp,
    heapBytesPerOp: r.heapBytesPerOp,
    p50us: quantile(r.latenciesUs, 0.5),
    p99us: quantile(r.latenciesUs, 0.99),
    loads: loads(),
  }
})
