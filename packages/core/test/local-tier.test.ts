import { describe, expect, it, vi } from 'vitest'
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
