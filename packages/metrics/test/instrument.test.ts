import { EventEmitter } from 'node:events'
import { type InvalidationBus, type InvalidationHandler, MemoryStore, TierCache } from '@tiercache/core'
import { ChaosStore } from '@tiercache/core/testing'
import { cacheHttp, type HttpCacheValue } from '@tiercache/http'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { get, listen } from '../../http/test/servers.js'
import { instrument } from '../src/index.js'

/** A clock the test moves by hand, shared by the cache and its MemoryStore. */
function manualClock() {
  let t = 1_000_000
  return { now: () => t, advance: (ms: number) => (t += ms) }
}

/** A bus that is an emitter (as @tiercache/ipc buses are) and lets the test play the other nodes. */
class ScriptedBus extends EventEmitter implements InvalidationBus {
  handler: InvalidationHandler | undefined
  publish(): void {}
  subscribe(_namespace: string, handler: InvalidationHandler): () => void {
    this.handler = handler
    return () => {
      this.handler = undefined
    }
  }
}

/** The value of one sample line of a text scrape, e.g. `tiercache_gets_total{cache="a",outcome="l1"} 5`. */
function sample(scrape: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels)
  for (const line of scrape.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const have = new Map([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
    if (wanted.every(([k, v]) => have.get(k) === v) && have.size === wanted.length) return Number(match[3])
  }
  return undefined
}

describe('instrument(TierCache)', () => {
  it('a scrape after a scripted run shows exactly the counts of the run', async () => {
    const clock = manualClock()
    const store = new ChaosStore(new MemoryStore({ clock }))
    const bus = new ScriptedBus()
    const cache = new TierCache<string>({ name: 'orders', store, clock, ipc: bus, ttl: 1_000, staleTtl: 1_000 })
    cache.on('error', () => {})
    const registry = new Registry()
    const metrics = instrument(cache, { registry })
    const loader = async (key: string) => `v:${key}`

    // 10 concurrent callers of a cold key: 1 miss (and 1 load), 9 waits on its flight
    await Promise.all(Array.from({ length: 10 }, () => cache.get('a', loader)))
    // 5 L1 hits
    for (let i = 0; i < 5; i++) await cache.get('a', loader)
    // a bulk load of 2 keys: 2 misses, 1 load
    await cache.getMany(['b', 'c'], async (keys) => keys.map((k) => `v:${k}`))
    // 'a' goes stale: served stale, refreshed in the background (1 load)
    clock.advance(1_001)
    await cache.get('a', loader)
    await new Promise((resolve) => setTimeout(resolve, 10))
    // a failing loader: 1 miss, 1 load, 1 loader error
    await expect(
      cache.get('x', async () => {
        throw new Error('origin down')
      }),
    ).rejects.toThrow('origin down')
    // the store throws: 1 miss, 1 load; the read and the lock fail (a load whose read failed writes nothing back)
    store.mode = 'throw'
    await cache.get('d', loader)
    store.mode = 'ok'
    // the bus: 1 publish (set; the refresh above published one too), 1 received, 1 disconnect, a gap for us and one for another cache
    await cache.set('e', 'v')
    bus.handler!.invalidate(['e'])
    bus.handler!.disconnected(1_000)
    bus.handler!.reconnected()
    bus.emit('gap', { namespace: 'orders' })
    bus.emit('gap', { namespace: 'other' })

    const scrape = await registry.metrics()
    const at = (name: string, labels: Record<string, string> = {}) =>
      sample(scrape, `tiercache_${name}`, { cache: 'orders', ...labels })
    expect({
      l1: at('gets_total', { outcome: 'l1' }),
      store: at('gets_total', { outcome: 'store' }),
      stale: at('gets_total', { outcome: 'stale' }),
      resurrected: at('gets_total', { outcome: 'resurrected' }),
      flight: at('gets_total', { outcome: 'flight' }),
      miss: at('gets_total', { outcome: 'miss' }),
    }).toEqual({ l1: 5, store: 0, stale: 1, resurrected: 0, flight: 9, miss: 5 })
    expect(at('hit_ratio')).toBe((20 - 5) / 20)
    expect(at('loads_total')).toBe(5)
    expect(at('loader_errors_total')).toBe(1)
    expect(at('refreshes_total')).toBe(1)
    expect(at('store_errors_total', { kind: 'other' })).toBe(2)
    expect(at('store_errors_total', { kind: 'timeout' })).toBe(0)
    expect(at('lock_waits_total')).toBe(0)
    expect(at('ipc_messages_total', { direction: 'published' })).toBe(2) // the refresh of 'a', the set of 'e'
    expect(at('ipc_messages_total', { direction: 'received' })).toBe(1)
    expect(at('ipc_disconnects_total')).toBe(1)
    expect(at('ipc_gaps_total')).toBe(1)
    expect(at('l1_entries')).toBe(cache.stats().l1Size)
    // latencies: one observation per loader call and per store call, by kind/operation and result
    expect(at('load_duration_seconds_count', { kind: 'load', result: 'ok' })).toBe(2) // a, d
    expect(at('load_duration_seconds_count', { kind: 'load', result: 'error' })).toBe(1) // x
    expect(at('load_duration_seconds_count', { kind: 'bulk', result: 'ok' })).toBe(1)
    expect(at('load_duration_seconds_count', { kind: 'refresh', result: 'ok' })).toBe(1)
    const storeCalls = (operation: string, result: string) =>
      at('store_duration_seconds_count', { store: 'chaos(memory)', operation, result })
    expect(storeCalls('get', 'error')).toBe(1)
    expect(storeCalls('lock', 'error')).toBe(1)
    expect(storeCalls('set', 'error')).toBeUndefined() // a load whose read failed writes nothing back
    expect(storeCalls('getMany', 'ok')).toBe(1)
    expect(storeCalls('setMany', 'ok')).toBe(1)
    // The store counts every call it saw; the histogram saw the same, failed ones included.
    const histogramCalls = [...scrape.matchAll(/^tiercache_store_duration_seconds_count\{[^}]*\} (\d+)$/gm)]
    expect(histogramCalls.reduce((sum, m) => sum + Number(m[1]), 0)).toBe(
      [...store.calls.values()].reduce((a, b) => a + b, 0),
    )
    // No key ever becomes a label.
    expect(scrape).not.toMatch(/"(a|b|c|d|e|x)"/)
    metrics.uninstrument()
  })

  it('uninstrument removes the cache, and the metrics with the last one', async () => {
    const registry = new Registry()
    const a = new TierCache<string>({ name: 'a' })
    const b = new TierCache<string>({ name: 'b' })
    const ma = instrument(a, { registry, prefix: 'app_cache_' })
    const mb = instrument(b, { registry, prefix: 'app_cache_' })
    await a.get('k', async () => 'v')
    await b.get('k', async () => 'v')
    let scrape = await registry.metrics()
    expect(sample(scrape, 'app_cache_loads_total', { cache: 'a' })).toBe(1)
    expect(sample(scrape, 'app_cache_loads_total', { cache: 'b' })).toBe(1)
    expect(sample(scrape, 'app_cache_load_duration_seconds_count', { cache: 'a', kind: 'load', result: 'ok' })).toBe(1)
    ma.uninstrument()
    scrape = await registry.metrics()
    expect(sample(scrape, 'app_cache_loads_total', { cache: 'a' })).toBeUndefined()
    expect(sample(scrape, 'app_cache_load_duration_seconds_count', { cache: 'a', kind: 'load', result: 'ok' })).toBe(
      undefined,
    )
    expect(sample(scrape, 'app_cache_loads_total', { cache: 'b' })).toBe(1)
    // A load after uninstrumenting is not observed.
    await a.get('j', async () => 'v')
    expect(await registry.metrics()).not.toMatch(/cache="a"/)
    mb.uninstrument()
    expect(registry.getMetricsAsArray()).toHaveLength(0)
    // Instrumenting again starts afresh on the same registry.
    const again = instrument(a, { registry })
    expect(sample(await registry.metrics(), 'tiercache_loads_total', { cache: 'a' })).toBe(2)
    again.uninstrument()
  })

  it('reports the circuit state of a store that has a breaker, one-hot', async () => {
    const registry = new Registry()
    let circuit = 'closed'
    const memory = new MemoryStore()
    const store = Object.defineProperty(Object.create(memory) as MemoryStore, 'circuit', { get: () => circuit })
    const cache = new TierCache<string>({ name: 'breaker', store })
    const m = instrument(cache, { registry })
    const state = async (s: string) =>
      sample(await registry.metrics(), 'tiercache_circuit_state', { cache: 'breaker', store: 'memory', state: s })
    expect([await state('closed'), await state('open'), await state('half-open')]).toEqual([1, 0, 0])
    circuit = 'open'
    expect([await state('closed'), await state('open'), await state('half-open')]).toEqual([0, 1, 0])
    m.uninstrument()
  })

  it('an HttpCache: responses by X-Cache status, and the counters of the cache behind it', async () => {
    const registry = new Registry()
    const cache = new TierCache<HttpCacheValue>({ name: 'pages' })
    const listener = cacheHttp((_req, res) => res.end('page'), { cache, ttl: 60_000 })
    const server = await listen(listener)
    const m = instrument(listener.httpCache, { registry })
    try {
      for (const headers of [{}, {}, {}, { authorization: 'Basic x' }] as Record<string, string>[])
        await get(`${server.url}/p`, { headers })
    } finally {
      await server.close()
    }
    const scrape = await registry.metrics()
    const responses = (status: string) => sample(scrape, 'tiercache_http_responses_total', { cache: 'pages', status })
    expect([responses('MISS'), responses('HIT'), responses('BYPASS'), responses('STALE')]).toEqual([1, 2, 1, 0])
    expect(sample(scrape, 'tiercache_http_errors_total', { cache: 'pages' })).toBe(0)
    expect(sample(scrape, 'tiercache_loads_total', { cache: 'pages' })).toBe(1)
    m.uninstrument()
  })

  it('rejects what it cannot instrument, a bad prefix, and a cache instrumented twice on one registry', () => {
    const registry = new Registry()
    const cache = new TierCache({ name: 'twice' })
    expect(() => instrument({} as never, { registry })).toThrow(
      new TypeError('target must be a TierCache or an HttpCache'),
    )
    expect(() => instrument(cache, { registry, prefix: '9bad' })).toThrow(TypeError)
    expect(() => instrument(cache, { registry: {} as never })).toThrow(TypeError)
    const m = instrument(cache, { registry })
    expect(() => instrument(cache, { registry })).toThrow(TypeError)
    m.uninstrument()
    m.uninstrument() // idempotent
  })
})
