import { describe, expect, it } from 'vitest'
import { LoaderError, MemoryStore, TierCache, TierCacheError, TimeoutError } from '../src/index.js'
import { cacheWithClock, countingLoader, until } from './fixtures.js'

describe('single flight in process', () => {
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

describe('single flight across caches sharing a store with a lock', () => {
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

describe('negative caching', () => {
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

describe('resurrect and the hard timeout', () => {
  it('mlcache mode (staleTtl 0): callers wait for the load; a failure resurrects the old value for resurrectTtl', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, staleTtl: 0, resurrectTtl: 2_000 })
    const { loader, calls, fail, recover } = countingLoader((_, n) => `v${n}`, 5)
    const resurrected = { value: 'v2', hitLevel: 4, stale: true, reason: 'resurrected' }
    expect(await cache.get('k', loader)).toBe('v1')
    clock.advance(1_000)
    expect(await cache.getWithInfo('k', loader)).toEqual({ value: 'v2', hitLevel: 3, stale: false })
    clock.advance(1_000)
    fail()
    expect(await cache.getWithInfo('k', loader)).toEqual(resurrected)
    expect(calls).toHaveLength(3)
    // resurrected: served as fresh with hitLevel 4, no loader calls meanwhile
    clock.advance(1_999)
    expect(await cache.getWithInfo('k', loader)).toEqual(resurrected)
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
})

describe('lock wait and storeTimeout', () => {
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
