import { describe, expect, it } from 'vitest'
import { MemoryStore, TierCache } from '../src/index.js'
import { cacheWithClock, ManualClock } from './fixtures.js'

/** A random source that returns the given numbers in turn. */
const sequence = (...values: number[]) => {
  let i = 0
  return () => values[i++ % values.length]!
}

describe('ttlJitter', () => {
  it('spreads a loaded TTL by up to ±10 %: in L1 and in the store alike', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ clock })
    const cache = new TierCache<string>({
      name: 'jitter',
      store,
      clock,
      ttl: 10_000,
      ttlJitter: 0.1,
      random: sequence(0, 0.5, 0.999_999),
    })
    await cache.get('low', () => 'v')
    await cache.get('mid', () => 'v')
    await cache.get('high', () => 'v')
    expect(cache.peek('low')?.ttlRemaining).toBe(9_000)
    expect(cache.peek('mid')?.ttlRemaining).toBe(10_000)
    expect(cache.peek('high')?.ttlRemaining).toBeCloseTo(11_000, 0)
    expect((await store.get('jitter', 'low'))?.freshMs).toBe(9_000)
    expect((await store.get('jitter', 'high'))?.freshMs).toBeCloseTo(11_000, 0)
  })

  it('changes when a value goes stale: a shortened one reloads before the TTL, a lengthened one after', async () => {
    const { cache, clock } = cacheWithClock<string>({ ttl: 10_000, ttlJitter: 0.2, random: sequence(0, 0.999_999) })
    let calls = 0
    const load = () => `v${++calls}`
    await cache.get('short', load)
    await cache.get('long', load)
    clock.advance(8_000)
    expect(await cache.get('short', load)).toBe('v3')
    clock.advance(3_999)
    expect(await cache.get('long', load)).toBe('v2')
  })

  it('keeps the stale window after the jittered TTL, and jitters set() too', async () => {
    const { cache } = cacheWithClock<string>({ ttl: 10_000, staleTtl: 5_000, ttlJitter: 0.5, random: () => 0 })
    await cache.set('k', 'v')
    expect(cache.peek('k')?.ttlRemaining).toBe(5_000)
    const { cache: plain } = cacheWithClock<string>({ ttl: 10_000, random: () => 0 })
    await plain.set('k', 'v')
    expect(plain.peek('k')?.ttlRemaining).toBe(10_000)
  })

  it('stays in bounds for any random value, and leaves ttl: 0 (never stale) alone', async () => {
    const { cache } = cacheWithClock<number>({ ttl: 60_000, ttlJitter: 0.1 })
    const seen = new Set<number>()
    for (let i = 0; i < 200; i++) {
      await cache.get(`k${i}`, () => i)
      const ttl = cache.peek(`k${i}`)!.ttlRemaining
      expect(ttl).toBeGreaterThanOrEqual(54_000)
      expect(ttl).toBeLessThanOrEqual(66_000)
      seen.add(Math.round(ttl / 1_000))
    }
    expect(seen.size).toBeGreaterThan(5)
    const { cache: forever } = cacheWithClock<string>({ ttl: 0, ttlJitter: 0.1 })
    await forever.get('k', () => 'v')
    expect(forever.peek('k')?.ttlRemaining).toBe(Infinity)
  })

  it.each([-0.1, 1, 1.5, Number.NaN, Infinity, '0.1'])('rejects ttlJitter %s naming it', (bad) => {
    expect(() => new TierCache({ ttlJitter: bad as number })).toThrow(
      /options\.ttlJitter must be a number >= 0 and < 1/,
    )
  })
})
