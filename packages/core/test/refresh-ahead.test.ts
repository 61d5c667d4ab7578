import { describe, expect, it } from 'vitest'
import { MemoryStore, TierCache } from '../src/index.js'
import { cacheWithClock, countingLoader, ManualClock, tick, until } from './fixtures.js'

describe('refreshAhead', () => {
  it('a read past 80 % of the TTL answers at once and refreshes in the background; before it, nothing', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, refreshAhead: 0.8 })
    const { loader, calls } = countingLoader((_key, n) => `v${n}`)
    expect(await cache.get('k', loader)).toBe('v1')
    clock.advance(799)
    expect(await cache.getWithInfo('k', loader)).toEqual({ value: 'v1', hitLevel: 1, stale: false })
    await tick()
    expect(calls).toHaveLength(1)
    clock.advance(1)
    expect(await cache.getWithInfo('k', loader)).toEqual({ value: 'v1', hitLevel: 1, stale: false })
    await until(() => cache.peek('k')?.value === 'v2')
    expect(calls).toHaveLength(2)
    // The refreshed value lives a full TTL from its refresh.
    expect(cache.peek('k')?.ttlRemaining).toBe(1_000)
    expect(cache.stats().refreshes).toBe(1)
  })

  it('a key read steadily never expires: one loader call per ~80 % of the TTL, never a caller waiting', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, refreshAhead: 0.8 })
    const { loader, calls } = countingLoader((_key, n) => `v${n}`)
    const levels: number[] = []
    for (let t = 0; t < 10_000; t += 50) {
      levels.push((await cache.getWithInfo('k', loader)).hitLevel)
      await tick()
      clock.advance(50)
    }
    expect(levels.filter((level) => level !== 1)).toEqual([3]) // the first read loaded; every other one hit L1
    expect(calls.length).toBeGreaterThanOrEqual(11)
    expect(calls.length).toBeLessThanOrEqual(13)
  })

  it('without refreshAhead the same reads wait for a load once per TTL', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000 })
    const { loader } = countingLoader((_key, n) => `v${n}`)
    const levels: number[] = []
    for (let t = 0; t < 10_000; t += 50) {
      levels.push((await cache.getWithInfo('k', loader)).hitLevel)
      clock.advance(50)
    }
    expect(levels.filter((level) => level === 3).length).toBe(10)
  })

  it('two caches on one store (one lock): one refresh for both, the other takes its value from the store', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const a = new TierCache<string>({ name: 'ahead', store, clock, ttl: 1_000, refreshAhead: 0.5 })
    const b = new TierCache<string>({ name: 'ahead', store, clock, ttl: 1_000, refreshAhead: 0.5 })
    const { loader, calls } = countingLoader((_key, n) => `v${n}`, 20)
    await a.get('k', loader)
    expect(await b.get('k', loader)).toBe('v1')
    clock.advance(600)
    expect(await Promise.all([a.get('k', loader), b.get('k', loader)])).toEqual(['v1', 'v1'])
    await until(() => a.peek('k')?.value === 'v2' && b.peek('k')?.value === 'v2')
    expect(calls).toHaveLength(2)
  })

  it('a failed refresh ahead leaves the fresh value as it is (not resurrected) and backs off', async () => {
    const { cache, clock } = cacheWithClock<string>({
      ttl: 1_000,
      resurrectTtl: 5_000,
      refreshAhead: 0.5,
      refreshBackoff: { initial: 200, factor: 1, jitter: 0 },
    })
    const { loader, calls, fail } = countingLoader(() => 'v')
    cache.on('error', () => {})
    await cache.get('k', loader)
    fail()
    clock.advance(500)
    expect(await cache.getWithInfo('k', loader)).toEqual({ value: 'v', hitLevel: 1, stale: false })
    await until(() => calls.length === 2)
    await tick()
    expect(cache.peek('k')).toMatchObject({ ttlRemaining: 500, stale: false })
    clock.advance(100)
    await cache.get('k', loader)
    await tick()
    expect(calls).toHaveLength(2) // backing off
    clock.advance(100)
    await cache.get('k', loader)
    await until(() => calls.length === 3)
  })

  it('getMany refreshes ahead too: a key read from L1 past 80 % of its TTL is served at once and reloaded alone in the background', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, refreshAhead: 0.8 })
    const batches: string[][] = []
    const loader = async (keys: readonly string[]) => {
      batches.push([...keys])
      return keys.map((key) => `${key}${batches.length}`)
    }
    expect(await cache.getMany(['a', 'b'], loader)).toEqual(['a1', 'b1'])
    clock.advance(799)
    expect(await cache.getMany(['a', 'b'], loader)).toEqual(['a1', 'b1'])
    await tick()
    expect(batches).toEqual([['a', 'b']])
    clock.advance(1)
    // Due now: answered from L1 without waiting, each due key refreshed once.
    expect(await cache.getMany(['a', 'b', 'a'], loader)).toEqual(['a1', 'b1', 'a1'])
    await until(() => cache.peek('a')?.value === 'a2' || cache.peek('a')?.value === 'a3')
    await until(() => batches.length === 3)
    expect(batches.slice(1).sort()).toEqual([['a'], ['b']])
    expect(cache.peek('a')).toMatchObject({ ttlRemaining: 1_000, stale: false })
    expect(cache.peek('b')).toMatchObject({ ttlRemaining: 1_000, stale: false })
    expect(cache.stats().refreshes).toBe(2)
  })

  it('getMany refreshes ahead a key it read fresh from the store past its refresh-ahead point', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const writer = new TierCache<string>({ name: 'ahead-many', store, clock, ttl: 1_000 })
    const reader = new TierCache<string>({ name: 'ahead-many', store, clock, ttl: 1_000, refreshAhead: 0.5 })
    await writer.set('k', 'old')
    clock.advance(600)
    const batches: string[][] = []
    const loader = async (keys: readonly string[]) => {
      batches.push([...keys])
      return keys.map(() => 'new')
    }
    // Not in the reader's L1: one store read answers it, and being past half its TTL it is refreshed.
    expect(await reader.getMany(['k'], loader)).toEqual(['old'])
    await until(() => batches.length === 1)
    await until(() => reader.peek('k')?.value === 'new')
    expect((await store.read('ahead-many', 'k')).record?.freshMs).toBe(1_000)
  })

  it('getMany without refreshAhead serves the same reads without any background load', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000 })
    let calls = 0
    const loader = async (keys: readonly string[]) => {
      calls++
      return keys.map((key) => key)
    }
    await cache.getMany(['a', 'b'], loader)
    clock.advance(900)
    await cache.getMany(['a', 'b'], loader)
    await tick()
    expect(calls).toBe(1)
  })

  it('does not refresh cached misses ahead', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 1_000, negTtl: 1_000, refreshAhead: 0.5 })
    const { loader, calls } = countingLoader(() => undefined as unknown as string)
    await cache.get('k', loader)
    clock.advance(900)
    await cache.get('k', loader)
    await tick()
    expect(calls).toHaveLength(1)
  })

  it.each([-0.1, 1, Number.NaN, '0.8'])('rejects refreshAhead %s naming it', (bad) => {
    expect(() => new TierCache({ refreshAhead: bad as number })).toThrow(
      /options\.refreshAhead must be a number >= 0 and < 1/,
    )
  })
})
