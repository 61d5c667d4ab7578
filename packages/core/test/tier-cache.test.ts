import { ChaosStore } from '@tiercache/core/testing'
import { describe, expect, it, vi } from 'vitest'
import {
  DecodeError,
  type GetInfo,
  jsonCodec,
  LoaderError,
  MemoryStore,
  StoreError,
  TierCache,
  TierCacheError,
  TimeoutError,
} from '../src/index.js'
import { cacheWithClock, countingLoader, tick, until } from './fixtures.js'

describe('1. levels', () => {
  it('L1 hit: no store call, no loader call', async () => {
    const store = new ChaosStore(new MemoryStore())
    const cache = new TierCache<string>({ name: 'l1', store })
    const { loader, calls } = countingLoader(() => 'v')
    expect(await cache.get('k', loader)).toBe('v')
    const storeCalls = [...store.calls.values()].reduce((a, b) => a + b, 0)
    for (let i = 0; i < 100; i++) expect(await cache.get('k', loader)).toBe('v')
    expect(calls).toHaveLength(1)
    expect([...store.calls.values()].reduce((a, b) => a + b, 0)).toBe(storeCalls)
    expect((await cache.getWithInfo('k', loader)).hitLevel).toBe(1)
    expect(cache.stats()).toMatchObject({ l1Hits: 101, loads: 1, misses: 1 })
  })

  it('L2 hit is promoted to L1 for the remaining TTL, not a fresh one', async () => {
    const { cache: a, clock, store } = cacheWithClock<string>({ ttl: 10_000 })
    const b = new TierCache<string>({ name: 'test', store, clock, ttl: 10_000 })
    await a.get('k', async () => 'v')
    clock.advance(7_000)
    const { loader, calls } = countingLoader(() => 'other')
    expect(await b.getWithInfo('k', loader)).toEqual({ value: 'v', hitLevel: 2, stale: false })
    expect(b.peek('k')?.ttlRemaining).toBe(3_000)
    clock.advance(3_001)
    expect(b.peek('k')).toBeUndefined() // no stale window: gone at expiry
    expect(await b.get('k', loader)).toBe('other')
    expect(calls).toHaveLength(1)
  })

  it('getWithInfo reports hitLevel 1, 2, 3', async () => {
    const { cache, store, clock } = cacheWithClock<number>()
    const other = new TierCache<number>({ name: 'test', store, clock })
    expect((await cache.getWithInfo('k', async () => 1)).hitLevel).toBe(3)
    expect((await cache.getWithInfo('k', async () => 2)).hitLevel).toBe(1)
    expect((await other.getWithInfo('k', async () => 3)).hitLevel).toBe(2)
  })

  it('get without a loader reads L1 and L2 and resolves undefined on a miss, caching nothing', async () => {
    const { cache } = cacheWithClock<string>()
    expect(await cache.get('k')).toBeUndefined()
    await cache.set('k', 'v')
    expect(await cache.get('k')).toBe('v')
    expect(cache.peek('absent')).toBeUndefined()
  })

  it('lruSize 0 disables L1: every read goes to the store', async () => {
    const store = new ChaosStore(new MemoryStore())
    const cache = new TierCache<string>({ name: 'nol1', store, lruSize: 0 })
    await cache.get('k', async () => 'v')
    const before = store.count('get')
    expect((await cache.getWithInfo('k', async () => 'x')).hitLevel).toBe(2)
    expect(store.count('get')).toBe(before + 1)
    expect(cache.peek('k')).toBeUndefined()
  })

  it('lruMaxBytes bounds L1 by sizeOf', async () => {
    const cache = new TierCache<string>({ name: 'bytes', lruMaxBytes: 1_000, sizeOf: (v) => v.length })
    for (let i = 0; i < 50; i++) await cache.set(`k${i}`, 'x'.repeat(100))
    expect(cache.stats().l1Size).toBe(10)
    expect(cache.peek('k49')?.value).toBe('x'.repeat(100))
    expect(cache.peek('k0')).toBeUndefined()
    // evicted from L1, still in the store
    expect(await cache.getWithInfo('k0')).toMatchObject({ value: 'x'.repeat(100), hitLevel: 2 })
  })
})

describe('L1 bounds', () => {
  it('a value larger than the whole byte bound is not kept in L1 at all', async () => {
    const cache = new TierCache<string>({ name: 'huge', lruMaxBytes: 100, sizeOf: (v) => v.length })
    await cache.set('small', 'x')
    await cache.set('huge', 'x'.repeat(1_000))
    expect(cache.peek('huge')).toBeUndefined()
    expect(cache.peek('small')?.value).toBe('x')
    expect(await cache.get('huge')).toBe('x'.repeat(1_000)) // from the store
  })

  it('evictions drop the entry behind the hot path too (no unbounded side map)', async () => {
    const { LocalTier } = await import('../src/local-tier.js')
    const tier = new LocalTier<number>({}, { now: () => 1_000 }, 10)
    for (let i = 0; i < 100; i++) {
      tier.set(`k${i}`, {
        value: i,
        staleAt: 2_000,
        staleUntil: 2_000,
        expiresAt: 2_000,
        cachedAt: 1_000,
        resurrected: false,
      })
    }
    expect(tier.size).toBe(10)
    expect(tier.entryCount).toBe(10)
    tier.delete('k99')
    tier.clear()
    expect(tier.entryCount).toBe(0)
  })

  it('the hot path serves a fresh entry until, and not at, its stale instant', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000 })
    const { loader, calls } = countingLoader((_, n) => `v${n}`)
    await cache.get('k', loader)
    clock.advance(999)
    expect(await cache.get('k', loader)).toBe('v1')
    clock.advance(1)
    expect(await cache.get('k', loader)).toBe('v2')
    expect(calls).toHaveLength(2)
  })
})

describe('2. single flight in process', () => {
  it('1000 concurrent gets of a missing key run the loader once and all get its value', async () => {
    const cache = new TierCache<{ n: number }>({ name: 'sf' })
    const { loader, calls } = countingLoader((_, n) => ({ n }), 20)
    const results = await Promise.all(Array.from({ length: 1000 }, () => cache.get('k', loader)))
    expect(calls).toHaveLength(1)
    expect(new Set(results).size).toBe(1)
    expect(results[0]).toEqual({ n: 1 })
  })

  it('a loader that throws rejects every waiter with a LoaderError keeping the cause, and caches nothing', async () => {
    const cache = new TierCache<string>({ name: 'sf-fail' })
    const cause = new Error('db down')
    const { loader, calls, recover } = countingLoader(() => 'v', 10)
    const failing = countingLoader(() => 'v', 10)
    failing.fail(cause)
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => cache.get('k', failing.loader)))
    expect(failing.calls).toHaveLength(1)
    for (const r of results) {
      expect(r.status).toBe('rejected')
      const reason = (r as PromiseRejectedResult).reason
      expect(reason).toBeInstanceOf(LoaderError)
      expect(reason).toBeInstanceOf(TierCacheError)
      expect(reason.cause).toBe(cause)
      expect(reason.code).toBe('TIERCACHE_LOADER')
    }
    recover()
    expect(await cache.get('k', loader)).toBe('v')
    expect(calls).toHaveLength(1)
  })

  it('a synchronous throw in the loader is a LoaderError too', async () => {
    const cache = new TierCache<string>({ name: 'sync-throw' })
    await expect(
      cache.get('k', () => {
        throw new Error('sync')
      }),
    ).rejects.toBeInstanceOf(LoaderError)
  })

  it('separate keys load separately', async () => {
    const cache = new TierCache<string>({ name: 'sf-keys' })
    const { loader, calls } = countingLoader((key) => key.toUpperCase(), 5)
    expect(await Promise.all(['a', 'b', 'a', 'b'].map((k) => cache.get(k, loader)))).toEqual(['A', 'B', 'A', 'B'])
    expect(calls.sort()).toEqual(['a', 'b'])
  })
})

describe('3. single flight across caches sharing a store with a lock', () => {
  it('4 caches (as 4 processes) x 50 concurrent gets run the loader once', async () => {
    const store = new MemoryStore()
    const caches = Array.from({ length: 4 }, () => new TierCache<string>({ name: 'x', store }))
    const { loader, calls } = countingLoader(() => 'v', 50)
    const results = await Promise.all(caches.flatMap((c) => Array.from({ length: 50 }, () => c.get('k', loader))))
    expect(calls).toHaveLength(1)
    expect(results.every((r) => r === 'v')).toBe(true)
  })

  it('a waiter whose lock wait times out reads the store once more, then loads itself (never hangs)', async () => {
    const store = new MemoryStore()
    const token = await store.lock.acquire('x', 'k', 60_000) // a holder that never finishes
    expect(token).toBeDefined()
    const cache = new TierCache<string>({ name: 'x', store, lockWait: 100 })
    const { loader, calls } = countingLoader(() => 'v')
    const started = Date.now()
    expect(await cache.get('k', loader)).toBe('v')
    expect(Date.now() - started).toBeGreaterThanOrEqual(90)
    expect(calls).toHaveLength(1)
  })

  it('a waiter picks up the value the lock holder wrote, without calling its loader', async () => {
    const store = new MemoryStore()
    const holder = new TierCache<string>({ name: 'x', store })
    const waiter = new TierCache<string>({ name: 'x', store })
    const slow = countingLoader(() => 'from-holder', 100)
    const other = countingLoader(() => 'from-waiter')
    const first = holder.get('k', slow.loader)
    await until(() => slow.calls.length === 1)
    const info = await waiter.getWithInfo('k', other.loader)
    expect(info).toEqual({ value: 'from-holder', hitLevel: 2, stale: false })
    expect(other.calls).toHaveLength(0)
    expect(await first).toBe('from-holder')
  })

  it('when the holder fails, the next waiter takes the lock and loads', async () => {
    const store = new MemoryStore()
    const holder = new TierCache<string>({ name: 'x', store })
    const waiter = new TierCache<string>({ name: 'x', store })
    const failing = countingLoader(() => 'never', 50)
    failing.fail()
    const good = countingLoader(() => 'v')
    const first = holder.get('k', failing.loader).catch((e: unknown) => e)
    await until(() => failing.calls.length === 1)
    expect(await waiter.get('k', good.loader)).toBe('v')
    expect(await first).toBeInstanceOf(LoaderError)
    expect(good.calls).toHaveLength(1)
  })
})

describe('4. negative caching', () => {
  it.each([undefined, null])('caches %s from the loader as a miss in L1 and L2 for negTtl', async (missing) => {
    const { cache, clock, store } = cacheWithClock<string>({ negTtl: 1_000 })
    const { loader, calls } = countingLoader(() => missing as unknown as string)
    expect(await cache.get('k', loader)).toBeUndefined()
    expect(await cache.get('k', loader)).toBeUndefined()
    expect(calls).toHaveLength(1)
    const record = await store.get('test', 'k')
    expect(record).toBeDefined()
    expect(record!.data).toBeUndefined()
    expect(record!.freshMs).toBe(1_000)
    const other = new TierCache<string>({ name: 'test', store, clock })
    expect(await other.getWithInfo('k', loader)).toEqual({ value: undefined, hitLevel: 2, stale: false })
    clock.advance(1_001)
    expect(await cache.get('k', loader)).toBeUndefined()
    expect(calls).toHaveLength(2)
  })
})

describe('5. stale window (stale-while-revalidate)', () => {
  it('serves the first caller after expiry the stale value at once, with exactly one background refresh', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 5_000 })
    let version = 0
    const { loader, calls } = countingLoader(() => `v${++version}`, 50)
    expect(await cache.get('k', loader)).toBe('v1')
    clock.advance(1_500)
    const started = performance.now()
    const first = await cache.getWithInfo('k', loader)
    expect(performance.now() - started).toBeLessThan(20) // not the loader's 50 ms
    expect(first).toEqual({ value: 'v1', hitLevel: 4, stale: true, reason: 'refreshing' })
    // while the refresh runs, everyone gets the stale value and no second load starts
    const during = await Promise.all(Array.from({ length: 100 }, () => cache.getWithInfo('k', loader)))
    expect(during.every((i) => i.value === 'v1' && i.stale)).toBe(true)
    await until(() => cache.peek('k')?.value === 'v2')
    expect(calls).toHaveLength(2)
    expect(await cache.getWithInfo('k', loader)).toEqual({ value: 'v2', hitLevel: 1, stale: false })
  })

  it('a stale value found in the store is served at once too (first caller of another node)', async () => {
    const { cache: a, clock, store } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 5_000 })
    const b = new TierCache<string>({ name: 'test', store, clock, ttl: 1_000, staleTtl: 5_000 })
    await a.get('k', async () => 'old')
    clock.advance(2_000)
    const { loader, calls } = countingLoader(() => 'new', 30)
    expect(await b.getWithInfo('k', loader)).toEqual({ value: 'old', hitLevel: 4, stale: true, reason: 'refreshing' })
    await until(() => b.peek('k')?.value === 'new')
    expect(calls).toHaveLength(1)
  })

  it('two nodes with a stale key: exactly one refresh between them; the other picks up its result', async () => {
    const { cache: a, clock, store } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 5_000 })
    const b = new TierCache<string>({ name: 'test', store, clock, ttl: 1_000, staleTtl: 5_000 })
    await a.get('k', async () => 'old')
    await b.get('k', async () => 'never')
    clock.advance(2_000)
    const { loader, calls } = countingLoader(() => 'new', 50)
    const served = await Promise.all([a.get('k', loader), b.get('k', loader), a.get('k', loader), b.get('k', loader)])
    expect(served).toEqual(['old', 'old', 'old', 'old'])
    await until(() => a.peek('k')?.value === 'new' && b.peek('k')?.value === 'new')
    expect(calls).toHaveLength(1)
  })

  it('a failed refresh keeps the stale value until the window ends and emits error', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 5_000, refreshRetryDelay: 1_000 })
    const { loader, calls, fail } = countingLoader(() => 'v', 5)
    await cache.get('k', loader)
    fail()
    const errors: unknown[] = []
    cache.on('error', (e) => errors.push(e))
    clock.advance(2_000)
    expect(await cache.get('k', loader)).toBe('v')
    await until(() => errors.length === 1)
    expect(errors[0]).toBeInstanceOf(LoaderError)
    // inside the retry delay: stale served, no new attempt
    expect(await cache.get('k', loader)).toBe('v')
    await tick()
    expect(calls).toHaveLength(2)
    // after the retry delay: one more attempt, still stale
    clock.advance(1_000)
    expect(await cache.get('k', loader)).toBe('v')
    await until(() => calls.length === 3)
    // past the window: the error reaches the caller
    clock.advance(5_000)
    await expect(cache.get('k', loader)).rejects.toBeInstanceOf(LoaderError)
  })
})

describe('6. resurrect and loader timeouts', () => {
  it('mlcache mode (staleTtl 0): callers wait for the load; a failure resurrects the old value for resurrectTtl', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 0, resurrectTtl: 2_000 })
    const { loader, calls, fail, recover } = countingLoader((_, n) => `v${n}`, 5)
    expect(await cache.get('k', loader)).toBe('v1')
    clock.advance(1_000)
    expect(await cache.getWithInfo('k', loader)).toEqual({ value: 'v2', hitLevel: 3, stale: false })
    clock.advance(1_000)
    fail()
    expect(await cache.getWithInfo('k', loader)).toEqual({
      value: 'v2',
      hitLevel: 4,
      stale: true,
      reason: 'resurrected',
    })
    expect(calls).toHaveLength(3)
    // resurrected: served as fresh with hitLevel 4, no loader calls meanwhile
    clock.advance(1_999)
    expect(await cache.getWithInfo('k', loader)).toEqual({
      value: 'v2',
      hitLevel: 4,
      stale: true,
      reason: 'resurrected',
    })
    expect(calls).toHaveLength(3)
    clock.advance(2)
    recover()
    expect(await cache.getWithInfo('k', loader)).toEqual({ value: 'v4', hitLevel: 3, stale: false })
  })

  it('without resurrectTtl or a stale window a failed load rejects, even with an expired value held', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000 })
    const { loader, fail } = countingLoader(() => 'v')
    await cache.get('k', loader)
    clock.advance(1_000)
    fail()
    await expect(cache.get('k', loader)).rejects.toBeInstanceOf(LoaderError)
  })

  it('hard timeout rejects with a TimeoutError and aborts the loader signal', async () => {
    const cache = new TierCache<string>({ name: 'hard', hardTimeout: 50 })
    let signal: AbortSignal | undefined
    const started = Date.now()
    const result = cache.get('k', (_key, ctx) => {
      signal = ctx.signal
      return new Promise<string>(() => {})
    })
    await expect(result).rejects.toBeInstanceOf(TimeoutError)
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(signal?.aborted).toBe(true)
  })

  it('soft timeout serves the held value while the load goes on, and the load still lands', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, resurrectTtl: 10_000, softTimeout: 30 })
    await cache.get('k', async () => 'old')
    clock.advance(1_500)
    const slow = countingLoader(() => 'new', 150)
    const started = Date.now()
    expect(await cache.getWithInfo('k', slow.loader)).toEqual({
      value: 'old',
      hitLevel: 4,
      stale: true,
      reason: 'soft-timeout',
    })
    expect(Date.now() - started).toBeLessThan(140)
    await until(() => cache.peek('k')?.value === 'new')
    expect(slow.calls).toHaveLength(1)
  })
})

describe('7. bad input and failing stores', () => {
  const cache = new TierCache<string>({ name: 'bad' })
  it.each([
    ['', /key/],
    [42, /key/],
    [undefined, /key/],
  ])('rejects key %j with a TypeError naming the argument', async (key, pattern) => {
    await expect(cache.get(key as string, async () => 'v')).rejects.toThrow(TypeError)
    await expect(cache.get(key as string, async () => 'v')).rejects.toThrow(pattern)
  })

  it.each([
    [{ ttl: -1 }, /options\.ttl/],
    [{ ttl: Number.NaN }, /options\.ttl/],
    [{ negTtl: -5 }, /options\.negTtl/],
    [{ staleTtl: Infinity }, /options\.staleTtl/],
  ])('rejects per-call options %j with a TypeError', async (options, pattern) => {
    await expect(cache.get('k', options, async () => 'v')).rejects.toThrow(pattern)
  })

  it('rejects a loader that is not a function', async () => {
    await expect(cache.get('k', {}, 'nope' as never)).rejects.toThrow(/loader must be a function/)
    await cache.set('hot', 'v')
    await expect(cache.get('hot', {}, 42 as never)).rejects.toThrow(TypeError)
  })

  it('rejects bad constructor options', () => {
    expect(() => new TierCache({ ttl: -1 })).toThrow(/options\.ttl/)
    expect(() => new TierCache({ name: '' })).toThrow(/options\.name/)
    expect(() => new TierCache({ lruSize: 1.5 })).toThrow(/options\.lruSize/)
    expect(() => new TierCache({ lruMaxBytes: 100 })).toThrow(/options\.sizeOf/)
  })

  it('rejects a loader ttl override that is not a duration', async () => {
    await expect(
      cache.get('override', (_k, ctx) => {
        ctx.ttl = -3
        return 'v'
      }),
    ).rejects.toThrow(/ctx\.ttl/)
  })

  it.each(['throw', 'stall'] as const)(
    'a store that fails (%s) degrades to the loader and emits error',
    async (mode) => {
      const store = new ChaosStore(new MemoryStore())
      const c = new TierCache<string>({ name: 'chaos', store, storeTimeout: 50 })
      const errors: unknown[] = []
      c.on('error', (e) => errors.push(e))
      store.mode = mode
      const { loader, calls } = countingLoader(() => 'v')
      const started = Date.now()
      expect(await c.get('k', loader)).toBe('v')
      expect(Date.now() - started).toBeLessThan(1_000)
      expect(calls).toHaveLength(1)
      expect(errors.length).toBeGreaterThan(0)
      expect(errors.every((e) => e instanceof StoreError)).toBe(true)
      // L1 still serves it; set/delete/purge do not throw either
      expect(await c.get('k', loader)).toBe('v')
      await c.set('k2', 'x')
      await c.delete('k2')
      await c.purge()
      expect(c.stats().storeErrors).toBeGreaterThan(0)
    },
  )

  it('a store that bounds its own calls (boundsCalls) gets no second timer from the cache', async () => {
    const inner = new MemoryStore()
    await new TierCache<string>({ name: 'bounded', store: inner }).set('k', 'stored')
    const slow = Object.assign(Object.create(inner) as MemoryStore, {
      boundsCalls: true,
      get: async (ns: string, key: string) => {
        await new Promise((resolve) => setTimeout(resolve, 80))
        return inner.get(ns, key)
      },
    })
    const c = new TierCache<string>({ name: 'bounded', store: slow, storeTimeout: 10 })
    const errors: unknown[] = []
    c.on('error', (e) => errors.push(e))
    expect(await c.get('k', async () => 'loaded')).toBe('stored')
    expect(errors).toEqual([])
  })

  it('undecodable bytes in the store are a miss and a DecodeError event, not a throw', async () => {
    const store = new MemoryStore()
    await store.set('dec', 'k', { data: new TextEncoder().encode('{not json'), freshMs: 10_000, keepMs: 10_000 })
    const c = new TierCache<string>({ name: 'dec', store, codec: jsonCodec() })
    const errors: unknown[] = []
    c.on('error', (e) => errors.push(e))
    expect(await c.get('k', async () => 'loaded')).toBe('loaded')
    expect(errors[0]).toBeInstanceOf(DecodeError)
  })
})

describe('8. set, delete, purge', () => {
  it('reach L1 and L2', async () => {
    const { cache, store, clock } = cacheWithClock<string>()
    const other = new TierCache<string>({ name: 'test', store, clock })
    await cache.set('k', 'v', { ttl: 5_000 })
    expect(cache.peek('k')).toEqual({ value: 'v', ttlRemaining: 5_000, stale: false })
    expect(await other.getWithInfo('k')).toMatchObject({ value: 'v', hitLevel: 2 })
    await cache.delete('k')
    expect(cache.peek('k')).toBeUndefined()
    expect(await store.get('test', 'k')).toBeUndefined()
  })

  it('purge of one namespace leaves the others intact', async () => {
    const store = new MemoryStore()
    const users = new TierCache<string>({ name: 'users', store })
    const posts = new TierCache<string>({ name: 'posts', store })
    await users.set('1', 'alice')
    await posts.set('1', 'hello')
    await users.purge()
    expect(users.peek('1')).toBeUndefined()
    expect(await users.get('1')).toBeUndefined()
    expect(await posts.get('1')).toBe('hello')
    expect(await new TierCache<string>({ name: 'posts', store }).get('1')).toBe('hello')
  })

  it("two caches with different names never see each other's keys", async () => {
    const store = new MemoryStore()
    const a = new TierCache<string>({ name: 'a', store })
    const b = new TierCache<string>({ name: 'b', store })
    await a.set('k', 'from-a')
    expect(await b.get('k')).toBeUndefined()
  })

  it("a set during a load wins over the load's (older) result", async () => {
    const { cache, store } = cacheWithClock<string>()
    const slow = countingLoader(() => 'loaded', 50)
    const loading = cache.get('k', slow.loader)
    await until(() => slow.calls.length === 1)
    await cache.set('k', 'set')
    expect(await loading).toBe('loaded')
    expect(cache.peek('k')?.value).toBe('set')
    expect(new TextDecoder().decode((await store.get('test', 'k'))!.data!)).toContain('set')
  })
})

describe('9. codec and L1 values', () => {
  it('keeps Date, Map, Set and BigInt through the shared store', async () => {
    const store = new MemoryStore()
    const a = new TierCache<unknown>({ name: 'types', store })
    const b = new TierCache<unknown>({ name: 'types', store })
    const value = { at: new Date(1_700_000_000_000), m: new Map([['x', 1]]), s: new Set([1, 2]), big: 2n ** 70n }
    await a.set('k', value)
    const read = (await b.get('k')) as typeof value
    expect(read).not.toBe(value)
    expect(read.at).toBeInstanceOf(Date)
    expect(read.at.getTime()).toBe(value.at.getTime())
    expect(read.m).toBeInstanceOf(Map)
    expect(read.m.get('x')).toBe(1)
    expect(read.s).toBeInstanceOf(Set)
    expect(read.big).toBe(2n ** 70n)
  })

  it('L1 hands every caller the same object, decoded once', async () => {
    const store = new MemoryStore()
    const codec = jsonCodec()
    await new TierCache<object>({ name: 'ref', store, codec }).set('k', { a: 1 })
    const decode = vi.fn(codec.decode)
    const reader = new TierCache<object>({ name: 'ref', store, codec: { ...codec, decode } })
    const x = await reader.get('k')
    const y = await reader.get('k')
    expect(x).toEqual({ a: 1 })
    expect(x).toBe(y)
    expect(decode).toHaveBeenCalledTimes(1)
  })

  it('l1Serializer runs once per L1 fill, never on a hit', async () => {
    const store = new MemoryStore()
    await new TierCache<string>({ name: 'ser', store }).set('k', 'abc')
    const serializer = vi.fn((value: unknown) => Object.freeze({ upper: String(value).toUpperCase() }))
    const cache = new TierCache<{ upper: string }>({ name: 'ser', store, l1Serializer: serializer })
    expect(await cache.get('k')).toEqual({ upper: 'ABC' })
    expect(await cache.get('k')).toEqual({ upper: 'ABC' })
    expect(serializer).toHaveBeenCalledTimes(1)
    expect((await cache.get('n', async () => 'x' as never))?.upper).toBe('X')
  })
})

describe('store contract extras', () => {
  it("applies the writer's per-entry stale window on every reader", async () => {
    const { cache: a, clock, store } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 0 })
    const b = new TierCache<string>({ name: 'test', store, clock, ttl: 1_000, staleTtl: 0 })
    await a.get('k', (_key, ctx) => {
      ctx.staleTtl = 10_000
      return 'old'
    })
    clock.advance(5_000)
    expect(await b.getWithInfo('k', async () => 'new')).toMatchObject({ value: 'old', hitLevel: 4 })
  })

  it('re-emits errors the store absorbs itself, and stops on close', async () => {
    const { EventEmitter } = await import('eventemitter3')
    const emitter = new EventEmitter()
    const store = Object.assign(new MemoryStore(), {
      on: (e: string, fn: (...a: unknown[]) => void) => emitter.on(e, fn),
      off: (e: string, fn: (...a: unknown[]) => void) => emitter.off(e, fn),
    })
    const cache = new TierCache<string>({ name: 'fwd', store })
    const seen: unknown[] = []
    cache.on('error', (error, key) => seen.push([error.message, key]))
    emitter.emit('error', Object.assign(new DecodeError('k', new Error('bad bytes')), { key: 'k' }))
    emitter.emit('error', Object.assign(new DecodeError('k', new Error('not ours')), { namespace: 'other' }))
    emitter.emit('error', Object.assign(new DecodeError('j', new Error('ours')), { namespace: 'fwd' }))
    expect(seen).toEqual([
      [expect.stringContaining('bad bytes'), 'k'],
      [expect.stringContaining('ours'), 'j'],
    ])
    cache.close()
    expect(emitter.listenerCount('error')).toBe(0)
  })

  it('a lock wait longer than storeTimeout is not cut short by it', async () => {
    const store = new MemoryStore()
    const holder = new TierCache<string>({ name: 'x', store, storeTimeout: 50 })
    const waiter = new TierCache<string>({ name: 'x', store, storeTimeout: 50 })
    const errors: unknown[] = []
    waiter.on('error', (e) => errors.push(e))
    const slow = countingLoader(() => 'v', 300)
    const other = countingLoader(() => 'other')
    const first = holder.get('k', slow.loader)
    await until(() => slow.calls.length === 1)
    expect(await waiter.get('k', other.loader)).toBe('v')
    expect(other.calls).toHaveLength(0)
    expect(errors).toEqual([])
    await first
  })
})

describe('loader context', () => {
  it('lets the loader set the ttl of what it returns', async () => {
    const { cache, store } = cacheWithClock<string>({ ttl: 60_000 })
    await cache.get('k', (_key, ctx) => {
      ctx.ttl = 1_234
      return 'v'
    })
    expect(cache.peek('k')?.ttlRemaining).toBe(1_234)
    expect((await store.get('test', 'k'))?.freshMs).toBe(1_234)
  })

  it('gives a refresh the stale value it replaces', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 5_000 })
    await cache.get('k', async () => 'old')
    clock.advance(1_500)
    let seen: { staleValue: unknown; refreshing: boolean } | undefined
    await cache.get('k', async (_key, ctx) => {
      seen = { staleValue: ctx.staleValue, refreshing: ctx.refreshing }
      return 'new'
    })
    await until(() => seen !== undefined)
    expect(seen).toEqual({ staleValue: 'old', refreshing: true })
  })
})

describe('getMany', () => {
  it('one store round trip, one loader call, values in the order of the keys', async () => {
    const store = new ChaosStore(new MemoryStore())
    const cache = new TierCache<string>({ name: 'many', store })
    await cache.set('b', 'B')
    cache.peek('b') // in L1
    await new TierCache<string>({ name: 'many', store }).set('c', 'C') // only in the store
    const loader = vi.fn(async (keys: string[]) => keys.map((k) => (k === 'missing' ? undefined : k.toUpperCase())))
    const before = { get: store.count('get'), getMany: store.count('getMany') }
    const values = await cache.getMany(['a', 'b', 'c', 'd', 'a', 'missing'], loader)
    expect(values).toEqual(['A', 'B', 'C', 'D', 'A', undefined])
    expect(store.count('getMany')).toBe(before.getMany + 1)
    expect(store.count('get')).toBe(before.get)
    expect(loader).toHaveBeenCalledTimes(1)
    expect(loader.mock.calls[0]![0]).toEqual(['a', 'd', 'missing'])
    // all cached now, the miss too
    expect(await cache.getMany(['a', 'missing'], loader)).toEqual(['A', undefined])
    expect(loader).toHaveBeenCalledTimes(1)
  })

  it('concurrent single gets join the bulk load', async () => {
    const cache = new TierCache<string>({ name: 'many-join' })
    const loader = vi.fn(async (keys: string[]) => {
      await new Promise((r) => setTimeout(r, 30))
      return keys.map((k) => `${k}!`)
    })
    const single = countingLoader(() => 'single')
    const bulk = cache.getMany(['x', 'y'], loader)
    await tick()
    expect(await cache.get('x', single.loader)).toBe('x!')
    expect(await bulk).toEqual(['x!', 'y!'])
    expect(single.calls).toHaveLength(0)
  })

  it('a bulk loader of the wrong length is an error, not a silent wrong answer', async () => {
    const cache = new TierCache<string>({ name: 'many-bad' })
    await expect(cache.getMany(['a', 'b'], async () => ['only-one'])).rejects.toBeInstanceOf(LoaderError)
    await expect(cache.getMany('a' as never, async () => [])).rejects.toThrow(TypeError)
    await expect(cache.getMany(['a', ''], async () => [])).rejects.toThrow(/keys\[1\]/)
  })
})

describe('ipc hooks', () => {
  it('publishes set/delete/purge/refresh and applies incoming invalidations to L1', async () => {
    const published: unknown[] = []
    let handler: import('../src/index.js').InvalidationHandler | undefined
    const ipc = {
      publish: (e: unknown) => published.push(e),
      subscribe: (_ns: string, h: import('../src/index.js').InvalidationHandler) => {
        handler = h
        return () => {
          handler = undefined
        }
      },
    }
    const { cache, clock } = cacheWithClock<string>({ ipc, ttl: 1_000, staleTtl: 5_000 })
    await cache.set('a', '1')
    await cache.delete('a')
    await cache.purge()
    await cache.set('b', '2')
    clock.advance(1_500)
    await cache.get('b', async () => '3')
    await until(() => published.length === 5)
    expect(published).toEqual([
      { kind: 'set', namespace: 'test', keys: ['a'] },
      { kind: 'delete', namespace: 'test', keys: ['a'] },
      { kind: 'purge', namespace: 'test', keys: [] },
      { kind: 'set', namespace: 'test', keys: ['b'] },
      { kind: 'refresh', namespace: 'test', keys: ['b'] },
    ])
    await cache.set('c', 'x')
    handler!.invalidate(['c'])
    expect(cache.peek('c')).toBeUndefined()
    await cache.set('d', 'x')
    handler!.invalidateAll()
    expect(cache.peek('d')).toBeUndefined()
    // while the bus is down, L1 entries older than maxStaleness go back to the store
    await cache.set('e', 'x')
    handler!.disconnected(100)
    expect((await cache.getWithInfo('e')).hitLevel).toBe(1)
    clock.advance(100)
    expect((await cache.getWithInfo('e')).hitLevel).toBe(2)
    handler!.reconnected()
    expect(cache.stats().l1Size).toBe(0)
    cache.close()
    expect(handler).toBeUndefined()
  })
})

describe('events and stats', () => {
  it('emits hit, miss, load, stale and refresh', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 5_000 })
    const seen: string[] = []
    cache.on('hit', (key, level) => seen.push(`hit:${key}:${level}`))
    cache.on('miss', (key) => seen.push(`miss:${key}`))
    cache.on('load', (key) => seen.push(`load:${key}`))
    cache.on('stale', (key, reason) => seen.push(`stale:${key}:${reason}`))
    cache.on('refresh', (key) => seen.push(`refresh:${key}`))
    await cache.get('k', async () => 'v')
    await cache.get('k', async () => 'v')
    clock.advance(1_500)
    await cache.get('k', async () => 'v2')
    await until(() => seen.includes('load:k') && seen.filter((s) => s === 'load:k').length === 2)
    expect(seen).toEqual(['miss:k', 'load:k', 'hit:k:1', 'stale:k:refreshing', 'refresh:k', 'load:k'])
    const info: GetInfo<string> = await cache.getWithInfo('k')
    expect(info.value).toBe('v2')
    expect(cache.stats()).toMatchObject({ l1Hits: 2, misses: 1, loads: 2, staleServed: 1, refreshes: 1 })
  })
})
