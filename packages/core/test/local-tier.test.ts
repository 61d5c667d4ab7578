import { describe, expect, it, vi } from 'vitest'
import type { Entry } from '../src/entry.js'
import { TierCache } from '../src/index.js'
import { cacheWithClock, countingLoader } from './fixtures.js'

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

describe('L1 runs on a monotonic clock', () => {
  it('a backward step of the wall clock does not extend L1 entries', async () => {
    // The default (system) clock; the wall clock is stepped back by a minute once the value is cached.
    const cache = new TierCache<string>({ name: 'wall-step', ttl: 40 })
    await cache.set('k', 'v')
    const wall = Date.now()
    const stepped = vi.spyOn(Date, 'now').mockImplementation(() => wall - 60_000)
    try {
      await new Promise((resolve) => setTimeout(resolve, 80))
      expect(cache.peek('k')).toBeUndefined() // expired after its 40 ms, whatever the wall clock says
      expect((await cache.getWithInfo('k', async () => 'reloaded')).value).toBe('reloaded')
    } finally {
      stepped.mockRestore()
    }
  })
})

describe('LocalTier as its own LRU (issue 15: one slot per entry instead of an lru-cache entry, a promise and an entry object)', () => {
  const entry = (value: number | undefined, more: Partial<Entry<number>> = {}): Entry<number> => ({
    value,
    staleAt: 2_000,
    staleUntil: 3_000,
    expiresAt: 4_000,
    cachedAt: 1_000,
    resurrected: false,
    refreshAt: Number.POSITIVE_INFINITY,
    meta: undefined,
    tags: undefined,
    ...more,
  })

  it('evicts the least recently used: a hit makes an entry recent, a slow-path read does not', async () => {
    const { LocalTier } = await import('../src/local-tier.js')
    const tier = new LocalTier<number>({}, { now: () => 1_000 }, 3)
    for (const k of ['a', 'b', 'c']) tier.set(k, entry(1))
    tier.hit('a') // a is now the most recent
    tier.get('b') // the slow path's look does not count as a use
    tier.set('d', entry(4))
    expect(['a', 'b', 'c', 'd'].map((k) => tier.get(k) !== undefined)).toEqual([true, false, true, true])
    tier.delete('c')
    tier.set('e', entry(5)) // reuses the freed slot, evicts nothing
    expect(['a', 'd', 'e'].map((k) => tier.get(k)?.value)).toEqual([1, 4, 5])
    expect(tier.size).toBe(3)
  })

  it('keeps the byte bound, evicting the oldest, and refuses a value larger than the bound', async () => {
    const { LocalTier } = await import('../src/local-tier.js')
    const tier = new LocalTier<number>({ lruMaxBytes: 10, sizeOf: (v) => v }, { now: () => 1_000 }, undefined)
    tier.set('a', entry(4))
    tier.set('b', entry(4))
    tier.set('c', entry(4)) // 12 > 10: a goes
    expect(['a', 'b', 'c'].map((k) => tier.get(k) !== undefined)).toEqual([false, true, true])
    tier.set('b', entry(11)) // larger than the whole bound: not kept, nor its older copy
    expect(tier.get('b')).toBeUndefined()
    expect(tier.get('c')?.value).toBe(4)
    for (let i = 0; i < 100; i++) tier.set(`k${i}`, entry(1))
    expect(tier.size).toBe(10)
  })

  it('serves on the hot path only a plain entry before its stale and refresh-ahead instants; the slow path gets every field back', async () => {
    const { LocalTier } = await import('../src/local-tier.js')
    let now = 1_000
    const tier = new LocalTier<number>({}, { now: () => now }, 10)
    const tags = { tags: ['t'], at: 3 }
    tier.set('plain', entry(1, { meta: { etag: 'x' } }))
    tier.set('ahead', entry(2, { refreshAt: 1_500 }))
    tier.set('resurrected', entry(3, { resurrected: true }))
    tier.set('tagged', entry(4, { tags }))
    expect(await tier.hit('plain')).toBe(1)
    expect(tier.hit('plain')).toBe(tier.hit('plain')) // the same settled promise: a hit allocates nothing
    expect(await tier.hit('ahead')).toBe(2)
    expect(tier.hit('resurrected')).toBeUndefined()
    expect(tier.hit('tagged')).toBeUndefined()
    now = 1_500
    expect(tier.hit('ahead')).toBeUndefined()
    expect(tier.freshValue('plain')).toBe(1)
    now = 2_000
    expect(tier.hit('plain')).toBeUndefined()
    expect(tier.get('plain')).toEqual(entry(1, { meta: { etag: 'x' } }))
    expect(tier.get('ahead')).toEqual(entry(2, { refreshAt: 1_500 }))
    expect(tier.get('resurrected')).toEqual(entry(3, { resurrected: true }))
    expect(tier.get('tagged')).toEqual(entry(4, { tags }))
    tier.set('plain', entry(9))
    now = 1_000
    expect(await tier.hit('plain')).toBe(9) // a new value, a new settled promise
  })
})
