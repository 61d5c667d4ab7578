import { tracingChannel } from 'node:diagnostics_channel'
import { ChaosStore } from '@tiercache/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import {
  CHANNELS,
  type GetTrace,
  type InvalidationBus,
  type InvalidationHandler,
  type LoadTrace,
  MemoryStore,
  StoreError,
  type StoreTrace,
  TierCache,
  type TierCacheError,
} from '../src/index.js'
import { cacheWithClock, countingLoader, until } from './fixtures.js'

/** A bus that records what the cache publishes and lets the test play the other nodes. */
function recordingBus() {
  let handler: InvalidationHandler | undefined
  const bus: InvalidationBus = {
    publish: () => {},
    subscribe: (_namespace, h) => {
      handler = h
      return () => {
        handler = undefined
      }
    },
  }
  return { bus, handler: () => handler! }
}

/** A pino-shaped logger that keeps its calls. */
function recordingLogger() {
  const lines: [level: string, obj: Record<string, unknown>, msg: string][] = []
  return {
    lines,
    logger: {
      warn: (obj: object, msg: string) => lines.push(['warn', obj as Record<string, unknown>, msg]),
      error: (obj: object, msg: string) => lines.push(['error', obj as Record<string, unknown>, msg]),
      debug: (obj: object, msg: string) => lines.push(['debug', obj as Record<string, unknown>, msg]),
    },
  }
}

describe('stats: a hit ratio that counts callers of a running load', () => {
  it('100 concurrent callers of a cold key are 1 miss and 99 flight waits (ratio 0.99), not 1 miss and nothing', async () => {
    const cache = new TierCache<string>({ name: 'ratio' })
    const { loader, calls } = countingLoader(() => 'v', 20)
    const values = await Promise.all(Array.from({ length: 100 }, () => cache.get('cold', loader)))
    expect(values.every((v) => v === 'v')).toBe(true)
    expect(calls).toHaveLength(1)
    expect(cache.stats()).toMatchObject({ gets: 100, misses: 1, flightWaits: 99, loads: 1, l1Hits: 0 })
    expect(cache.stats().hitRatio).toBe(0.99)
    await cache.get('cold', loader) // an L1 hit on the fast path counts as a look-up too
    expect(cache.stats()).toMatchObject({ gets: 101, l1Hits: 1 })
    expect(cache.stats().hitRatio).toBe(100 / 101)
  })

  it('getMany counts each key, a key already loading and a repeated key as flight waits', async () => {
    const cache = new TierCache<string>({ name: 'ratio-many' })
    const slow = countingLoader(() => 'a', 20)
    const running = cache.get('a', slow.loader)
    await cache.getMany(['a', 'b', 'b', 'c'], async (keys) => keys.map((k) => k))
    await running
    // get a: 1 miss; getMany: a joins the running load, b misses and its repeat waits, c misses.
    expect(cache.stats()).toMatchObject({ gets: 5, misses: 3, flightWaits: 2 })
    expect(cache.stats().hitRatio).toBe(2 / 5)
  })

  it('starts at 0 rather than NaN', () => {
    expect(new TierCache({ name: 'empty' }).stats().hitRatio).toBe(0)
  })

  it('counts resurrected values apart from the stale ones they are part of', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, resurrectTtl: 2_000 })
    const { loader, fail } = countingLoader(() => 'v')
    await cache.get('k', loader)
    clock.advance(1_001)
    fail()
    expect((await cache.getWithInfo('k', loader)).reason).toBe('resurrected')
    expect(cache.stats()).toMatchObject({ staleServed: 1, resurrected: 1, loaderErrors: 1 })
  })
})

describe('stats: store errors by kind', () => {
  it('tells a timed-out store from an unencodable value and unreadable bytes', async () => {
    const store = new ChaosStore(new MemoryStore())
    const cache = new TierCache<unknown>({ name: 'kinds', store, storeTimeout: 20, codec: brittleCodec() })
    cache.on('error', () => {})
    store.mode = 'stall'
    // The read times out, so does the lock; a load whose read failed writes nothing back (it has no version to fence on)
    await cache.get('slow', async () => 'v')
    store.mode = 'ok'
    await cache.set('bad', 'unencodable')
    await cache.store.set('kinds', 'garbled', { data: Uint8Array.of(0xff), freshMs: 60_000, keepMs: 60_000 })
    expect(await cache.get('garbled')).toBeUndefined()
    const { storeErrors, storeErrorsByKind } = cache.stats()
    expect(storeErrorsByKind).toEqual({
      timeout: 2,
      encode: 1,
      decode: 1,
      'circuit-open': 0,
      connection: 0,
      server: 0,
      'too-large': 0,
      contention: 0,
      other: 0,
    })
    expect(storeErrors).toBe(4)
  })

  it('counts a store that throws as other', async () => {
    const store = new ChaosStore(new MemoryStore())
    const cache = new TierCache<string>({ name: 'kinds-throw', store })
    cache.on('error', () => {})
    store.mode = 'throw'
    await cache.get('k', async () => 'v')
    expect(cache.stats().storeErrorsByKind.other).toBe(2) // the read and the lock (no write back after a failed read)
  })
})

/** JSON, except that the string 'unencodable' cannot be encoded and the byte 0xff cannot be decoded. */
function brittleCodec() {
  return {
    name: 'brittle',
    encode: (value: unknown) => {
      if (value === 'unencodable') throw new Error('cannot encode')
      return new TextEncoder().encode(JSON.stringify(value))
    },
    decode: (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as unknown,
  }
}

describe('error events carry the key and the cache name', () => {
  it('a failed store read names the key being read and the cache', async () => {
    const store = new ChaosStore(new MemoryStore())
    const cache = new TierCache<string>({ name: 'named', store })
    const seen: [string, string | undefined, string][] = []
    cache.on('error', (error, key, name) => seen.push([error.code, key, name]))
    store.mode = 'throw'
    await cache.get('user:1', async () => 'v')
    // A user's delete rejects when the store fails, and the failure is reported too.
    await expect(cache.delete('user:2')).rejects.toThrow(StoreError)
    expect(seen).toEqual([
      ['TIERCACHE_STORE', 'user:1', 'named'], // the read
      ['TIERCACHE_STORE', 'user:1', 'named'], // the lock (a load whose read failed writes nothing back)
      ['TIERCACHE_STORE', 'user:2', 'named'],
    ])
  })
})

describe('health()', () => {
  it('ok while the store answers, degraded when it fails, with the reason', async () => {
    const store = new ChaosStore(new MemoryStore())
    const cache = new TierCache<string>({ name: 'health', store, storeTimeout: 20 })
    const errors: unknown[] = []
    cache.on('error', (e) => errors.push(e))
    expect(await cache.health()).toMatchObject({
      status: 'ok',
      cache: 'health',
      store: { name: 'chaos(memory)', ok: true },
    })
    store.mode = 'throw'
    expect(await cache.health()).toMatchObject({
      status: 'degraded',
      store: { ok: false, error: 'chaos: get failed' },
    })
    store.mode = 'stall'
    const stalled = await cache.health()
    expect(stalled.store).toMatchObject({ ok: false, error: 'shared store health timed out after 20 ms' })
    expect(stalled.store.latencyMs).toBeGreaterThanOrEqual(15)
    // A health check is not traffic: nothing counted, nothing emitted.
    expect(cache.stats().storeErrors).toBe(0)
    expect(errors).toEqual([])
  })

  it("uses the store's own check and reports its circuit", async () => {
    const inner = new MemoryStore()
    const store = Object.assign(Object.create(inner) as MemoryStore, {
      circuit: 'half-open' as const,
      health: async () => ({ ok: true, circuit: 'closed' as const }),
    })
    const cache = new TierCache<string>({ name: 'health-own', store })
    expect((await cache.health()).store).toMatchObject({ ok: true, circuit: 'closed' })
  })

  it('degraded while the bus is disconnected, ok again once it is back', async () => {
    const { bus, handler } = recordingBus()
    const cache = new TierCache<string>({ name: 'health-bus', ipc: bus })
    expect(await cache.health()).toMatchObject({ status: 'ok', bus: { connected: true } })
    handler().disconnected(1_000)
    expect(await cache.health()).toMatchObject({ status: 'degraded', store: { ok: true }, bus: { connected: false } })
    handler().reconnected()
    expect(await cache.health()).toMatchObject({ status: 'ok', bus: { connected: true } })
    expect(cache.stats().busDisconnects).toBe(1)
  })
})

describe('bus counters', () => {
  it('counts invalidations published and received', async () => {
    const { bus, handler } = recordingBus()
    const cache = new TierCache<string>({ name: 'bus-count', ipc: bus })
    await cache.set('a', '1')
    await cache.delete('a')
    handler().invalidate(['x', 'y'])
    handler().invalidateAll()
    expect(cache.stats()).toMatchObject({ busPublished: 2, busReceived: 2 })
  })
})

describe('logger option', () => {
  it('logs store failures at warn and loader failures at error, with cache, key and err', async () => {
    const store = new ChaosStore(new MemoryStore())
    const { logger, lines } = recordingLogger()
    const cache = new TierCache<string>({ name: 'logged', store, logger })
    store.mode = 'throw'
    await cache.get('k', async () => 'v')
    store.mode = 'ok'
    await expect(
      cache.get('bad', async () => {
        throw new Error('origin down')
      }),
    ).rejects.toThrow('origin down')
    expect(
      lines.map(([level, obj, msg]) => [level, obj.cache, obj.key, (obj.err as TierCacheError).code, msg]),
    ).toEqual([
      // the read and the lock (a load whose read failed writes nothing back)
      ['warn', 'logged', 'k', 'TIERCACHE_STORE', 'tiercache: shared store failed; served from the next level'],
      ['warn', 'logged', 'k', 'TIERCACHE_STORE', 'tiercache: shared store failed; served from the next level'],
      ['error', 'logged', 'bad', 'TIERCACHE_LOADER', 'tiercache: load failed'],
    ])
    expect(lines[0]![1]).toMatchObject({ operation: 'get', kind: 'other' })
  })

  it('logs refreshes and bus reconnections at debug, a lost bus at warn', async () => {
    const { bus, handler } = recordingBus()
    const { logger, lines } = recordingLogger()
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 1_000, ipc: bus, logger })
    await cache.get('k', async () => 'v')
    clock.advance(1_001)
    await cache.get('k', async () => 'v2')
    handler().disconnected(500)
    handler().reconnected()
    await until(() => lines.length === 3)
    expect(lines.map(([level, , msg]) => [level, msg])).toEqual([
      ['debug', 'tiercache: background refresh started'],
      ['warn', 'tiercache: invalidation bus disconnected; L1 entries older than maxStalenessMs are not served'],
      ['debug', 'tiercache: invalidation bus reconnected; L1 dropped'],
    ])
    // The refresh starts after the stale answer (a macrotask later): it must not run into the next test.
    await cache.idle()
  })

  it('without a logger nothing is logged and failures still reach the error event only', async () => {
    const store = new ChaosStore(new MemoryStore())
    const cache = new TierCache<string>({ name: 'quiet', store })
    const errors: unknown[] = []
    cache.on('error', (e) => errors.push(e))
    store.mode = 'throw'
    expect(await cache.get('k', async () => 'v')).toBe('v')
    expect(errors).toHaveLength(2) // the read and the lock (a load whose read failed writes nothing back)
  })

  it('rejects a logger without warn and error', () => {
    expect(() => new TierCache({ logger: {} as never })).toThrow(
      new TypeError('options.logger must have warn(obj, msg) and error(obj, msg) functions, got an object'),
    )
    expect(() => new TierCache({ logger: { warn() {}, error() {}, debug: 1 } as never })).toThrow(TypeError)
  })
})

describe('tracing channels', () => {
  const unsubscribe: (() => void)[] = []
  afterEach(() => {
    for (const u of unsubscribe.splice(0)) u()
  })
  /** Subscribe to every event of `name`; returns the events seen, as [event, context snapshot]. */
  function record<T extends object>(name: string) {
    const events: [string, T][] = []
    const channel = tracingChannel<T, T>(name)
    const handlers = {
      start: (ctx: T) => events.push(['start', { ...ctx }]),
      end: (ctx: T) => events.push(['end', { ...ctx }]),
      asyncStart: (ctx: T) => events.push(['asyncStart', { ...ctx }]),
      asyncEnd: (ctx: T) => events.push(['asyncEnd', { ...ctx }]),
      error: (ctx: T) => events.push(['error', { ...ctx }]),
    }
    channel.subscribe(handlers)
    unsubscribe.push(() => channel.unsubscribe(handlers))
    return events
  }

  it('tiercache:get carries cache, key and hit level, L1 hits included', async () => {
    const cache = new TierCache<string>({ name: 'traced' })
    const gets = record<GetTrace>(CHANNELS.get)
    await cache.get('k', async () => 'v')
    await cache.get('k', async () => 'v')
    const ends = gets.filter(([event]) => event === 'asyncEnd').map(([, ctx]) => ctx)
    expect(ends).toMatchObject([
      { cache: 'traced', owner: cache, key: 'k', hitLevel: 3, stale: false, result: 'v' },
      { cache: 'traced', owner: cache, key: 'k', hitLevel: 1, stale: false, result: 'v' },
    ])
    expect(gets.map(([event]) => event)).toEqual([
      'start',
      'end',
      'asyncStart',
      'asyncEnd',
      'start',
      'end',
      'asyncStart',
      'asyncEnd',
    ])
    expect(cache.stats()).toMatchObject({ gets: 2, l1Hits: 1, misses: 1 })
  })

  it('getFresh leaves a traced read to get, which publishes it', async () => {
    const cache = new TierCache<string>({ name: 'traced-fresh' })
    await cache.set('k', 'v')
    expect(cache.getFresh('k')).toBe('v')
    const gets = record<GetTrace>(CHANNELS.get)
    expect(cache.getFresh('k')).toBeUndefined()
    expect(await cache.get('k')).toBe('v')
    expect(gets.filter(([event]) => event === 'asyncEnd')).toHaveLength(1)
  })

  it('tiercache:get and tiercache:load carry the error of a failed load', async () => {
    const cache = new TierCache<string>({ name: 'traced-error' })
    cache.on('error', () => {})
    const gets = record<GetTrace>(CHANNELS.get)
    const loads = record<LoadTrace>(CHANNELS.load)
    const failure = new Error('origin down')
    await expect(
      cache.getWithInfo('k', async () => {
        throw failure
      }),
    ).rejects.toThrow('origin down')
    expect(gets.find(([event]) => event === 'error')?.[1]).toMatchObject({
      key: 'k',
      error: { code: 'TIERCACHE_LOADER' },
    })
    expect(loads.find(([event]) => event === 'error')?.[1]).toMatchObject({
      cache: 'traced-error',
      key: 'k',
      keys: ['k'],
      refreshing: false,
      error: failure,
    })
  })

  it('tiercache:load marks background refreshes and bulk loads', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 1_000 })
    const loads = record<LoadTrace>(CHANNELS.load)
    await cache.getMany(['a', 'b'], async (keys) => keys)
    clock.advance(1_001)
    await cache.get('a', async () => 'a2')
    await until(() => loads.filter(([event]) => event === 'asyncEnd').length === 2)
    const ends = loads.filter(([event]) => event === 'asyncEnd').map(([, ctx]) => ctx)
    expect(ends).toMatchObject([
      { key: 'a', keys: ['a', 'b'], refreshing: false, result: ['a', 'b'] },
      { key: 'a', keys: ['a'], refreshing: true, result: 'a2' },
    ])
  })

  it('tiercache:store carries the operation, the key and the error of a failed call', async () => {
    const store = new ChaosStore(new MemoryStore())
    const cache = new TierCache<string>({ name: 'traced-store', store })
    cache.on('error', () => {})
    const calls = record<StoreTrace>(CHANNELS.store)
    await cache.get('k', async () => 'v')
    store.mode = 'throw'
    await cache.get('j', async () => 'v')
    const ends = calls.filter(([event]) => event === 'asyncEnd').map(([, ctx]) => ctx)
    expect(ends.map((c) => [c.operation, c.key, c.store, c.error === undefined ? 'ok' : 'error'])).toEqual([
      ['get', 'k', 'chaos(memory)', 'ok'],
      ['lock', 'k', 'chaos(memory)', 'ok'],
      ['get', 'k', 'chaos(memory)', 'ok'], // re-read under the lock
      ['set', 'k', 'chaos(memory)', 'ok'],
      ['unlock', 'k', 'chaos(memory)', 'ok'],
      ['get', 'j', 'chaos(memory)', 'error'],
      ['lock', 'j', 'chaos(memory)', 'error'], // no write back: the failed read gave no version to fence on
    ])
  })

  it('builds nothing when nobody subscribes: an L1 hit hands back the very promise L1 holds', async () => {
    const cache = new TierCache<string>({ name: 'untraced' })
    await cache.get('k', async () => 'v')
    const first = cache.get('k')
    expect(cache.get('k')).toBe(first) // no wrapper promise, no context: the settled promise from the LRU
    const gets = record<GetTrace>(CHANNELS.get)
    expect(cache.get('k')).not.toBe(first) // traced: a promise of its own, and a context
    await cache.get('k')
    expect(gets).toHaveLength(8)
  })
})
